import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';
import { seesSite } from '../../auth/roles.js';
import type { AuditLog } from '../../store/audit-log.js';
import type { GatewayCredentials } from '../../store/gateway-credentials.js';
import { actorOf, principalOf, type SiteOfRoute } from '../access.js';
import { errors } from '../errors.js';
import { ErrorBody } from '../schemas.js';

export interface GatewayRouteDeps {
  gateways: GatewayCredentials;
  audit: AuditLog;
  /** The broker URL an enrolled gateway is told to connect to. */
  mqttUrl: string;
  /** After a gateway's credentials were issued or revoked: disconnect it, rewrite broker files. */
  credentialsChanged(site: string, gateway: string): Promise<void>;
  /** Enrolment exchanges per client address per minute. */
  enrolPerMinute: number;
}

/** Routes under /sites/:id/… belong to the site in their `id`. */
export const SITE_PARAM: SiteOfRoute = {
  describe: 'params.id is the site',
  of: (params) => params.id,
  notFound: (params) => errors.siteNotFound(params.id ?? ''),
};

const GatewayBody = z.object({
  site: z.string(),
  gateway: z.string(),
  state: z.string(),
  credentials: z.enum(['none', 'active', 'revoked']),
  username: z.string().nullable(),
  issued_at: z.number().nullable(),
  revoked_at: z.number().nullable(),
});
const EnrolmentBody = z.object({
  site: z.string(),
  gateway: z.string(),
  enrolment_token: z.string().describe('one-time: give it to `gatehouse-edge enroll --hub URL --token T`'),
  expires_at: z.number(),
});
const GatewayParams = z.object({ id: Identifier, gateway: Identifier });

export const gatewayRoutes =
  (deps: GatewayRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const issue = async (site: string, gateway: string, by: string) => {
      const { token, expiresAt } = await deps.gateways.issueEnrolmentToken(site, gateway, by);
      return { site, gateway, enrolment_token: token, expires_at: expiresAt };
    };

    app.get(
      '/gateways',
      {
        config: { access: { roles: ['admin', 'installer', 'engineer'], scope: 'gateways:read', site: 'listed' } },
        schema: { summary: 'Gateways of the sites the caller sees, with their credential state', tags: ['gateways'], response: { 200: z.object({ gateways: z.array(GatewayBody) }) } },
      },
      async (request) => {
        const principal = principalOf(request);
        return { gateways: (await deps.gateways.listGateways()).filter((gateway) => seesSite(principal, gateway.site)) };
      },
    );

    app.post(
      '/sites/:id/gateways',
      {
        config: { access: { roles: ['admin', 'installer'], scope: 'gateways:write', site: SITE_PARAM } },
        schema: {
          summary: 'Create a gateway on a site and get its one-time enrolment token (valid 24 h)',
          tags: ['gateways'],
          params: z.object({ id: Identifier }),
          body: z.object({ gateway: Identifier }),
          response: { 201: EnrolmentBody },
        },
      },
      async (request, reply) => {
        const site = request.params.id;
        const { gateway } = request.body;
        const created = await deps.gateways.createGateway(site, gateway);
        const answer = await issue(site, gateway, principalOf(request).name);
        request.audited = true;
        await deps.audit.record({
          ...actorOf(request),
          action: created ? 'gateway.create' : 'gateway.enrolment_token',
          target: `${site}.${gateway}`,
          site,
          outcome: 'ok',
          after: { expires_at: answer.expires_at },
        });
        return reply.status(201).send(answer);
      },
    );

    app.post(
      '/sites/:id/gateways/:gateway/enrolment-token',
      {
        config: { access: { roles: ['admin', 'installer'], scope: 'gateways:write', site: SITE_PARAM } },
        schema: {
          summary: "A new one-time enrolment token for an existing gateway; enrolling with it rotates the gateway's credentials",
          tags: ['gateways'],
          params: GatewayParams,
          response: { 201: EnrolmentBody, 404: ErrorBody },
        },
      },
      async (request, reply) => {
        const { id: site, gateway } = request.params;
        if (!(await deps.gateways.getGateway(site, gateway))) throw errors.gatewayNotFound(`${site}.${gateway}`);
        const answer = await issue(site, gateway, principalOf(request).name);
        request.audited = true;
        await deps.audit.record({ ...actorOf(request), action: 'gateway.enrolment_token', target: `${site}.${gateway}`, site, outcome: 'ok', after: { expires_at: answer.expires_at } });
        return reply.status(201).send(answer);
      },
    );

    app.post(
      '/sites/:id/gateways/:gateway/revoke',
      {
        config: { access: { roles: ['admin'], scope: 'gateways:write', site: SITE_PARAM } },
        schema: {
          summary: "Revoke a gateway's credentials and unused enrolment tokens; it is disconnected and cannot reconnect",
          tags: ['gateways'],
          params: GatewayParams,
          response: { 200: GatewayBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { id: site, gateway } = request.params;
        const before = await deps.gateways.getGateway(site, gateway);
        if (!before) throw errors.gatewayNotFound(`${site}.${gateway}`);
        await deps.gateways.revoke(site, gateway);
        await deps.credentialsChanged(site, gateway);
        const after = (await deps.gateways.getGateway(site, gateway))!;
        request.audited = true;
        await deps.audit.record({ ...actorOf(request), action: 'gateway.revoke', target: `${site}.${gateway}`, site, outcome: 'ok', before, after });
        return after;
      },
    );

    app.post(
      '/enroll',
      {
        config: { access: { roles: 'public' }, rateLimit: { max: deps.enrolPerMinute, timeWindow: '1 minute' } },
        schema: {
          summary: 'A gateway exchanges its one-time enrolment token for its own MQTT credentials',
          tags: ['gateways'],
          body: z.object({ token: z.string().min(1).max(256) }),
          response: {
            200: z.object({
              site: z.string(),
              gateway: z.string(),
              mqtt: z.object({ url: z.string(), username: z.string(), password: z.string() }),
            }),
            401: ErrorBody,
          },
        },
      },
      async (request) => {
        const result = await deps.gateways.redeem(request.body.token);
        request.audited = true;
        if (!result.ok) {
          const target = result.site ? `${result.site}.${result.gateway}` : null;
          await deps.audit.record({ actor: null, actorKind: 'anonymous', ip: request.ip, action: 'gateway.enrol', target, site: result.site ?? null, outcome: 'refused', after: { reason: result.reason } });
          throw errors.enrolmentRefused();
        }
        const { site, gateway, username, password } = result.credentials;
        await deps.credentialsChanged(site, gateway);
        await deps.audit.record({
          actor: `gateway:${site}.${gateway}`,
          actorKind: 'gateway',
          ip: request.ip,
          action: result.replaced ? 'gateway.credentials_rotated' : 'gateway.enrol',
          target: `${site}.${gateway}`,
          site,
          outcome: 'ok',
          after: { username },
        });
        return { site, gateway, mqtt: { url: deps.mqttUrl, username, password } };
      },
    );
  };
