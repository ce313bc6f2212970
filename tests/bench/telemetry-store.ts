/**
 * `npm run bench -- telemetry-store`: writes N readings (10 million unless BENCH_READINGS says
 * otherwise) through the hub's InfluxDB adapter, and the same line protocol straight to
 * influxd's /write with the same batch size and concurrency (influxd's own ceiling, the peer),
 * each into a fresh influxd started here; then times "latest" and a 30-day series at 15-minute
 * windows for one device among 1,000. Ends with one line holding a JSON object of the figures.
 *
 * Both sides are timed getting the same readings into influxd: the peer posts line protocol
 * encoded beforehand, the adapter is handed batches of readings and does its encoding, batching
 * and HTTP inside the timed part.
 */
import { performance } from 'node:perf_hooks';
import {
  DEFAULT_WRITE_QUEUE_OPTIONS,
  InfluxHttp,
  InfluxTelemetryStore,
  LineEncoder,
  RAW_POLICY,
  type TelemetryReading,
} from '@gatehouse/cloud';
import { Influxd } from '../support/influxd.js';

const READINGS = Number(process.env.BENCH_READINGS ?? 10_000_000);
const DEVICES = 1_000;
const POINTS = ['active_power_kw', 'energy_import_kwh'] as const;
const BATCH_READINGS = 5_000;
const { maxLines: LINES_PER_REQUEST, maxInFlight: CONCURRENCY } = DEFAULT_WRITE_QUEUE_OPTIONS;
const DAY_MS = 86_400_000;
const SPAN_MS = 30 * DAY_MS;
const WINDOW_MS = 15 * 60_000;
const LATEST_RUNS = 200;
const SERIES_RUNS = 100;
const RETENTION = { raw: { literal: '90d', ms: 90 * DAY_MS }, rollup: { literal: 'INF', ms: Infinity } };

const timestamps = Math.max(1, Math.floor(READINGS / (DEVICES * POINTS.length)));
const total = timestamps * DEVICES * POINTS.length;
const batches = Math.ceil(total / BATCH_READINGS);
const end = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS;
const start = end - SPAN_MS;
const stepMs = SPAN_MS / timestamps;

const devices = Array.from({ length: DEVICES }, (_, index) => {
  const site = `site-${String(index % 50).padStart(2, '0')}`;
  const gateway = `gw-${String(index % 20).padStart(2, '0')}`;
  return { site, gateway, device: `${site}.${gateway}.meter-${String(index).padStart(4, '0')}`, kind: 'electric_meter' };
});

/**
 * Batch `index` of the readings, in the order gateways send them: time by time, each device's
 * points together. Made when needed (as ingestion makes them from a payload), so that memory
 * stays flat and the garbage is young.
 */
function batch(index: number): TelemetryReading[] {
  const readings: TelemetryReading[] = [];
  const firstPair = (index * BATCH_READINGS) / POINTS.length;
  const lastPair = Math.min(firstPair + BATCH_READINGS / POINTS.length, total / POINTS.length);
  for (let pair = firstPair; pair < lastPair; pair++) {
    const t = Math.floor(pair / DEVICES);
    const d = pair % DEVICES;
    const { site, gateway, device, kind } = devices[d]!;
    const ts = Math.round(start + t * stepMs);
    readings.push({ site, gateway, device, kind, point: POINTS[0], ts, value: ((d * 7 + t) % 500) / 10, quality: 'good' });
    readings.push({ site, gateway, device, kind, point: POINTS[1], ts, value: 10_000 + t * 0.25 + d, quality: 'good' });
  }
  return readings;
}

/** Runs `work` for 0..count-1 with `CONCURRENCY` workers; returns the seconds it took. */
async function timed(count: number, work: (index: number) => Promise<void>): Promise<number> {
  let next = 0;
  const began = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < count) await work(next++);
    }),
  );
  return (performance.now() - began) / 1000;
}

/**
 * The peer: the adapter's own line protocol for the same readings, encoded beforehand (untimed),
 * then posted one batch per request with the same concurrency.
 */
