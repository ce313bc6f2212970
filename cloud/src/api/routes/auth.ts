import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { AuditLog } from '../../store/audit-log.js';
import type { People } from '../../store/people.js';
import { actorOf, principalOf, SESSION_COOKIE } from '../access.js';
import { errors } from '../errors.js';
import { ErrorBody, PrincipalBody } from '../schemas.js';

export interface AuthRouteDeps {
  people: People;
  audit: AuditLog;
  /** Logins per client address per minute. */
  loginPerMinute: number;
  /** Mark the session cookie Secure (the hub serves HTTPS). */
  secureCookies: boolean;
}

export const authRoutes =
  (deps: AuthRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.post(
      '/auth/login',
      {
        config: { access: { roles: 'public' }, rateLimit: { max: deps.loginPerMinute, timeWindow: '1 minute' } },
        schema: {
          summary: 'Log in: a session token in the answer and in an httpOnly cookie; 3 failures lock the account for 15 minutes',
          tags: ['auth'],
          body: z.object({ username: z.string().min(1).max(128), password: z.string().min(1).max(1024) }),
          response: { 200: z.object({ token: z.string(), expires_at: z.number(), user: PrincipalBody }), 401: ErrorBody },
        },
      },
      async (request, reply) => {
        const { username } = request.body;
        const outcome = await deps.people.login(username, request.body.password);
        request.audited = true;
        const entry = { actor: outcome.user?.username ?? null, actorKind: 'user' as const, ip: request.ip, target: username, site: null };
        switch (outcome.kind) {
          case 'ok': {
            await deps.audit.record({ ...entry, action: 'login.ok', outcome: 'ok' });
            reply.setCookie(SESSION_COOKIE, outcome.token, {
              path: '/',
              httpOnly: true,
              sameSite: 'strict',
              secure: deps.secureCookies,
              expires: new Date(outcome.expiresAt),
            });
            const { user } = outcome;
            return { token: outcome.token, expires_at: outcome.expiresAt, user: { name: user.username, kind: 'user' as const, role: user.role, sites: user.sites } };
          }
          case 'bad_credentials':
            await deps.audit.record({ ...entry, actorKind: outcome.user ? 'user' : 'anonymous', action: 'login.failed', outcome: 'refused' });
            if (outcome.lockedNow) await deps.audit.record({ ...entry, action: 'login.lockout', outcome: 'ok', after: { locked_for_minutes: 15 } });
            throw errors.badCredentials();
          case 'locked':
            await deps.audit.record({ ...entry, action: 'login.locked', outcome: 'refused', after: { locked_until: outcome.until } });
            throw errors.accountLocked(outcome.until);
          case 'disabled':
            await deps.audit.record({ ...entry, action: 'login.disabled', outcome: 'refused' });
            throw errors.badCredentials();
        }
      },
    );

    app.post(
      '/auth/logout',
      {
        config: { access: { roles: 'authenticated' } },
        schema: { summary: 'Log out: ends this session', tags: ['auth'], response: { 200: z.object({ ok: z.literal(true) }) } },
      },
      async (request, reply) => {
        const secret = request.headers.authorization?.replace(/^Bearer /, '') ?? request.cookies[SESSION_COOKIE];
        if (secret) await deps.people.logout(secret);
        request.audited = true;
        await deps.audit.record({ ...actorOf(request), action: 'logout', target: request.principal?.name ?? null, site: null, outcome: 'ok' });
        reply.clearCookie(SESSION_COOKIE, { path: '/' });
        return { ok: true as const };
      },
    );

    app.get(
      '/auth/me',
      {
        config: { access: { roles: 'authenticated' } },
        schema: { summary: 'Who this session or token is: role, sites, scopes', tags: ['auth'], response: { 200: PrincipalBody, 401: ErrorBody } },
      },
      async (request) => {
        const principal = principalOf(request);
        return { name: principal.name, kind: principal.kind, role: principal.role, sites: [...principal.sites] };
      },
    );
  };
