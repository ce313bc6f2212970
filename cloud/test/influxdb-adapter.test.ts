import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Influxd } from '../../tests/support/influxd.js';
import { AGGREGATIONS, InfluxHttp, InfluxTelemetryStore, type TelemetryReading } from '../src/index.js';
import { TEST_RETENTION } from './influx-support.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;

/** What only the InfluxDB adapter does: its schema, retention, rollup and InfluxDB's refusals. */
describe('the InfluxDB telemetry adapter', () => {
  let influxd: Influxd;
  let http: InfluxHttp;
  const connection = () => ({ url: influxd.url, database: 'hub' });

  beforeAll(async () => {
    influxd = await Influxd.create();
    http = new InfluxHttp(connection());
  });
  afterAll(() => influxd?.remove());

  it('sets up its database, retention policies and continuous query, idempotently, and follows changed retention', async () => {
    await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION });
    await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION });
    const policies = async () => (await http.query('SHOW RETENTION POLICIES ON "hub"'))[0]?.series?.[0]?.values ?? [];
    expect(await policies()).toEqual(
      expect.arrayContaining([
        ['raw', '2160h0m0s', '168h0m0s', 1, true],
        ['rollup_15m', '0s', '168h0m0s', 1, false],
      ]),
    );
    const queries = (await http.query('SHOW CONTINUOUS QUERIES'))[0]?.series?.find((s) => s.name === 'hub')?.values ?? [];
    expect(queries.map((row) => row[0])).toEqual(['gatehouse_rollup_15m']);

    await InfluxTelemetryStore.open({
      connection: connection(),
      retention: { raw: { literal: '14d', ms: 14 * DAY }, rollup: { literal: '520w', ms: 520 * 7 * DAY } },
    });
    expect(await policies()).toEqual(
      expect.arrayContaining([
        ['raw', '336h0m0s', '168h0m0s', 1, true],
        ['rollup_15m', '87360h0m0s', '168h0m0s', 1, false],
      ]),
    );
    await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION });
  });

  it('answers a series that reaches back past the raw retention from the 15-minute rollup, with the same figures', async () => {
    const now = () => T0 + DAY;
    const raw = await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION, clock: now });
    // The same store 91 days later: its raw readings are past their retention.
    const later = await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION, clock: () => now() + 91 * DAY });
    const meter = { site: 's', gateway: 'g', device: 's.g.meter-rollup', kind: 'electric_meter' };
    const readings: TelemetryReading[] = Array.from({ length: 40 }, (_, i) => ({
      ...meter,
      point: 'active_power_kw',
      ts: T0 + i * 4 * MINUTE + 1000,
      value: i % 7 === 3 ? null : (i * 37) % 11,
      quality: i % 7 === 3 ? 'bad' : 'good',
    }));
    expect(await raw.write(readings)).toEqual({ ok: true });
    await raw.backfillRollups(T0, T0 + 3 * HOUR);

    for (const every of [15 * MINUTE, HOUR]) {
      for (const agg of AGGREGATIONS) {
        const query = { device: { id: meter.device, kind: meter.kind }, point: 'active_power_kw', from: T0, to: T0 + 3 * HOUR, every, agg };
        const fromRaw = await raw.series(query);
        expect(fromRaw.length, `${agg} every ${every}`).toBeGreaterThan(1);
        const fromRollup = await later.series(query);
        expect(fromRollup.map((p) => p.ts), `${agg} every ${every}`).toEqual(fromRaw.map((p) => p.ts));
        fromRollup.forEach((point, i) => expect(point.value, `${agg} every ${every}`).toBeCloseTo(fromRaw[i]?.value as number, 9));
      }
    }
  });

  it('keeps readings of a device whose kind is not known yet, under "unclassified"', async () => {
    const store = await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION });
    const stranger = { site: 's', gateway: 'g', device: 's.g.new-1', kind: null };
    expect(await store.write([{ ...stranger, point: 'floor', ts: T0, value: 3, quality: 'good' }])).toEqual({ ok: true });
    expect(await store.latest({ id: stranger.device, kind: null })).toEqual([
      { device: stranger.device, point: 'floor', ts: T0, value: 3, quality: 'good' },
    ]);
    const [measurements] = await http.query('SHOW MEASUREMENTS');
    expect(measurements?.series?.[0]?.values.flat()).toContain('unclassified');
  });

  it('reports what InfluxDB refuses (a text value for a numeric field, a point past the retention) as rejected, not retried', async () => {
    const store = await InfluxTelemetryStore.open({ connection: connection(), retention: TEST_RETENTION });
    const meter = { site: 's', gateway: 'g', device: 's.g.meter-typed', kind: 'electric_meter' };
    expect(await store.write([{ ...meter, point: 'frequency_hz', ts: T0, value: 50, quality: 'good' }])).toEqual({ ok: true });
    const conflict = await store.write([{ ...meter, point: 'frequency_hz', ts: T0 + MINUTE, value: 'fifty', quality: 'good' }]);
    expect(conflict).toMatchObject({ ok: false, error: { code: 'rejected', store: 'influxdb' } });
    expect(!conflict.ok && conflict.error.message).toContain('field type conflict');
    const ancient = await store.write([{ ...meter, point: 'frequency_hz', ts: T0 - 200 * DAY, value: 50, quality: 'good' }]);
    expect(ancient).toMatchObject({ ok: false, error: { code: 'rejected' } });
    expect(!ancient.ok && ancient.error.message).toContain('retention');
  });
});