async function direct(): Promise<number> {
  const influxd = await Influxd.create();
  try {
    const http = new InfluxHttp({ url: influxd.url, database: 'bench_direct' });
    await http.query('CREATE DATABASE "bench_direct"', { method: 'POST' });
    await http.query(`CREATE RETENTION POLICY "${RAW_POLICY}" ON "bench_direct" DURATION 90d REPLICATION 1 SHARD DURATION 7d DEFAULT`, {
      method: 'POST',
    });
    // One request per batch, as the adapter sends a batch when a request slot is free.
    const encoder = new LineEncoder();
    const bodies = Array.from({ length: batches }, (_, index) =>
      encoder
        .encode(batch(index), LINES_PER_REQUEST)
        .map((chunk) => chunk.text)
        .join(''),
    );
    return await timed(bodies.length, (index) => http.write(bodies[index] as string, RAW_POLICY));
  } finally {
    await influxd.remove();
  }
}

/** Ours: batches of readings through the hub's InfluxDB adapter, as ingestion hands them over. */
async function adapter(): Promise<{ seconds: number; influxd: Influxd; store: InfluxTelemetryStore }> {
  const influxd = await Influxd.create();
  const store = await InfluxTelemetryStore.open({ connection: { url: influxd.url, database: 'bench_adapter' }, retention: RETENTION });
  const seconds = await timed(batches, async (index) => {
    const result = await store.write(batch(index));
    if (!result.ok) throw result.error;
  });
  return { seconds, influxd, store };
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

async function latencies(runs: number, query: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 5; i++) await query();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const began = performance.now();
    await query();
    samples.push(performance.now() - began);
  }
  return { p50: round(percentile(samples, 50), 2), p99: round(percentile(samples, 99), 2) };
}

const round = (value: number, digits = 0) => Number(value.toFixed(digits));
const log = (message: string) => process.stdout.write(`${message}\n`);

const wallStart = performance.now();
log(`telemetry-store: ${total} readings, ${DEVICES} devices × ${POINTS.length} points × ${timestamps} timestamps over 30 days`);
log(`batches of ${BATCH_READINGS} readings (${BATCH_READINGS / POINTS.length} lines), one request each, ${CONCURRENCY} in flight`);

const directSeconds = await direct();
const directRate = total / directSeconds;
log(`direct /write: ${directSeconds.toFixed(1)} s, ${Math.round(directRate)} readings/s`);

const { seconds: adapterSeconds, influxd, store } = await adapter();
const adapterRate = total / adapterSeconds;
log(`adapter:       ${adapterSeconds.toFixed(1)} s, ${Math.round(adapterRate)} readings/s`);

try {
  const device = { id: devices[DEVICES / 2]!.device, kind: 'electric_meter' };
  const latest = await latencies(LATEST_RUNS, () => store.latest(device));
  const windows = await store.series({ device, point: POINTS[0], from: start, to: end, every: WINDOW_MS, agg: 'mean' });
  const series = await latencies(SERIES_RUNS, () => store.series({ device, point: POINTS[0], from: start, to: end, every: WINDOW_MS, agg: 'mean' }));
  log(`latest: p50 ${latest.p50} ms, p99 ${latest.p99} ms; series (${windows.length} windows): p50 ${series.p50} ms, p99 ${series.p99} ms`);
  log(
    JSON.stringify({
      benchmark: 'telemetry-store',
      readings: total,
      devices: DEVICES,
      points_per_device: POINTS.length,
      batch_readings: BATCH_READINGS,
      lines_per_request: BATCH_READINGS / POINTS.length,
      concurrency: CONCURRENCY,
      adapter_points_per_s: Math.round(adapterRate),
      direct_points_per_s: Math.round(directRate),
      ratio: round(adapterRate / directRate, 3),
      adapter_write_s: round(adapterSeconds, 1),
      direct_write_s: round(directSeconds, 1),
      latest_p50_ms: latest.p50,
      latest_p99_ms: latest.p99,
      series_p50_ms: series.p50,
      series_p99_ms: series.p99,
      series_windows: windows.length,
      wall_s: round((performance.now() - wallStart) / 1000),
    }),
  );
} finally {
  await store.close();
  await influxd.remove();
}
