import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/index.js';
import { memoryStores, silentLog } from './support.js';

interface ErrorResponse {
  error: { code: string; message: string; fields?: Array<{ field: string; message: string }> };
}

describe('the hub API', () => {
  let app: FastifyInstance;
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  const t0 = Date.UTC(2026, 10, 22, 8, 0, 0);

  beforeAll(async () => {
    stores = await memoryStores();
    app = await buildApp({
      log: silentLog,
      ...stores,
      health: {
        version: '0.0.0-test',
        startedAt: Date.now(),
        brokerClients: () => 0,
        ingestion: { messages: 0, readings_stored: 0, duplicates: 0, rejected: 0, store_retries: 0 },
      },
    });
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
    await stores.telemetry.writeBatch({
      site: 'tower-a',
      gateway: 'gw-01',
      seq: 1,
      readings: [{ device: 'meter-1', point: 'energy_import_kwh', ts: t0, value: 1234.5, quality: 'good' }],
    });
  });

  afterAll(async () => {
    await app.close();
    await stores.db.close();
  });

  it('answers health', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/health' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ok', version: '0.0.0-test' });
  });

  it('lists devices and serves the latest readings with catalogue units', async () => {
    const list = await app.inject({ method: 'GET', url: '/api/v1/devices' });
    expect(list.json<{ devices: unknown[] }>().devices).toEqual([expect.objectContaining({ id: 'tower-a.gw-01.meter-1', kind: 'electric_meter' })]);
    const latest = await app.inject({ method: 'GET', url: '/api/v1/devices/tower-a.gw-01.meter-1/latest' });
    expect(latest.json()).toEqual({
      device: 'tower-a.gw-01.meter-1',
      kind: 'electric_meter',
      readings: [{ point: 'energy_import_kwh', value: 1234.5, unit: 'kWh', quality: 'good', ts: t0 }],
    });
  });

  it('answers an unknown device with a 404 that names it', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/devices/tower-a.gw-01.nope/latest' });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ error: { code: 'device_not_found', message: 'no device "tower-a.gw-01.nope"' } });
  });

  it('answers a bad parameter with a 400 that names it', async () => {
    const response = await app.inject({ method: 'GET', url: `/api/v1/devices/${'x'.repeat(220)}/latest` });
    expect(response.statusCode).toBe(400);
    expect(response.json<ErrorResponse>().error).toMatchObject({ code: 'invalid_request', fields: [expect.objectContaining({ field: 'params.id' })] });
  });

  it('answers an unknown route with a 404 in the same error shape', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/nothing-here' });
    expect(response.statusCode).toBe(404);
    expect(response.json<ErrorResponse>().error.code).toBe('route_not_found');
  });

  it('documents every route in /api/v1/openapi.json', async () => {
    const response = await app.inject({ method: 'GET', url: '/api/v1/openapi.json' });
    const document = response.json<{
      openapi: string;
      info: { description: string };
      paths: Record<string, Record<string, unknown>>;
    }>();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths).sort()).toEqual([
      '/api/v1/catalogue',
      '/api/v1/devices',
      '/api/v1/devices/{id}/latest',
      '/api/v1/health',
    ]);
    // The WebSocket route is not an HTTP operation; the document describes it instead.
    expect(document.info.description).toContain('/api/v1/live');
    expect(document.paths['/api/v1/devices/{id}/latest']?.get).toMatchObject({
      parameters: [expect.objectContaining({ name: 'id', in: 'path', required: true })],
    });
  });

  it('serves the dashboard at /', async () => {
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/text\/html/);
    expect(response.body).toContain('<title>Gatehouse');
  });
});
