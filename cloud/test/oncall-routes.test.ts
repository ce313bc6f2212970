import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, jsonSchemaTransform, serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTableOf, enforceAccess } from '../src/api/access.js';
import { ApiError } from '../src/api/errors.js';
import { onCallRoutes } from '../src/api/routes/oncall.js';
import { AuditLog, People, type Role, type Scope } from '../src/index.js';
import { OnCall } from '../src/oncall/index.js';
import { memoryStores } from './support.js';

/**
 * The on-call routes behind the hub's own access hook and error answers, in an app of their own
 * until buildApp registers them (then securedApp() serves them and this harness can go).
 */
async function onCallApp() {
  const { db } = await memoryStores();
  const clock = { now: Date.parse('2026-11-22T02:00:00Z') };
  const now = () => clock.now;
  const people = new People(db, now);
  const audit = new AuditLog(db, now);
  const app: FastifyInstance = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // The two answers of app.ts's error handler these routes give: catalogue errors and schema failures.
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof ApiError) return reply.status(error.statusCode).send(error.toBody());
    if (hasZodFastifySchemaValidationErrors(error)) {
      const context = (error as { validationContext?: string }).validationContext ?? 'request';
      const fields = error.validation.map((issue) => {
        const path = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
        return { field: path ? `${context}.${path}` : context, message: issue.message ?? 'invalid' };
      });
      return reply.status(400).send({ error: { code: 'invalid_request', message: 'invalid request', fields } });
    }
    return reply.status(500).send({ error: { code: 'internal_error', message: String(error) } });
  });
  await app.register(fastifyCookie);
  enforceAccess(app, people, audit);
  await app.register(fastifySwagger, { openapi: { info: { title: 'on-call', version: '0' } }, transform: jsonSchemaTransform });
  await app.register(onCallRoutes({ oncall: new OnCall(db, now), audit }), { prefix: '/api/v1' });

  const PASSWORD = 'a long enough password';
  const as = async (username: string, role: Role, sites: string[]) => {
    await people.createUser({ username, role, sites, password: PASSWORD });
    const outcome = await people.login(username, PASSWORD);
    if (outcome.kind !== 'ok') throw new Error(`login ${username}: ${outcome.kind}`);
    return { authorization: `Bearer ${outcome.token}` };
  };
  const token = async (name: string, role: Role, scopes: Scope[]) => {
    const created = await people.createApiToken({ name, role, sites: ['*'], scopes, createdBy: 'test', expiresAt: null });
    return { authorization: `Bearer ${created.token}` };
  };
  return { app, db, audit, clock, as, token };
}

interface ErrorResponse {
  error: { code: string; message: string; fields?: Array<{ field: string; message: string }> };
}

