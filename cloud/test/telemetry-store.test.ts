import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, type SqlClient, type SqlTelemetryStore } from '../src/index.js';
import { memoryStores } from './support.js';

const t0 = Date.UTC(2026, 10, 22, 8, 0, 0);
const reading = (point: string, ts: number, value: number) => ({ device: 'meter-1', point, ts, value, quality: 'good' as const });

describe('the embedded telemetry store', () => {
  let db: SqlClient;
  let telemetry: SqlTelemetryStore;

  beforeAll(async () => {
    ({ db, telemetry } = await memoryStores());
  });
  afterAll(() => db.close());

  it('stores a batch and serves the latest value of each point', async () => {
    const outcome = await telemetry.writeBatch({
      site: 'tower-a',
      gateway: 'gw-01',
      seq: 1,
      readings: [reading('voltage_l1_v', t0, 230.1), reading('voltage_l1_v', t0 + 1000, 230.4), reading('frequency_hz', t0, 50)],
    });
    expect(outcome.duplicate).toBe(false);
    const latest = await telemetry.latest('tower-a.gw-01.meter-1');
    expect(latest).toEqual([
      { device: 'tower-a.gw-01.meter-1', point: 'frequency_hz', ts: t0, value: 50, quality: 'good' },
      { device: 'tower-a.gw-01.meter-1', point: 'voltage_l1_v', ts: t0 + 1000, value: 230.4, quality: 'good' },
    ]);
  });

  it('stores a replayed batch (same gateway, same seq) only once', async () => {
    const batch = { site: 'tower-a', gateway: 'gw-01', seq: 2, readings: [reading('energy_import_kwh', t0, 100)] };
    expect((await telemetry.writeBatch(batch)).duplicate).toBe(false);
    expect((await telemetry.writeBatch(batch)).duplicate).toBe(true);
    const rows = await db.query<{ n: number }>(`select count(*)::int as n from readings where point = 'energy_import_kwh'`);
    expect(rows[0]?.n).toBe(1);
  });

  it('keeps the newer latest value when an older reading arrives late', async () => {
    await telemetry.writeBatch({ site: 'tower-a', gateway: 'gw-01', seq: 3, readings: [reading('voltage_l1_v', t0 - 60_000, 199)] });
    const voltage = (await telemetry.latest('tower-a.gw-01.meter-1')).find((r) => r.point === 'voltage_l1_v');
    expect(voltage?.value).toBe(230.4);
  });

  it('runs migrations once: a second run applies nothing', async () => {
    expect(await migrate(db)).toEqual([]);
  });
});
