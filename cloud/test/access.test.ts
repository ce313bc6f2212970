import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTableMarkdown, accessTableOf, openApiPath, ROLES, type AccessRow, type Role } from '../src/index.js';
import { orderFor, raiseMeterAlarm } from './dispatch-fixtures.js';
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

const admin = (h: Harness) => ({ authorization: `Bearer ${h.adminToken}` });
async function made(h: Harness, url: string, payload: Record<string, unknown>) {
  const response = await h.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: admin(h), payload });
  if (response.statusCode !== 201) throw new Error(`setting up ${url}: ${response.statusCode} ${response.body}`);
  return response.json<{ id: string | number }>();
}
/** A team of tower-a with a responder, a schedule (with an override) and a policy. */
async function onCallTeam(h: Harness) {
  const team = unique('team');
  await made(h, '/teams', { id: team, name: team, trade: 'elevator', sites: ['tower-a'] });
  await made(h, `/teams/${team}/responders`, { id: `${team}-ana`, name: 'Ana', email: 'ana@example.com', role: 'technician' });
  await made(h, '/schedules', { id: team, team, name: team, time_zone: 'Asia/Shanghai', rotation: 'daily', handoff_time: '08:30', start_date: '2026-11-20', responders: [`${team}-ana`] });
  const override = await made(h, `/schedules/${team}/overrides`, { responder: `${team}-ana`, from: 0, to: 60_000, reason: 'swap' });
  await made(h, '/escalation-policies', { id: team, team, steps: [{ after_minutes: 0, targets: ['primary'], channels: ['sms'] }] });
  return { team, responder: `${team}-ana`, override: override.id };
}

/** An active alarm of tower-a's meter, under a rule of its own. */
const anAlarm = (h: Harness) => raiseMeterAlarm(h.stores.alarms, 'meter-1', h.clock.now, unique('rule'));

/** A work order for a fresh alarm, with one page sent for it. */
async function aWorkOrder(h: Harness) {
  const alarm = await anAlarm(h);
  const { order } = await h.stores.orders.openForAlarm(orderFor(alarm));
  // A page's code is 10 letters and digits of an alphabet without 0, 1, I, L and O.
  const code = `ACK${String(++serial).padStart(7, '0').replaceAll(/\d/g, (digit) => 'ABCDEFGHJK'[Number(digit)]!)}`;
  await h.stores.db.query(
    `insert into pages (id, work_order_id, step, round, responder, channel, status, ack_code, created_at) values ($1, $2, 1, 1, 'ana', 'sms', 'delivered', $3, now())`,
    [unique('page'), order.id, code],
  );
  return { order, code };
}

