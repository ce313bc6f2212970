import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCKOUT_MS, SESSION_COOKIE } from '../src/index.js';
import { ADMIN_PASSWORD, securedApp } from './support.js';

interface AuditEntryBody {
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  at: number;
  before: unknown;
  after: unknown;
}

/** Every line the app logs, at trace level, kept to be searched for secrets. */
function capturingLog() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  return { log: pino({ level: 'trace' }, sink), lines };
}

describe('people, sessions, tokens, enrolment and the audit log', () => {
  const captured = capturingLog();
  let h: Awaited<ReturnType<typeof securedApp>>;
  let admin: Record<string, string>;
  /** Every secret the test handles; none may appear in the logs. */
  const secrets: string[] = [ADMIN_PASSWORD];

  const audit = async (query: string) =>
    (await h.app.inject({ method: 'GET', url: `/api/v1/audit?${query}`, headers: admin })).json<{ entries: AuditEntryBody[] }>().entries;
  const login = (username: string, password: string) =>
    h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password }, remoteAddress: '10.1.2.3' });

  beforeAll(async () => {
    h = await securedApp({ log: captured.log });
    admin = h.bearer(h.adminToken);
    secrets.push(h.adminToken);
  });

  afterAll(() => h.close());

  it('hashes passwords with scrypt and never answers them', async () => {
    const [row] = await h.stores.db.query<{ password_hash: string }>("select password_hash from users where username = 'admin'");
    expect(row?.password_hash).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(row?.password_hash).not.toContain(ADMIN_PASSWORD);
    const users = await h.app.inject({ method: 'GET', url: '/api/v1/users', headers: admin });
    expect(users.body).not.toMatch(/password/);
  });

  it('answers a login with a session token and an httpOnly, SameSite=Strict cookie that authenticates the next request', async () => {
    const response = await login('admin', ADMIN_PASSWORD);
    expect(response.statusCode).toBe(200);
    const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    secrets.push(cookie!.value);
    const me = await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', cookies: { [SESSION_COOKIE]: cookie!.value } });
    expect(me.json()).toEqual({ name: 'admin', kind: 'user', role: 'admin', sites: ['*'] });
    const out = await h.app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies: { [SESSION_COOKIE]: cookie!.value } });
    expect(out.statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/auth/me', cookies: { [SESSION_COOKIE]: cookie!.value } })).statusCode).toBe(401);
  });

  it('refuses the fourth login after three failures even with the right password, for 15 minutes, and audits all four', async () => {
    const created = await h.app.inject({
      method: 'POST',
      url: '/api/v1/users',
      headers: admin,
      payload: { username: 'li.wei', role: 'engineer', sites: ['tower-a'], password: 'li wei’s first password' },
    });
    expect(created.statusCode).toBe(201);
    secrets.push('li wei’s first password');
    for (let attempt = 1; attempt <= 3; attempt += 1) {
      const refused = await login('li.wei', `wrong guess ${attempt}`);
      expect(refused.statusCode).toBe(401);
      expect(refused.json<{ error: { code: string } }>().error.code).toBe('bad_credentials');
    }
    const fourth = await login('li.wei', 'li wei’s first password');
    expect(fourth.statusCode).toBe(401);
    expect(fourth.json<{ error: { code: string } }>().error.code).toBe('account_locked');

    const entries = (await audit('target=li.wei&action=login.')).reverse();
    expect(entries.map((e) => [e.action, e.outcome, e.ip])).toEqual([
      ['login.failed', 'refused', '10.1.2.3'],
      ['login.failed', 'refused', '10.1.2.3'],
      ['login.failed', 'refused', '10.1.2.3'],
      ['login.lockout', 'ok', '10.1.2.3'],
      ['login.locked', 'refused', '10.1.2.3'],
    ]);

    h.clock.now += LOCKOUT_MS - 1000;
    expect((await login('li.wei', 'li wei’s first password')).statusCode).toBe(401);
    h.clock.now += 2000;
    const after = await login('li.wei', 'li wei’s first password');
    expect(after.statusCode).toBe(200);
    secrets.push(after.json<{ token: string }>().token);
  });

  it('audits a change with who, when, from where, what, and before and after, and filters the log', async () => {
    const [user] = (await h.app.inject({ method: 'GET', url: '/api/v1/users', headers: admin })).json<{ users: Array<{ id: number; username: string }> }>().users.filter((u) => u.username === 'li.wei');
    const changed = await h.app.inject({
      method: 'PATCH',
      url: `/api/v1/users/${user!.id}`,
      headers: admin,
      remoteAddress: '10.9.9.9',
      payload: { role: 'technician', sites: ['tower-a', 'tower-b'], password: 'li wei’s second password' },
    });
    expect(changed.statusCode).toBe(200);
    secrets.push('li wei’s second password');
    const [entry] = await audit('action=user.update&actor=admin');
    expect(entry).toMatchObject({
      actor: 'admin',
      ip: '10.9.9.9',
      action: 'user.update',
      target: 'li.wei',
      outcome: 'ok',
      at: h.clock.now,
      before: expect.objectContaining({ role: 'engineer', sites: ['tower-a'] }) as unknown,
      after: expect.objectContaining({ role: 'technician', sites: ['tower-a', 'tower-b'], password: 'changed' }) as unknown,
    });
    expect(await audit(`from=${h.clock.now + 1}`)).toEqual([]);
  });

  it('records a refused mutating call, and keeps the audit log append-only even to SQL', async () => {
    const viewer = await h.login('li.wei', 'li wei’s second password');
    const refused = await h.app.inject({ method: 'POST', url: '/api/v1/sites/tower-a/gateways', headers: h.bearer(viewer), payload: { gateway: 'gw-x' } });
    expect(refused.statusCode).toBe(403);
    const [entry] = await audit('actor=li.wei&action=POST%20/api/v1/sites/:id/gateways');
    expect(entry).toMatchObject({ outcome: 'refused', after: { status: 403 } });
    await expect(h.stores.db.query('update audit_log set actor = null')).rejects.toThrow(/append-only/);
    await expect(h.stores.db.query('delete from audit_log')).rejects.toThrow(/append-only/);
  });

  it('gives API tokens a role, sites and scopes, and refuses what a token was not given', async () => {
    const created = await h.app.inject({
      method: 'POST',
      url: '/api/v1/tokens',
      headers: admin,
      payload: { name: 'billing-export', role: 'billing', sites: ['tower-a'], scopes: ['devices:read'] },
    });
    expect(created.statusCode).toBe(201);
    const { token, id } = created.json<{ token: string; id: number }>();
    secrets.push(token);
    const as = h.bearer(token);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/devices', headers: as })).statusCode).toBe(200);
    const noScope = await h.app.inject({ method: 'GET', url: '/api/v1/sites', headers: as });
    expect(noScope.statusCode).toBe(403);
    expect(noScope.json<{ error: { message: string } }>().error.message).toMatch(/sites:read/);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/tokens', headers: admin })).body).not.toContain(token);
    expect((await h.app.inject({ method: 'DELETE', url: `/api/v1/tokens/${id}`, headers: admin })).statusCode).toBe(200);
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/devices', headers: as })).statusCode).toBe(401);
    expect((await audit('target=billing-export')).map((e) => e.action)).toEqual(['token.revoke', 'token.create']);
  });

  it('enrols a gateway once with its token, and refuses an expired, reused or forged token', async () => {
    const create = async (gateway: string) =>
      (await h.app.inject({ method: 'POST', url: '/api/v1/sites/tower-a/gateways', headers: admin, payload: { gateway } })).json<{ enrolment_token: string; expires_at: number }>();
    const enrolWith = (token: string) => h.app.inject({ method: 'POST', url: '/api/v1/enroll', payload: { token } });

    const { enrolment_token: token, expires_at: expiresAt } = await create('gw-01');
    secrets.push(token);
    expect(expiresAt).toBe(h.clock.now + 24 * 3_600_000);
    const enrolled = await enrolWith(token);
    expect(enrolled.statusCode).toBe(200);
    const body = enrolled.json<{ site: string; gateway: string; mqtt: { url: string; username: string; password: string } }>();
    secrets.push(body.mqtt.password);
    expect(body).toMatchObject({ site: 'tower-a', gateway: 'gw-01', mqtt: { url: 'mqtt://hub.example:1883', username: 'tower-a.gw-01' } });
    expect(await h.security.gateways.verify('tower-a.gw-01', body.mqtt.password)).toEqual({ site: 'tower-a', gateway: 'gw-01' });
    const [stored] = await h.stores.db.query<Record<string, string>>('select * from enrolment_tokens');
    expect(JSON.stringify(stored)).not.toContain(token);

    const reused = await enrolWith(token);
    expect(reused.statusCode).toBe(401);
    expect(reused.json<{ error: { code: string } }>().error.code).toBe('enrolment_refused');
    expect((await enrolWith('gwe_forged-token-that-was-never-issued')).statusCode).toBe(401);
    const { enrolment_token: late } = await create('gw-02');
    h.clock.now += 24 * 3_600_000 + 1;
    expect((await enrolWith(late)).statusCode).toBe(401);
    // A day later the administrator's 12-hour session is over too: log in again.
    expect((await h.app.inject({ method: 'GET', url: '/api/v1/audit', headers: admin })).statusCode).toBe(401);
    const again = await h.login('admin', ADMIN_PASSWORD);
    secrets.push(again);
    admin = h.bearer(again);
    const refusals = (await audit('action=gateway.enrol')).filter((e) => e.outcome === 'refused').map((e) => e.after);
    expect(refusals).toEqual([{ reason: 'expired' }, { reason: 'unknown' }, { reason: 'used' }]);

    // Rotation: a new token replaces the credentials; the old password stops working.
    const { enrolment_token: rotation } = (
      await h.app.inject({ method: 'POST', url: '/api/v1/sites/tower-a/gateways/gw-01/enrolment-token', headers: admin })
    ).json<{ enrolment_token: string }>();
    const rotated = (await enrolWith(rotation)).json<{ mqtt: { password: string } }>();
    secrets.push(rotated.mqtt.password);
    expect(await h.security.gateways.verify('tower-a.gw-01', body.mqtt.password)).toBeUndefined();
    expect(await h.security.gateways.verify('tower-a.gw-01', rotated.mqtt.password)).toBeDefined();

    const revoked = await h.app.inject({ method: 'POST', url: '/api/v1/sites/tower-a/gateways/gw-01/revoke', headers: admin });
    expect(revoked.json()).toMatchObject({ credentials: 'revoked' });
    expect(await h.security.gateways.verify('tower-a.gw-01', rotated.mqtt.password)).toBeUndefined();
    expect(h.changed).toContainEqual(['tower-a', 'gw-01']);
    expect((await audit('target=tower-a.gw-01')).map((e) => e.action)).toEqual(
      expect.arrayContaining(['gateway.create', 'gateway.enrol', 'gateway.credentials_rotated', 'gateway.revoke']),
    );
  });

  it('never writes a password, token or credential to the log', () => {
    expect(captured.lines.length).toBeGreaterThan(20);
    const text = captured.lines.join('\n');
    expect(secrets.length).toBeGreaterThan(8);
    for (const secret of secrets) expect(text.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the log`).toBe(false);
  });
});

describe('rate limits', () => {
  it('answers 429 past the login limit, and past the API limit', async () => {
    const h = await securedApp({ rateLimits: { loginPerMinute: 3, apiPerMinute: 10 } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 4; i += 1) {
        statuses.push((await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x', password: 'y' } })).statusCode);
      }
      // The harness's own login took one of the three.
      expect(statuses).toEqual([401, 401, 429, 429]);
      const limited = await h.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username: 'x', password: 'y' } });
      expect(limited.json()).toMatchObject({ error: { code: 'rate_limited' } });
      const api: number[] = [];
      for (let i = 0; i < 12; i += 1) api.push((await h.app.inject({ method: 'GET', url: '/api/v1/health' })).statusCode);
      expect(api.slice(0, 5).every((s) => s === 200)).toBe(true);
      expect(api.at(-1)).toBe(429);
    } finally {
      await h.close();
    }
  });
});
