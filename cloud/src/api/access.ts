import type { FastifyInstance, FastifyRequest, RouteOptions, onRequestAsyncHookHandler } from 'fastify';
import { hasScope, seesSite, type Principal, type Role, type Scope } from '../auth/roles.js';
import type { AuditEntry, AuditLog } from '../store/audit-log.js';
import type { People } from '../store/people.js';
import { errors, type ApiError } from './errors.js';

/** The cookie a dashboard's session travels in (httpOnly, SameSite=Strict). */
export const SESSION_COOKIE = 'gatehouse_session';

/**
 * Who may call a route, declared beside it as `config: { access }`:
 * - `roles`: the roles that may call it; `public` for anybody (health, login, enrolment),
 *   `authenticated` for anybody logged in (their own session);
 * - `scope`: what an API token must have been given to call it;
 * - `site`: how the route's site is found, so that a caller scoped to other sites gets a 404 as
 *   if it did not exist; `listed` when the answer is a list cut down to the caller's sites.
 */
export interface RouteAccess {
  roles: readonly Role[] | 'public' | 'authenticated';
  scope?: Scope;
  site?: SiteOfRoute | 'listed';
}

export interface SiteOfRoute {
  /** In words, for the access table: e.g. `params.id is a site`. */
  describe: string;
  /** The site, or undefined when the thing does not exist (the handler then answers 404); may look it up. */
  of(params: Record<string, string>): string | undefined | Promise<string | undefined>;
  notFound(params: Record<string, string>): ApiError;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
  interface FastifyRequest {
    /** The authenticated caller, or null. */
    principal: Principal | null;
    /** Set once a handler has written its own audit entry, so that the generic one is skipped. */
    audited: boolean;
  }
}

/** One row of the route × role table (docs/api-access.md). */
export interface AccessRow {
  method: string;
  url: string;
  access: RouteAccess;
}

const tables = new WeakMap<FastifyInstance, AccessRow[]>();

/** The route × role table an app was built with, in the order the routes were registered. */
export const accessTableOf = (app: FastifyInstance): readonly AccessRow[] => tables.get(app) ?? [];

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Routes that must declare their access: the API and the metrics. The dashboard's files are public. */
const guarded = (url: string) => url.startsWith('/api/') || url === '/metrics';

function secretOf(request: FastifyRequest): string | undefined {
  const header = request.headers.authorization;
  if (header?.startsWith('Bearer ')) return header.slice('Bearer '.length).trim();
  return request.cookies[SESSION_COOKIE];
}

/** Who the caller is, for the audit log. */
export function actorOf(request: FastifyRequest): Pick<AuditEntry, 'actor' | 'actorKind' | 'ip'> {
  const principal = request.principal;
  return { actor: principal?.name ?? null, actorKind: principal?.kind ?? 'anonymous', ip: request.ip };
}

/** The caller's principal, which a guarded route's access check has already established. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw errors.unauthenticated();
  return request.principal;
}

export async function checkAccess(access: RouteAccess, principal: Principal | null, params: Record<string, string>): Promise<ApiError | undefined> {
  if (access.roles === 'public') return undefined;
  if (!principal) return errors.unauthenticated();
  if (access.roles === 'authenticated') return undefined;
  if (!access.roles.includes(principal.role)) return errors.forbidden(`the ${principal.role} role may not do this`);
  if (access.scope && !hasScope(principal, access.scope)) return errors.forbidden(`this token lacks the ${access.scope} scope`);
  if (access.site && access.site !== 'listed') {
    const site = await access.site.of(params);
    if (site !== undefined && !seesSite(principal, site)) return access.site.notFound(params);
  }
  return undefined;
}

/**
 * Puts every guarded route behind its declared access, and refuses to start with a guarded
 * route that declares none: a route cannot be forgotten. Returns the table of what was declared.
 */
export function enforceAccess(app: FastifyInstance, people: People, audit: AuditLog): AccessRow[] {
  const table: AccessRow[] = [];
  tables.set(app, table);
  app.decorateRequest('principal', null);
  app.decorateRequest('audited', false);

  app.addHook('onRequest', async (request) => {
    const secret = secretOf(request);
    if (secret) request.principal = (await people.principalOf(secret)) ?? null;
  });

  app.addHook('onRoute', (route: RouteOptions) => {
    if (!guarded(route.url)) return;
    const access = route.config?.access;
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} declares no access (config.access)`);
    for (const method of [route.method].flat()) {
      if (method !== 'HEAD') table.push({ method, url: route.url, access });
    }
    const check: onRequestAsyncHookHandler = async (request: FastifyRequest) => {
      const refusal = await checkAccess(access, request.principal, request.params as Record<string, string>);
      if (refusal) throw refusal;
    };
    route.onRequest = [...[route.onRequest ?? []].flat(), check];
  });

  // Every mutating call is audited: by its handler with before and after, or else here, which
  // also catches the refused ones (401, 403, 404, 400, 429).
  app.addHook('onResponse', async (request, reply) => {
    if (!MUTATING.has(request.method) || request.audited || !guarded(request.url)) return;
    await audit.record({
      ...actorOf(request),
      action: `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]}`,
      target: null,
      site: null,
      outcome: reply.statusCode < 400 ? 'ok' : 'refused',
      after: { status: reply.statusCode },
    });
  });
  return table;
}