/** One request per operation, about site tower-a; every operation must have one. */
const CALLS: Record<string, (h: Harness) => Promise<Call>> = {
  'GET /api/v1/health': async () => ({ url: '/api/v1/health', ok: 200 }),
  'GET /api/v1/devices': async () => ({ url: '/api/v1/devices', ok: 200 }),
  'GET /api/v1/devices/{id}/latest': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/latest', ok: 200 }),
  'GET /api/v1/devices/{id}/series': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/series?point=active_power_kw&from=0&to=3600000&every=1h', ok: 200 }),
  'GET /api/v1/catalogue': async () => ({ url: '/api/v1/catalogue', ok: 200 }),
  'GET /api/v1/events': async () => ({ url: '/api/v1/events?type=plate.read', ok: 200 }),
  'GET /api/v1/devices/{id}/events': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/events', ok: 200 }),
  // Route tests have no broker: an allowed command is recorded and answered 503, not sent.
  'POST /api/v1/devices/{id}/commands': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/commands', payload: { action: 'write_register', params: { point: 'ct_ratio', value: 40 } }, ok: 503 }),
  'GET /api/v1/devices/{id}/commands': async () => ({ url: '/api/v1/devices/tower-a.gw-01.meter-1/commands', ok: 200 }),
  'GET /api/v1/devices/{id}/commands/{command}': async (h) => {
    const id = unique('command-of-meter');
    await h.stores.commands.create({
      id,
      site: 'tower-a',
      gateway: 'gw-01',
      device: 'tower-a.gw-01.meter-1',
      action: 'write_register',
      params: {},
      timeout_ms: 10_000,
      requested_by: 'test',
      requested_at: 0,
      deadline: 10_000,
    });
    return { url: `/api/v1/devices/tower-a.gw-01.meter-1/commands/${id}`, ok: 200 };
  },
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
  'GET /api/v1/alarms': async () => ({ url: '/api/v1/alarms?state=active', ok: 200 }),
  'GET /api/v1/alarms/{id}': async (h) => ({ url: `/api/v1/alarms/${(await anAlarm(h)).id}`, ok: 200 }),
  'POST /api/v1/alarms/{id}/ack': async (h) => ({ url: `/api/v1/alarms/${(await anAlarm(h)).id}/ack`, ok: 200 }),
  'POST /api/v1/alarms/{id}/shelve': async (h) => ({ url: `/api/v1/alarms/${(await anAlarm(h)).id}/shelve`, payload: { minutes: 60, reason: 'meter being replaced' }, ok: 200 }),
  'POST /api/v1/alarms/{id}/unshelve': async (h) => ({ url: `/api/v1/alarms/${(await anAlarm(h)).id}/unshelve`, ok: 200 }),
  'GET /api/v1/work-orders': async () => ({ url: '/api/v1/work-orders?status=open', ok: 200 }),
  'GET /api/v1/work-orders/{id}': async (h) => ({ url: `/api/v1/work-orders/${(await aWorkOrder(h)).order.id}`, ok: 200 }),
  'POST /api/v1/work-orders/{id}/transition': async (h) => ({ url: `/api/v1/work-orders/${(await aWorkOrder(h)).order.id}/transition`, payload: { to: 'cancelled', note: 'duplicate' }, ok: 200 }),
  'POST /api/v1/work-orders/{id}/comments': async (h) => ({ url: `/api/v1/work-orders/${(await aWorkOrder(h)).order.id}/comments`, payload: { text: 'parts ordered' }, ok: 201 }),
  'GET /api/v1/work-order-policies': async () => ({ url: '/api/v1/work-order-policies', ok: 200 }),
  'PUT /api/v1/work-order-policies/{site}/{rule}': async () => ({ url: '/api/v1/work-order-policies/tower-a/lift-fault', payload: { min_severity: 'minor', resolve_on_clear: true }, ok: 200 }),
  'DELETE /api/v1/work-order-policies/{site}/{rule}': async (h) => {
    const rule = unique('rule');
    await h.stores.orders.setPolicy('tower-a', rule, { min_severity: 'critical', resolve_on_clear: false });
    return { url: `/api/v1/work-order-policies/tower-a/${rule}`, ok: 204 };
  },
  'GET /api/v1/acks/{code}': async (h) => ({ url: `/api/v1/acks/${(await aWorkOrder(h)).code}`, ok: 200 }),
  'POST /api/v1/acks/{code}': async (h) => ({ url: `/api/v1/acks/${(await aWorkOrder(h)).code}`, ok: 200 }),
  'GET /api/v1/teams': async () => ({ url: '/api/v1/teams', ok: 200 }),
  'POST /api/v1/teams': async () => ({ url: '/api/v1/teams', payload: { id: unique('team'), name: 'Lifts', trade: 'elevator', sites: ['tower-a'] }, ok: 201 }),
  'GET /api/v1/teams/{id}': async (h) => ({ url: `/api/v1/teams/${(await onCallTeam(h)).team}`, ok: 200 }),
  'PATCH /api/v1/teams/{id}': async (h) => ({ url: `/api/v1/teams/${(await onCallTeam(h)).team}`, payload: { name: 'renamed' }, ok: 200 }),
  'DELETE /api/v1/teams/{id}': async (h) => ({ url: `/api/v1/teams/${(await onCallTeam(h)).team}`, ok: 200 }),
  'GET /api/v1/teams/{id}/responders': async (h) => ({ url: `/api/v1/teams/${(await onCallTeam(h)).team}/responders`, ok: 200 }),
  'POST /api/v1/teams/{id}/responders': async (h) => ({ url: `/api/v1/teams/${(await onCallTeam(h)).team}/responders`, payload: { id: unique('bo'), name: 'Bo', phone: '+86 138 0013 8000', role: 'technician' }, ok: 201 }),
  'PATCH /api/v1/teams/{id}/responders/{responder}': async (h) => {
    const { team, responder } = await onCallTeam(h);
    return { url: `/api/v1/teams/${team}/responders/${responder}`, payload: { phone: '+86 138 0013 8000' }, ok: 200 };
  },
  'DELETE /api/v1/teams/{id}/responders/{responder}': async (h) => {
    const { team } = await onCallTeam(h);
    const spare = unique('spare');
    await made(h, `/teams/${team}/responders`, { id: spare, name: 'Spare', email: 'spare@example.com', role: 'technician' });
    return { url: `/api/v1/teams/${team}/responders/${spare}`, ok: 200 };
  },
  'GET /api/v1/schedules': async () => ({ url: '/api/v1/schedules', ok: 200 }),
  'POST /api/v1/schedules': async (h) => {
    const { team, responder } = await onCallTeam(h);
    return { url: '/api/v1/schedules', payload: { id: unique('days'), team, name: 'Days', time_zone: 'Europe/London', rotation: 'weekly', handoff_weekday: 1, handoff_time: '09:00', start_date: '2026-11-23', responders: [responder] }, ok: 201 };
  },
  'GET /api/v1/schedules/{id}': async (h) => ({ url: `/api/v1/schedules/${(await onCallTeam(h)).team}`, ok: 200 }),
  'PATCH /api/v1/schedules/{id}': async (h) => ({ url: `/api/v1/schedules/${(await onCallTeam(h)).team}`, payload: { handoff_time: '09:00' }, ok: 200 }),
  'DELETE /api/v1/schedules/{id}': async (h) => ({ url: `/api/v1/schedules/${(await onCallTeam(h)).team}`, ok: 200 }),
  'GET /api/v1/schedules/{id}/on-call': async (h) => ({ url: `/api/v1/schedules/${(await onCallTeam(h)).team}/on-call?at=2026-11-22T08:00:00Z`, ok: 200 }),
  'GET /api/v1/schedules/{id}/overrides': async (h) => ({ url: `/api/v1/schedules/${(await onCallTeam(h)).team}/overrides`, ok: 200 }),
  'POST /api/v1/schedules/{id}/overrides': async (h) => {
    const { team, responder } = await onCallTeam(h);
    return { url: `/api/v1/schedules/${team}/overrides`, payload: { responder, from: '2026-12-24T18:00:00+08:00', to: '2026-12-26T08:30:00+08:00', reason: 'holiday' }, ok: 201 };
  },
  'DELETE /api/v1/schedules/{id}/overrides/{override}': async (h) => {
    const { team, override } = await onCallTeam(h);
    return { url: `/api/v1/schedules/${team}/overrides/${override}`, ok: 200 };
  },
  'GET /api/v1/escalation-policies': async () => ({ url: '/api/v1/escalation-policies', ok: 200 }),
  'POST /api/v1/escalation-policies': async (h) => {
    const team = unique('team');
    await made(h, '/teams', { id: team, name: team, trade: 'elevator', sites: ['tower-a'] });
    return { url: '/api/v1/escalation-policies', payload: { id: team, team, steps: [{ after_minutes: 0, targets: ['manager'], channels: ['email'] }] }, ok: 201 };
  },
  'GET /api/v1/escalation-policies/{id}': async (h) => ({ url: `/api/v1/escalation-policies/${(await onCallTeam(h)).team}`, ok: 200 }),
  'PATCH /api/v1/escalation-policies/{id}': async (h) => ({ url: `/api/v1/escalation-policies/${(await onCallTeam(h)).team}`, payload: { repeat: 2 }, ok: 200 }),
  'DELETE /api/v1/escalation-policies/{id}': async (h) => ({ url: `/api/v1/escalation-policies/${(await onCallTeam(h)).team}`, ok: 200 }),
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

  afterAll(() => h.close());

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