describe('the on-call API', () => {
  let h: Awaited<ReturnType<typeof onCallApp>>;
  let admin: Record<string, string>;
  let engineerA: Record<string, string>;
  let engineerB: Record<string, string>;
  let technicianA: Record<string, string>;
  let viewer: Record<string, string>;

  type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
  const call = (method: Method, url: string, headers: Record<string, string>, payload?: object) =>
    h.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
  const ok = async (method: Method, url: string, headers: Record<string, string>, payload?: object) => {
    const response = await call(method, url, headers, payload);
    expect(response.statusCode, response.body).toBeLessThan(300);
    return response.json<Record<string, unknown>>();
  };
  const failure = async (status: number, method: Method, url: string, headers: Record<string, string>, payload?: object) => {
    const response = await call(method, url, headers, payload);
    expect(response.statusCode, response.body).toBe(status);
    return response.json<ErrorResponse>().error;
  };

  const schedule = {
    id: 'lifts-a-days',
    team: 'lifts-a',
    name: 'Lifts, tower A, days',
    time_zone: 'Asia/Shanghai',
    rotation: 'daily',
    handoff_time: '08:30',
    start_date: '2026-11-20',
    responders: ['ana', 'ben', 'cai'],
  };

  beforeAll(async () => {
    h = await onCallApp();
    admin = await h.as('root', 'admin', ['*']);
    engineerA = await h.as('eng-a', 'engineer', ['tower-a']);
    engineerB = await h.as('eng-b', 'engineer', ['tower-b']);
    technicianA = await h.as('tech-a', 'technician', ['tower-a']);
    viewer = await h.as('viewer', 'viewer', ['*']);
  });

  afterAll(async () => {
    await h.app.close();
    await h.db.close();
  });

  it('documents every route in OpenAPI, with the access it declares', async () => {
    await h.app.ready();
    const document = h.app.swagger() as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.entries(document.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /api/v1/teams',
        'POST /api/v1/teams',
        'GET /api/v1/teams/{id}',
        'PATCH /api/v1/teams/{id}',
        'DELETE /api/v1/teams/{id}',
        'GET /api/v1/teams/{id}/responders',
        'POST /api/v1/teams/{id}/responders',
        'PATCH /api/v1/teams/{id}/responders/{responder}',
        'DELETE /api/v1/teams/{id}/responders/{responder}',
        'GET /api/v1/schedules',
        'POST /api/v1/schedules',
        'GET /api/v1/schedules/{id}',
        'PATCH /api/v1/schedules/{id}',
        'DELETE /api/v1/schedules/{id}',
        'GET /api/v1/schedules/{id}/on-call',
        'GET /api/v1/schedules/{id}/overrides',
        'POST /api/v1/schedules/{id}/overrides',
        'DELETE /api/v1/schedules/{id}/overrides/{override}',
        'GET /api/v1/escalation-policies',
        'POST /api/v1/escalation-policies',
        'GET /api/v1/escalation-policies/{id}',
        'PATCH /api/v1/escalation-policies/{id}',
        'DELETE /api/v1/escalation-policies/{id}',
      ].sort(),
    );
    const table = accessTableOf(h.app);
    expect(table).toHaveLength(operations.length);
    expect(table.filter((row) => row.method !== 'GET').every((row) => row.access.roles !== 'public' && row.access.scope === 'oncall:write')).toBe(true);
  });

  it('lets an engineer set up a team of their site: responders, a schedule, an override and a policy', async () => {
    expect(
      await ok('POST', '/teams', engineerA, { id: 'lifts-a', name: 'Lifts, tower A', trade: 'elevator', sites: ['tower-a'], contractor: 'Otis Shanghai', channels: [{ kind: 'wecom', group: 'lifts-a' }] }),
    ).toEqual({ id: 'lifts-a', name: 'Lifts, tower A', trade: 'elevator', sites: ['tower-a'], contractor: 'Otis Shanghai', channels: [{ kind: 'wecom', group: 'lifts-a' }] });
    for (const [id, role] of [['ana', 'technician'], ['ben', 'technician'], ['cai', 'technician'], ['mia', 'manager']] as const) {
      await ok('POST', '/teams/lifts-a/responders', engineerA, { id, name: id.toUpperCase(), email: `${id}@example.com`, role });
    }
    expect(await ok('POST', '/schedules', engineerA, schedule)).toEqual({ ...schedule, handoff_weekday: null, secondary_responders: null });
    const override = await ok('POST', '/schedules/lifts-a-days/overrides', engineerA, {
      responder: 'cai',
      from: '2026-11-21T08:30:00+08:00',
      to: Date.parse('2026-11-22T00:30:00Z'),
      reason: 'holiday',
    });
    const { id, ...rest } = override;
    expect(id).toBeTypeOf('number');
    expect(rest).toEqual({ schedule: 'lifts-a-days', layer: 'primary', responder: 'cai', from: Date.parse('2026-11-21T00:30:00Z'), to: Date.parse('2026-11-22T00:30:00Z'), reason: 'holiday' });
    expect(
      await ok('POST', '/escalation-policies', engineerA, {
        id: 'lifts-a',
        team: 'lifts-a',
        steps: [
          { after_minutes: 0, targets: ['primary'], channels: ['wecom', 'sms'] },
          { after_minutes: 10, targets: ['secondary', 'manager'], channels: ['sms'] },
        ],
      }),
    ).toMatchObject({ repeat: 0, repeat_after_minutes: 30 });
  });

  it('says who is on call at a time, overrides included, and now by default', async () => {
    const onCall = (query: string) => ok('GET', `/schedules/lifts-a-days/on-call${query}`, technicianA);
    expect(await onCall('?at=2026-11-20T08:30:00%2B08:00')).toMatchObject({ schedule: 'lifts-a-days', at: Date.parse('2026-11-20T00:30:00Z'), primary: { id: 'ana' }, secondary: { id: 'ben' } });
    // ben's shift, covered by cai's override.
    expect(await onCall(`?at=${Date.parse('2026-11-21T12:00:00Z')}`)).toMatchObject({ primary: { id: 'cai', email: 'cai@example.com' }, secondary: { id: 'cai' } });
    expect(await onCall('')).toMatchObject({ at: h.clock.now, primary: { id: 'cai' }, secondary: { id: 'ana' } });
    expect(await onCall('?at=2026-11-19T12:00:00Z')).toMatchObject({ primary: null, secondary: null });
    const { fields } = await failure(400, 'GET', '/schedules/lifts-a-days/on-call?at=2026-11-20T08:30', technicianA);
    expect(fields?.map((f) => f.field)).toEqual(['querystring.at']);
    expect(fields?.[0]?.message).toMatch(/with an offset/);
  });

  it('names the field of a bad body: an unknown time zone, a weekly rotation without its weekday, a stranger in the rotation', async () => {
    const fieldsOf = async (payload: object) => (await failure(400, 'POST', '/schedules', admin, { ...schedule, id: 'bad', ...payload })).fields?.map((f) => f.field);
    expect(await fieldsOf({ time_zone: 'Asia/Beijing' })).toEqual(['body.time_zone']);
    expect(await fieldsOf({ rotation: 'weekly' })).toEqual(['body.handoff_weekday']);
    expect(await fieldsOf({ handoff_time: '8:30' })).toEqual(['body.handoff_time']);
    expect(await fieldsOf({ responders: ['ana', 'zed'] })).toEqual(['body.responders.1']);
    expect(await fieldsOf({ secondary_responders: ['primary'] })).toEqual(['body.secondary_responders.0']);
    expect((await failure(400, 'PATCH', '/schedules/lifts-a-days', admin, { time_zone: 'Europe/Londres' })).fields?.map((f) => f.field)).toEqual(['body.time_zone']);
    expect((await failure(400, 'PATCH', '/schedules/lifts-a-days', admin, { rotation: 'weekly' })).fields?.map((f) => f.field)).toEqual(['body.handoff_weekday']);
    expect((await failure(400, 'PATCH', '/schedules/lifts-a-days', admin, { team: 'elsewhere' })).fields?.map((f) => f.field)).toEqual(['body']);
    expect((await failure(400, 'POST', '/teams/lifts-a/responders', admin, { id: 'nob', name: 'Nobody', role: 'technician' })).fields?.map((f) => f.field)).toEqual(['body.email']);
    expect((await failure(400, 'POST', '/teams', admin, { id: 'x', name: 'X', trade: 'lifts', sites: ['tower-a'] })).fields?.map((f) => f.field)).toEqual(['body.trade']);
    const override = { responder: 'ana', from: '2026-11-23T00:00:00Z', to: '2026-11-22T00:00:00Z', reason: 'swap' };
    expect((await failure(400, 'POST', '/schedules/lifts-a-days/overrides', admin, override)).fields).toEqual([{ field: 'body.to', message: 'must be after from' }]);
    const policy = { id: 'p2', team: 'lifts-a', steps: [{ after_minutes: 0, targets: ['primary'], channels: ['pager'] }] };
    expect((await failure(400, 'POST', '/escalation-policies', admin, policy)).fields?.map((f) => f.field)).toEqual(['body.steps.0.channels.0']);
    const stranger = { steps: [{ after_minutes: 0, targets: ['primary', 'zed'], channels: ['sms'] }] };
    expect((await failure(400, 'PATCH', '/escalation-policies/lifts-a', admin, stranger)).fields).toEqual([{ field: 'body.steps.0.targets.1', message: 'no responder "zed" in team "lifts-a"' }]);
  });

  it('answers an unknown id with a 404 that names it', async () => {
    expect(await failure(404, 'GET', '/teams/nope', admin)).toMatchObject({ code: 'team_not_found', message: 'no team "nope"' });
    expect(await failure(404, 'GET', '/schedules/nope/on-call', admin)).toMatchObject({ code: 'schedule_not_found', message: 'no schedule "nope"' });
    expect(await failure(404, 'POST', '/schedules', admin, { ...schedule, id: 'orphan', team: 'nope' })).toMatchObject({ code: 'team_not_found', message: 'no team "nope"' });
    expect(await failure(404, 'PATCH', '/teams/lifts-a/responders/zed', admin, { name: 'Zed' })).toMatchObject({ code: 'responder_not_found', message: 'no responder "zed"' });
    expect(await failure(404, 'DELETE', '/schedules/lifts-a-days/overrides/9999', admin)).toMatchObject({ code: 'override_not_found', message: 'no override "9999"' });
    expect(await failure(404, 'PATCH', '/escalation-policies/nope', admin, { repeat: 1 })).toMatchObject({ code: 'escalation_policy_not_found' });
    expect(await failure(404, 'POST', '/teams/lifts-a/responders', admin, { id: 'ned', name: 'Ned', email: 'ned@example.com', role: 'technician', user_id: 4242 })).toMatchObject({
      code: 'user_not_found',
      fields: [{ field: 'body.user_id', message: 'no user 4242' }],
    });
  });

  it('refuses duplicates and the deletion of a responder still named, with a 409', async () => {
    expect(await failure(409, 'POST', '/teams', admin, { id: 'lifts-a', name: 'again', trade: 'elevator', sites: ['tower-a'] })).toMatchObject({ code: 'team_exists' });
    expect(await failure(409, 'POST', '/escalation-policies', admin, { id: 'p2', team: 'lifts-a', steps: [{ after_minutes: 0, targets: ['manager'], channels: ['sms'] }] })).toMatchObject({ code: 'team_has_policy' });
    const inUse = await failure(409, 'DELETE', '/teams/lifts-a/responders/ben', admin);
    expect(inUse.code).toBe('responder_in_use');
    expect(inUse.message).toContain('schedule "lifts-a-days"');
  });

  it('lets technicians read and not write, and viewers do neither', async () => {
    expect(await ok('GET', '/teams/lifts-a/responders', technicianA)).toMatchObject({ responders: [{ id: 'ana' }, { id: 'ben' }, { id: 'cai' }, { id: 'mia' }] });
    expect(await ok('GET', '/escalation-policies/lifts-a', technicianA)).toMatchObject({ team: 'lifts-a' });
    expect(await failure(403, 'PATCH', '/teams/lifts-a', technicianA, { name: 'Mine now' })).toMatchObject({ code: 'forbidden' });
    expect(await failure(403, 'GET', '/teams', viewer)).toMatchObject({ code: 'forbidden' });
    expect(await failure(401, 'GET', '/teams', {})).toMatchObject({ code: 'unauthenticated' });
  });

  it('holds API tokens to the oncall scopes', async () => {
    const reader = await h.token('pager-bridge', 'engineer', ['oncall:read']);
    expect(await ok('GET', '/schedules/lifts-a-days', reader)).toMatchObject({ id: 'lifts-a-days' });
    expect(await failure(403, 'DELETE', '/schedules/lifts-a-days', reader)).toMatchObject({ message: 'this token lacks the oncall:write scope' });
    const other = await h.token('devices-only', 'admin', ['devices:read']);
    expect(await failure(403, 'GET', '/teams', other)).toMatchObject({ message: 'this token lacks the oncall:read scope' });
  });

  describe('sites', () => {
    beforeAll(async () => {
      await ok('POST', '/teams', admin, { id: 'power', name: 'Electricians', trade: 'electrical', sites: ['tower-a', 'tower-b'] });
      await ok('POST', '/teams', admin, { id: 'lifts-all', name: 'Otis', trade: 'elevator', sites: ['*'], contractor: 'Otis Shanghai' });
      await ok('POST', '/teams', engineerB, { id: 'lifts-b', name: 'Lifts, tower B', trade: 'elevator', sites: ['tower-b'] });
    });

    it('cuts lists to the teams serving the caller’s sites', async () => {
      const teams = async (headers: Record<string, string>) => ((await ok('GET', '/teams', headers)).teams as Array<{ id: string }>).map((t) => t.id);
      expect(await teams(admin)).toEqual(['lifts-a', 'lifts-all', 'lifts-b', 'power']);
      expect(await teams(engineerA)).toEqual(['lifts-a', 'lifts-all', 'power']);
      expect(await teams(engineerB)).toEqual(['lifts-all', 'lifts-b', 'power']);
      expect(await ok('GET', '/schedules', engineerB)).toEqual({ schedules: [] });
      expect(await ok('GET', '/escalation-policies?team=lifts-a', engineerA)).toMatchObject({ escalation_policies: [{ id: 'lifts-a' }] });
      expect(await ok('GET', '/escalation-policies', engineerB)).toEqual({ escalation_policies: [] });
    });

    it('answers another site’s team, schedule or policy with a 404, as if it did not exist', async () => {
      expect(await failure(404, 'GET', '/teams/lifts-a', engineerB)).toMatchObject({ code: 'team_not_found' });
      expect(await failure(404, 'GET', '/schedules/lifts-a-days/on-call', engineerB)).toMatchObject({ code: 'schedule_not_found' });
      expect(await failure(404, 'DELETE', '/escalation-policies/lifts-a', engineerB)).toMatchObject({ code: 'escalation_policy_not_found' });
      expect(await failure(404, 'POST', '/schedules', engineerB, { ...schedule, id: 'sneaky' })).toMatchObject({ code: 'team_not_found' });
      expect(await failure(404, 'POST', '/teams', engineerB, { id: 'sneaky', name: 'S', trade: 'access', sites: ['tower-a'] })).toMatchObject({ code: 'site_not_found' });
    });

    it('lets a caller read but not change a team that also serves sites beyond its own', async () => {
      expect(await ok('GET', '/teams/power', engineerA)).toMatchObject({ id: 'power' });
      expect(await ok('GET', '/teams/lifts-all', engineerA)).toMatchObject({ id: 'lifts-all' });
      expect(await failure(403, 'PATCH', '/teams/power', engineerA, { name: 'Mine' })).toMatchObject({ message: 'team "power" also serves site "tower-b", which you may not act on' });
      expect(await failure(403, 'POST', '/teams/lifts-all/responders', engineerA, { id: 'olga', name: 'Olga', phone: '+86 21 5555 0101', role: 'technician' })).toMatchObject({
        message: 'team "lifts-all" also serves every site, which you may not act on',
      });
      expect(await failure(403, 'POST', '/teams', engineerA, { id: 'all-doors', name: 'Doors', trade: 'access', sites: ['*'] })).toMatchObject({ code: 'forbidden' });
      expect(await failure(404, 'PATCH', '/teams/lifts-a', engineerA, { sites: ['tower-a', 'tower-b'] })).toMatchObject({ code: 'site_not_found', message: 'no site "tower-b"' });
    });
  });

  it('audits every change with before and after, and refused ones generically', async () => {
    await ok('PATCH', '/schedules/lifts-a-days', engineerA, { handoff_time: '09:00' });
    const [change] = await h.audit.list({ action: 'schedule.update', limit: 1 });
    expect(change).toMatchObject({ actor: 'eng-a', target: 'lifts-a-days', site: 'tower-a', outcome: 'ok', before: { handoff_time: '08:30' }, after: { handoff_time: '09:00' } });
    await failure(403, 'DELETE', '/teams/lifts-a', technicianA);
    const [refused] = await h.audit.list({ action: 'DELETE /api/v1/teams/:id', limit: 1 });
    expect(refused).toMatchObject({ actor: 'tech-a', outcome: 'refused', after: { status: 403 } });
  });

  it('deletes a team with everything of it', async () => {
    expect(await ok('DELETE', '/teams/lifts-a', admin)).toMatchObject({ id: 'lifts-a' });
    await failure(404, 'GET', '/schedules/lifts-a-days', admin);
    await failure(404, 'GET', '/escalation-policies/lifts-a', admin);
    const [deleted] = await h.audit.list({ action: 'team.delete', limit: 1 });
    expect(deleted).toMatchObject({ actor: 'root', target: 'lifts-a', before: { id: 'lifts-a' } });
  });
});
