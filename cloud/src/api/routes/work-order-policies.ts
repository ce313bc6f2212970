import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Identifier, Severity } from '@gatehouse/protocols';
import { ALL_SITES, seesSite } from '../../auth/roles.js';
import type { WorkOrderBook } from '../../work-orders/work-order-book.js';
import { principalOf, type RouteAccess, type SiteOfRoute } from '../access.js';
import { ApiError } from '../errors.js';
import { ErrorBody } from '../schemas.js';

const ANY = '*';
const SiteOrAny = z.union([z.literal(ANY), Identifier]).describe(`a site, or ${ANY} for every site`);
const RuleOrAny = z.union([z.literal(ANY), Identifier]).describe(`an alarm rule id, or ${ANY} for every rule`);
const Params = z.object({ site: SiteOrAny, rule: RuleOrAny });

const PolicyBody = z.object({
  site: z.string(),
  rule: z.string(),
  min_severity: Severity.describe('alarms of this severity or worse open a work order'),
  resolve_on_clear: z.boolean().describe("an alarm that clears resolves its order (else it is noted on the order's timeline)"),
});

const policyNotFound = (site: string, rule: string) => new ApiError(404, 'policy_not_found', `no work-order policy for site "${site}" and rule "${rule}"`);

/**
 * Which alarms open work orders, as data: rows by site and rule, the most specific deciding
 * (site and rule, then rule, then site, then the catch-all `*`/`*`). A row for every site (`*`)
 * is for those who see every site.
 */
export const workOrderPolicyRoutes =
  (deps: { orders: WorkOrderBook }): FastifyPluginAsyncZod =>
  async (app) => {
    const POLICY_SITE: SiteOfRoute = {
      describe: `params.site is the site (${ANY}: every site)`,
      of: (params) => (params.site === ANY ? ALL_SITES : params.site),
      notFound: (params) => policyNotFound(params.site ?? '', params.rule ?? ''),
    };
    const WRITE: RouteAccess = { roles: ['admin', 'engineer'], scope: 'work-orders:write', site: POLICY_SITE };

    app.get(
      '/work-order-policies',
      {
        config: { access: { roles: ['admin', 'engineer', 'technician', 'viewer'], scope: 'work-orders:read', site: 'listed' } },
        schema: {
          summary: 'The policy rows that decide which alarms open work orders: those for every site and for the sites the caller sees',
          tags: ['work orders'],
          response: { 200: z.object({ policies: z.array(PolicyBody) }) },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const policies = await deps.orders.policies();
        return { policies: policies.filter((policy) => policy.site === ANY || seesSite(principal, policy.site)) };
      },
    );

    app.put(
      '/work-order-policies/:site/:rule',
      {
        config: { access: WRITE },
        schema: {
          summary: 'Set the policy for alarms of a site and rule (either may be *)',
          tags: ['work orders'],
          params: Params,
          body: z.strictObject({ min_severity: PolicyBody.shape.min_severity, resolve_on_clear: PolicyBody.shape.resolve_on_clear }),
          response: { 200: z.object({ policy: PolicyBody }), 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { site, rule } = request.params;
        await deps.orders.setPolicy(site, rule, request.body);
        return { policy: { site, rule, ...request.body } };
      },
    );

    app.delete(
      '/work-order-policies/:site/:rule',
      {
        config: { access: WRITE },
        schema: {
          summary: 'Remove a policy row, so that a less specific one decides (the catch-all */* stays)',
          tags: ['work orders'],
          params: Params,
          response: { 204: z.null(), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const { site, rule } = request.params;
        if (site === ANY && rule === ANY) {
          throw new ApiError(409, 'policy_required', 'the catch-all policy (*/*) decides when no other row does: change it with PUT, it cannot be removed');
        }
        if (!(await deps.orders.deletePolicy(site, rule))) throw policyNotFound(site, rule);
        return reply.status(204).send(null);
      },
    );
  };
