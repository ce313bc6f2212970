import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securedApp } from './support.js';

interface ErrorResponse {
  error: { code: string; message: string; fields?: Array<{ field: string; message: string }> };
}

describe('the hub API', () => {
  let app: FastifyInstance;
  let stores: Awaited<ReturnType<typeof securedApp>>['stores'];
  let auth: Record<string, string>;
  const t0 = Date.UTC(2026, 10, 22, 8, 0, 0);
  const MINUTE = 60_000;
  const HOUR = 60 * MINUTE;

  beforeAll(async () => {
    const secured = await securedApp();
    ({ app, stores } = secured);
    auth = secured.bearer(secured.adminToken);
    await stores.registry.applyInventory('tower-a', 'gw-01', {
      v: 1,
      ts: t0,
      devices: [
        {
          device: 'meter-1',
          kind: 'electric_meter',
          profile: 'reference-3ph-meter',
          comm: { status: 'online', last_good_read: t0, consecutive_failures: 0, total_errors: 0 },
        },
      ],
    });
    const meter = { site: 'tower-a', gateway: 'gw-01', device: 'tower-a.gw-01.meter-1', kind: 'electric_meter' };
    const written = await stores.telemetry.write([
      { ...meter, point: 'energy_import_kwh', ts: t0, value: 1234.5, quality: 'good' },
      // Power every 5 minutes for an hour, then a gap of an hour, then one more.
      ...Array.from({ length: 12 }, (_, i) => ({ ...meter, point: 'active_power_kw', ts: t0 + i * 5 * MINUTE, value: i, quality: 'good' as const })),
      { ...meter, point: 'active_power_kw', ts: t0 + 2 * HOUR, value: 100, quality: 'good' },
    ]);
    expect(written.ok).toBe(true);
  });

  afterAll(async () => {
    await app.close();
    await stores.db.close();
  });

  it('serves its figures at GET /metrics in Prometheus text', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(response.body).toContain('gatehouse_ingest_readings_stored_total 84');
    expect(response.body).toContain('gatehouse_ingest_lag_seconds 1.5');
    expect(response.body).toContain('gatehouse_ingest_store_available 1');
    expect(response.body).toMatch(/^process_resident_memory_bytes \d+/m);
  });

  it('answers health', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', version: '0.0.0-test' });
  });

  it('lists devices and serves the latest readings with catalogue units', async () => {
    const list = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/devices' });
    expect(list.json<{ devices: unknown[] }>().devices).toEqual([expect.objectContaining({ id: 'tower-a.gw-01.meter-1', kind: 'electric_meter' })]);
    const latest = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/devices/tower-a.gw-01.meter-1/latest' });
    expect(latest.json()).toEqual({
      device: 'tower-a.gw-01.meter-1',
      kind: 'electric_meter',
      readings: [
        { point: 'active_power_kw', value: 100, unit: 'kW', quality: 'good', ts: t0 + 2 * HOUR },
        { point: 'energy_import_kwh', value: 1234.5, unit: 'kWh', quality: 'good', ts: t0 },
      ],
    });
  });

  it('lists sites, and the devices of a site with their status and last seen', async () => {
    const sites = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/sites' });
    expect(sites.json()).toEqual({
      sites: [{ id: 'tower-a', name: null, time_zone: 'UTC', gateways: 1, devices: 1, devices_online: 1 }],
    });
    const devices = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/sites/tower-a/devices' });
    expect(devices.json()).toEqual({
      site: 'tower-a',
      devices: [expect.objectContaining({ id: 'tower-a.gw-01.meter-1', status: 'online', last_seen: null, bus: null, serves: null })],
    });
    const missing = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/sites/tower-z/devices' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json<ErrorResponse>().error.code).toBe('site_not_found');
    const bad = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/sites/no%20spaces/devices' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json<ErrorResponse>().error.fields).toEqual([expect.objectContaining({ field: 'params.id' })]);
  });

  describe('GET /api/v1/devices/:id/series', () => {
    const url = (query: string) => `/api/v1/devices/tower-a.gw-01.meter-1/series?${query}`;

    it('aggregates a point into windows, with times as ISO-8601 or epoch milliseconds, leaving gaps out', async () => {
      const iso = (ms: number) => new Date(ms).toISOString();
      const response = await app.inject({
        method: 'GET',
        headers: auth,
        url: url(`point=active_power_kw&from=${iso(t0)}&to=${t0 + 3 * HOUR}&every=30m&agg=max`),
      });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({
        device: 'tower-a.gw-01.meter-1',
        point: 'active_power_kw',
        unit: 'kW',
        agg: 'max',
        every_ms: 30 * MINUTE,
        from: t0,
        to: t0 + 3 * HOUR,
        points: [
          { ts: t0, value: 5 },
          { ts: t0 + 30 * MINUTE, value: 11 },
          { ts: t0 + 2 * HOUR, value: 100 },
        ],
      });
      const offset = await app.inject({ method: 'GET', headers: auth, url: url(`point=active_power_kw&from=2026-11-22T16:00:00%2B08:00&to=${t0 + HOUR}&every=1h`) });
      expect(offset.json<{ points: unknown[] }>().points).toEqual([{ ts: t0, value: 5.5 }]);
    });

    it.each([
      ['from=yesterday', 'querystring.from'],
      ['from=2026-11-22T08:00:00', 'querystring.from'],
      ['every=15', 'querystring.every'],
      ['every=0m', 'querystring.every'],
      ['agg=median', 'querystring.agg'],
      ['point=Active-Power', 'querystring.point'],
    ])('answers a bad parameter (%s) with a 400 naming %s', async (change, field) => {
      const query = new URLSearchParams({ point: 'active_power_kw', from: String(t0), to: String(t0 + HOUR), every: '15m' });
      const [name, value] = change.split('=') as [string, string];
      query.set(name, value);
      const response = await app.inject({ method: 'GET', headers: auth, url: url(query.toString()) });
      expect(response.statusCode).toBe(400);
      expect(response.json<ErrorResponse>().error).toMatchObject({ code: 'invalid_request', fields: [expect.objectContaining({ field })] });
    });

    it('refuses a range that would answer more than 10,000 windows, naming every and what would do', async () => {
      const response = await app.inject({ method: 'GET', headers: auth, url: url(`point=active_power_kw&from=${t0 - 30 * 24 * HOUR}&to=${t0}&every=1m`) });
      expect(response.statusCode).toBe(400);
      const { fields } = response.json<ErrorResponse>().error;
      expect(fields?.map((f) => f.field)).toEqual(['querystring.every']);
      expect(fields?.[0]?.message).toMatch(/43200 windows, more than 10000: use every=\d+s or longer/);
    });

    it('refuses an empty range, naming to, and a numeric aggregation of a non-numeric point, naming agg', async () => {
      const empty = await app.inject({ method: 'GET', headers: auth, url: url(`point=active_power_kw&from=${t0}&to=${t0}&every=1m`) });
      expect(empty.json<ErrorResponse>().error.fields).toEqual([{ field: 'querystring.to', message: 'must be after from' }]);
      await stores.registry.applyInventory('tower-a', 'gw-02', {
        v: 1,
        ts: t0,
        devices: [{ device: 'lift-1', kind: 'elevator', profile: 'x', comm: { status: 'online', last_good_read: t0, consecutive_failures: 0, total_errors: 0 } }],
      });
      const response = await app.inject({
        method: 'GET',
        headers: auth,
        url: `/api/v1/devices/tower-a.gw-02.lift-1/series?point=door_open&from=${t0}&to=${t0 + HOUR}&every=1m&agg=mean`,
      });
      expect(response.statusCode).toBe(400);
      expect(response.json<ErrorResponse>().error.fields).toEqual([
        { field: 'querystring.agg', message: 'mean needs a numeric point; door_open is boolean: use last or count' },
      ]);
    });

    it('answers an unknown device with a 404', async () => {
      const response = await app.inject({
        method: 'GET',
        headers: auth,
        url: `/api/v1/devices/tower-a.gw-01.nope/series?point=active_power_kw&from=${t0}&to=${t0 + HOUR}&every=1m`,
      });
      expect(response.statusCode).toBe(404);
    });
  });

  it('answers an unknown device with a 404 that names it', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/devices/tower-a.gw-01.nope/latest' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'device_not_found', message: 'no device "tower-a.gw-01.nope"' } });
  });

  it('answers a bad parameter with a 400 that names it', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: `/api/v1/devices/${'x'.repeat(220)}/latest` });
    expect(response.statusCode).toBe(400);
    expect(response.json<ErrorResponse>().error).toMatchObject({ code: 'invalid_request', fields: [expect.objectContaining({ field: 'params.id' })] });
  });

  it('answers an unknown route with a 404 in the same error shape', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorResponse>().error.code).toBe('route_not_found');
  });

  it('documents every route in /api/v1/openapi.json', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: '/api/v1/openapi.json' });
    const document = response.json<{
      openapi: string;
      info: { description: string };
      paths: Record<string, Record<string, unknown>>;
    }>();
    expect(document.openapi).toMatch(/^3\./);
    // Every route is in the document (the access test calls each one it lists); these are a sample.
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining([
      '/api/v1/alarms',
      '/api/v1/alarms/{id}/ack',
      '/api/v1/work-orders/{id}/transition',
      '/api/v1/audit',
      '/api/v1/auth/login',
      '/api/v1/auth/logout',
      '/api/v1/auth/me',
      '/api/v1/catalogue',
      '/api/v1/devices',
      '/api/v1/devices/{id}/commands',
      '/api/v1/devices/{id}/commands/{command}',
      '/api/v1/devices/{id}/events',
      '/api/v1/devices/{id}/latest',
      '/api/v1/devices/{id}/series',
      '/api/v1/enroll',
      '/api/v1/events',
      '/api/v1/gateways',
      '/api/v1/health',
      '/api/v1/sites',
      '/api/v1/sites/{id}/devices',
      '/api/v1/sites/{id}/gateways',
      '/api/v1/sites/{id}/gateways/{gateway}/enrolment-token',
      '/api/v1/sites/{id}/gateways/{gateway}/revoke',
      '/api/v1/tokens',
      '/api/v1/tokens/{id}',
      '/api/v1/users',
      '/api/v1/users/{id}',
    ]));
    // The WebSocket route is not an HTTP operation; the document describes it instead.
    expect(document.info.description).toContain('/api/v1/live');
    expect(document.paths['/api/v1/devices/{id}/latest']?.get).toMatchObject({
      parameters: [expect.objectContaining({ name: 'id', in: 'path', required: true })],
    });
    const series = document.paths['/api/v1/devices/{id}/series']?.get as { parameters: Array<{ name: string; in: string; required?: boolean }> };
    expect(series.parameters.map((p) => [p.in, p.name, p.required ?? false]).sort()).toEqual([
      ['path', 'id', true],
      ['query', 'agg', false],
      ['query', 'every', true],
      ['query', 'from', true],
      ['query', 'point', true],
      ['query', 'to', true],
    ]);
    expect(document.paths['/api/v1/sites/{id}/devices']?.get).toMatchObject({
      parameters: [expect.objectContaining({ name: 'id', in: 'path', required: true })],
    });
  });

  it('serves the dashboard at /', async () => {
    const response = await app.inject({ method: 'GET', headers: auth, url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('<title>Gatehouse');
  });
});
