import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTableMarkdown, accessTableOf, openApiPath, ROLES, type AccessRow, type Role } from '../src/index.js';
import { securedApp } from './support.js';

/**
 * THE authorisation test: every operation in /api/v1/openapi.json, called by every role with
 * every site scope (every site, the request's own site, another site) and without credentials,
 * answers what its declared access says: the route's success, 401, 403 or 404.
 */
const DOCS = fileURLToPath(new URL('../../docs/api-access.md', import.meta.url));
const PASSWORD = 'a long enough password';
const SCOPES = { every: ['*'], own: ['tower-a'], other: ['tower-b'] } as const;
type ScopeName = keyof typeof SCOPES;

interface Call {
  url: string;
  payload?: Record<string, unknown>;
  /** The status the route answers when allowed. */
  ok: number;
  /** Log the caller in afresh and use that session (for logout, which ends it). */
  freshSession?: boolean;
}

type Harness = Awaited<ReturnType<typeof securedApp>>;
let serial = 0;
const unique = (prefix: string) => `${prefix}-${++serial}`;

/** One request per operation, about site tower-a; every operation must have one. */
const CALLS: Record<string, (h: Harness) => Promise<Call>> = {
  'GET /api/v1/health': async () => ({ url: '/api/v1/health', ok: 200 }),
  'GET /api/v1/devices': async () => ({ url: '/api/v1/devices', ok: 200 }),
  'GET /api/v1/devices/{id}/latest': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/latest', ok: 200 }),
  'GET /api/v1/devices/{id}/series': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/series?point=active_power_kw&from=0&to=3600000&every=1h', ok: 200 }),
  'GET /api/v1/catalogue': async () => ({ url: '/api/v1/catalogue', ok: 200 }),
  'GET /api/v1/sites': async () => ({ url: '/api/v1/sites', ok: 200 }),
  'GET /api/v1/sites/{id}/devices': async () => ({ url: '/api/v1/sites/tower-a/devices', ok: 200 }),
  'POST /api/v1/auth/login': async () => ({ url: '/api/v1/auth/login', payload: { username: 'admin-every', password: PASSWORD }, ok: 200 }),
  'POST /api/v1/auth/logout': async () => ({ url: '/api/v1/auth/logout', ok: 200, freshSession: true }),
  'GET /api/v1/auth/me': async () => ({ url: '/api/v1/auth/me', ok: 200 }),
  'GET /api/v1/users': async () => ({ url: '/api/v1/users', ok: 200 }),
  'POST /api/v1/users': async () => ({ url: '/api/v1/users', payload: { username: unique('new-user'), role: 'viewer', sites: ['tower-a'], password: PASSWORD }, ok: 201 }),
  'PATCH /api/v1/users/{id}': async (h) => {
    const user = await h.security.people.createUser({ username: unique('patched'), role: 'viewer', sites: [], password: PASSWORD });
    return { url: `/api/v1/users/${user.id}`, payload: { sites: ['tower-a'] }, ok: 200 };
  },
  'GET /api/v1/tokens': async () => ({ url: '/api/v1/tokens', ok: 200 }),
  'POST /api/v1/tokens': async () => ({ url: '/api/v1/tokens', payload: { name: unique('billing'), role: 'billing', sites: ['*'], scopes: ['devices:read'] }, ok: 201 }),
  'DELETE /api/v1/tokens/{id}': async (h) => {
    const { record } = await h.security.people.createApiToken({ name: unique('doomed'), role: 'viewer', sites: [], scopes: ['devices:read'], createdBy: 'test', expiresAt: null });
    return { url: `/api/v1/tokens/${record.id}`, ok: 200 };
  },
  'GET /api/v1/audit': async () => ({ url: '/api/v1/audit?action=login.&limit=5', ok: 200 }),
  'GET /api/v1/gateways': async () => ({ url: '/api/v1/gateways', ok: 200 }),
  'POST /api/v1/sites/{id}/gateways': async () => ({ url: '/api/v1/sites/tower-a/gateways', payload: { gateway: unique('gw') }, ok: 201 }),
  'POST /api/v1/sites/{id}/gateways/{gateway}/enrolment-token': async () => ({ url: '/api/v1/sites/tower-a/gateways/gw-01/enrolment-token', ok: 201 }),
  'POST /api/v1/sites/{id}/gateways/{gateway}/revoke': async () => ({ url: '/api/v1/sites/tower-a/gateways/gw-01/revoke', ok: 200 }),
  'POST /api/v1/enroll': async (h) => {
    const { token } = await h.security.gateways.issueEnrolmentToken('tower-a', 'gw-01', 'test');
    return { url: '/api/v1/enroll', payload: { token }, ok: 200 };
  },
};

function expected(row: AccessRow, role: Role | undefined, scope: ScopeName, call: Call): number {
  const { access } = row;
  if (access.roles === 'public') return call.ok;
  if (role === undefined) return 401;
  if (access.roles === 'authenticated') return call.ok;
  if (!access.roles.includes(role)) return 403;
  if (access.site && access.site !== 'listed' && scope === 'other') return 404;
  return call.ok;
}

