import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';
import { ALL_SITES, ROLES, SCOPES } from '../../auth/roles.js';
import type { AuditLog } from '../../store/audit-log.js';
import type { ApiTokenRecord, People, UserRecord } from '../../store/people.js';
import { actorOf, principalOf } from '../access.js';
import { errors } from '../errors.js';
import { ErrorBody } from '../schemas.js';

export interface PeopleRouteDeps {
  people: People;
  audit: AuditLog;
}

const Sites = z.array(z.union([z.literal(ALL_SITES), Identifier])).max(1000).describe('site ids, or ["*"] for every site');
const Password = z.string().min(12, 'at least 12 characters').max(1024);

const UserBody = z.object({
  id: z.number(),
  username: z.string(),
  role: z.enum(ROLES),
  sites: z.array(z.string()),
  disabled: z.boolean(),
  locked_until: z.number().nullable(),
  created_at: z.number(),
});

const TokenBody = z.object({
  id: z.number(),
  name: z.string(),
  role: z.enum(ROLES),
  sites: z.array(z.string()),
  scopes: z.array(z.enum(SCOPES)),
  created_by: z.string(),
  created_at: z.number(),
  expires_at: z.number().nullable(),
  revoked_at: z.number().nullable(),
});

const IdParams = z.object({ id: z.coerce.number().int().positive() });

const userView = (user: UserRecord) => ({ ...user, sites: [...user.sites] });
const tokenView = (token: ApiTokenRecord) => ({ ...token, sites: [...token.sites], scopes: [...token.scopes] });

export const peopleRoutes =
  (deps: PeopleRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/users',
      {
        config: { access: { roles: ['admin'], scope: 'users:read' } },
        schema: { summary: 'Every user, with role, sites and whether locked', tags: ['people'], response: { 200: z.object({ users: z.array(UserBody) }) } },
      },
      async () => ({ users: (await deps.people.listUsers()).map(userView) }),
    );

    app.post(
      '/users',
      {
        config: { access: { roles: ['admin'], scope: 'users:write' } },
        schema: {
          summary: 'Create a user with a role, sites and an initial password',
          tags: ['people'],
          body: z.object({ username: z.string().regex(/^[A-Za-z0-9._@-]{1,128}$/, 'letters, digits, . _ @ -'), role: z.enum(ROLES), sites: Sites, password: Password }),
          response: { 201: UserBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const { username, role, sites, password } = request.body;
        if (await deps.people.findUser(username)) throw errors.userExists(username);
        const user = await deps.people.createUser({ username, role, sites, password });
        request.audited = true;
        await deps.audit.record({ ...actorOf(request), action: 'user.create', target: username, site: null, outcome: 'ok', after: userView(user) });
        return reply.status(201).send(userView(user));
      },
    );

    app.patch(
      '/users/:id',
      {
        config: { access: { roles: ['admin'], scope: 'users:write' } },
        schema: {
          summary: "Change a user's role, sites or password; disable or unlock them",
          tags: ['people'],
          params: IdParams,
          body: z.object({ role: z.enum(ROLES).optional(), sites: Sites.optional(), password: Password.optional(), disabled: z.boolean().optional(), unlock: z.literal(true).optional() }),
          response: { 200: UserBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const before = await deps.people.getUser(request.params.id);
        if (!before) throw errors.userNotFound(String(request.params.id));
        const after = await deps.people.updateUser(request.params.id, request.body);
        request.audited = true;
        const { password, ...change } = request.body;
        await deps.audit.record({
          ...actorOf(request),
          action: 'user.update',
          target: before.username,
          site: null,
          outcome: 'ok',
          before: userView(before),
          // Never the password itself: only that it changed.
          after: { ...userView(after!), ...(password === undefined ? {} : { password: 'changed' }), change: Object.keys(change) },
        });
        return userView(after!);
      },
    );

    app.get(
      '/tokens',
      {
        config: { access: { roles: ['admin'], scope: 'tokens:write' } },
        schema: { summary: 'API tokens (never their secrets)', tags: ['people'], response: { 200: z.object({ tokens: z.array(TokenBody) }) } },
      },
      async () => ({ tokens: (await deps.people.listApiTokens()).map(tokenView) }),
    );

    app.post(
      '/tokens',
      {
        config: { access: { roles: ['admin'], scope: 'tokens:write' } },
        schema: {
          summary: 'Create an API token for an integration (e.g. billing) with a role, sites and scopes; its secret is shown once',
          tags: ['people'],
          body: z.object({
            name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, . _ -'),
            role: z.enum(ROLES),
            sites: Sites,
            scopes: z.array(z.enum(SCOPES)).min(1),
            expires_in_days: z.number().int().min(1).max(3650).optional(),
          }),
          response: { 201: TokenBody.extend({ token: z.string().describe('the secret: shown this once') }) },
        },
      },
      async (request, reply) => {
        const { name, role, sites, scopes, expires_in_days: days } = request.body;
        const created = await deps.people.createApiToken({
          name,
          role,
          sites,
          scopes,
          createdBy: principalOf(request).name,
          expiresAt: days === undefined ? null : Date.now() + days * 86_400_000,
        });
        request.audited = true;
        await deps.audit.record({ ...actorOf(request), action: 'token.create', target: name, site: null, outcome: 'ok', after: tokenView(created.record) });
        return reply.status(201).send({ ...tokenView(created.record), token: created.token });
      },
    );

    app.delete(
      '/tokens/:id',
      {
        config: { access: { roles: ['admin'], scope: 'tokens:write' } },
        schema: { summary: 'Revoke an API token', tags: ['people'], params: IdParams, response: { 200: TokenBody, 404: ErrorBody } },
      },
      async (request) => {
        const revoked = await deps.people.revokeApiToken(request.params.id);
        if (!revoked) throw errors.tokenNotFound(String(request.params.id));
        request.audited = true;
        await deps.audit.record({
          ...actorOf(request),
          action: 'token.revoke',
          target: revoked.before.name,
          site: null,
          outcome: 'ok',
          before: tokenView(revoked.before),
          after: tokenView(revoked.after),
        });
        return tokenView(revoked.after);
      },
    );
  };