describe('authorisation of every route, by role and site', () => {
  let h: Harness;
  let operations: Array<{ method: string; path: string }>;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    h = await securedApp();
    const t0 = Date.UTC(2026, 10, 22, 8, 0, 0);
    for (const site of ['tower-a', 'tower-b']) {
      await h.stores.registry.applyInventory(site, 'gw-01', {
        v: 1,
        ts: t0,
        devices: [{ device: 'meter-1', kind: 'electric_meter', profile: 'reference-3ph-meter', comm: { status: 'online', last_good_read: t0, consecutive_failures: 0, total_errors: 0 } }],
      });
    }
    for (const role of ROLES) {
      for (const [scope, sites] of Object.entries(SCOPES)) {
        await h.security.people.createUser({ username: `${role}-${scope}`, role, sites: [...sites], password: PASSWORD });
        tokens.set(`${role}-${scope}`, await h.login(`${role}-${scope}`, PASSWORD));
      }
    }
    const document = (await h.app.inject({ method: 'GET', url: '/api/v1/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>();
    operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => ({ method: method.toUpperCase(), path })));
  });

  afterAll(async () => {
    await h.app.close();
    await h.stores.db.close();
  });

  it('has a declared access and a test call for every operation in the OpenAPI document, and no stale one', () => {
    const table = accessTableOf(h.app);
    const declared = new Set(table.map((row) => `${row.method} ${openApiPath(row.url)}`));
    const documented = operations.map((op) => `${op.method} ${op.path}`);
    expect(documented.length).toBeGreaterThan(15);
    expect(documented.filter((key) => !declared.has(key))).toEqual([]);
    expect(documented.filter((key) => !(key in CALLS))).toEqual([]);
    expect(Object.keys(CALLS).filter((key) => !documented.includes(key))).toEqual([]);
    // What the document leaves out (the WebSocket, the document itself, /metrics) is declared too.
    expect([...declared].filter((key) => !documented.includes(key)).sort()).toEqual(['GET /api/v1/live', 'GET /api/v1/openapi.json', 'GET /metrics']);
  });

  it('answers every operation for every role and site scope, and without credentials, as declared', async () => {
    const table = accessTableOf(h.app);
    const mismatches: string[] = [];
    let checked = 0;
    for (const { method, path } of operations) {
      const row = table.find((entry) => entry.method === method && openApiPath(entry.url) === path)!;
      const callers: Array<[Role | undefined, ScopeName]> = [[undefined, 'every'], ...ROLES.flatMap((role) => Object.keys(SCOPES).map((scope) => [role, scope as ScopeName] as [Role, ScopeName]))];
      for (const [role, scope] of callers) {
        const call = await CALLS[`${method} ${path}`]!(h);
        let token = role && tokens.get(`${role}-${scope}`);
        if (role && call.freshSession) token = await h.login(`${role}-${scope}`, PASSWORD);
        const response = await h.app.inject({
          method: method as 'GET',
          url: call.url,
          headers: token ? { authorization: `Bearer ${token}` } : {},
          ...(call.payload ? { payload: call.payload } : {}),
        });
        const want = expected(row, role, scope, call);
        checked += 1;
        if (response.statusCode !== want) mismatches.push(`${method} ${path} as ${role ?? 'nobody'} (${scope} sites): ${response.statusCode}, declared ${want}: ${response.body.slice(0, 160)}`);
      }
    }
    expect(mismatches).toEqual([]);
    expect(checked).toBe(operations.length * (ROLES.length * 3 + 1));
  });

  it('cuts lists down to the caller’s sites', async () => {
    const as = (who: string) => ({ authorization: `Bearer ${tokens.get(who)}` });
    const sitesOf = async (who: string) =>
      (await h.app.inject({ method: 'GET', url: '/api/v1/devices', headers: as(who) })).json<{ devices: Array<{ site: string }> }>().devices.map((d) => d.site);
    expect(await sitesOf('viewer-every')).toEqual(['tower-a', 'tower-b']);
    expect(await sitesOf('viewer-own')).toEqual(['tower-a']);
    expect(await sitesOf('viewer-other')).toEqual(['tower-b']);
    const sites = (await h.app.inject({ method: 'GET', url: '/api/v1/sites', headers: as('engineer-own') })).json<{ sites: Array<{ id: string }> }>();
    expect(sites.sites.map((s) => s.id)).toEqual(['tower-a']);
  });

  it('keeps docs/api-access.md, the route × role table, generated from the code', () => {
    const markdown = accessTableMarkdown(accessTableOf(h.app));
    if (process.env.GATEHOUSE_WRITE_DOCS === '1') writeFileSync(DOCS, markdown);
    expect(existsSync(DOCS), `${DOCS} is missing: run with GATEHOUSE_WRITE_DOCS=1`).toBe(true);
    expect(readFileSync(DOCS, 'utf8'), 'docs/api-access.md differs from the code: regenerate with GATEHOUSE_WRITE_DOCS=1').toBe(markdown);
  });
});
