/**
 * `npm run bench -- durable-pipeline`: readings through the whole durable path — the edge's
 * outbox (LMDB) and uplink (MQTT QoS 1) → Mosquitto (persistent, unbounded queue) → the hub
 * (`gatehouse-hub`, a separate process, with its ledger in PGlite) → InfluxDB — against the same
 * pipeline with the outbox off (the same messages published from memory with mqtt.js at QoS 1),
 * so that the cost of durability shows. Each run is timed from the first reading produced to the
 * hub having stored the last (its own counter), then InfluxDB is counted: `lost` is produced minus
 * stored there, over every run.
 *
 * BENCH_READINGS (default 600,000) per run, BENCH_RUNS (default 3) runs of each, alternating;
 * BENCH_BATCH readings per telemetry message (default 1,000, the agent's batch_max_readings).
 * Ends with one line holding a JSON object of the figures (medians).
 */
import { performance } from 'node:perf_hooks';
import { durableProducer, directProducer, totalReadings, SITE, type ProducerRun, type Workload } from './durable-pipeline/producers.js';
import { cpuSeconds, listenerPid } from './durable-pipeline/cpu.js';
import { INFLUX_DATABASE, startPipelineServices, type PipelineServices } from './durable-pipeline/services.js';

const READINGS = Number(process.env.BENCH_READINGS ?? 600_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);
const DEVICES = 100;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const round = (value: number, digits = 0) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Readings of a gateway in InfluxDB, by InfluxQL: the `.quality` field is written with every reading. */
async function storedInInflux(services: PipelineServices, gateway: string): Promise<number> {
  const query = new URLSearchParams({ db: INFLUX_DATABASE, q: `SELECT count(*) FROM /.*/ WHERE "gateway" = '${gateway}' AND "site" = '${SITE}'` });
  const body = (await (await fetch(`${services.influxd.url}/query?${query.toString()}`)).json()) as {
    results: Array<{ series?: Array<{ columns: string[]; values: unknown[][] }>; error?: string }>;
  };
  const result = body.results[0];
  if (result?.error) throw new Error(`InfluxQL: ${result.error}`);
  let count = 0;
  for (const series of result?.series ?? []) {
    series.columns.forEach((column, index) => {
      if (column.startsWith('count_') && column.endsWith('.quality')) count += Number(series.values[0]?.[index] ?? 0);
    });
  }
  return count;
}

interface RunFigures {
  mode: 'durable' | 'nondurable';
  readings: number;
  /** Produced → stored by the hub. */
  readingsPerS: number;
  /** Produced → acknowledged by the broker (the edge side alone). */
  edgeReadingsPerS: number;
  /** CPU cores used over the run, per process. */
  cores: Record<string, number>;
}

async function run(
  services: PipelineServices,
  mode: RunFigures['mode'],
  gateway: string,
  pids: Record<string, number>,
): Promise<RunFigures> {
  const work: Workload = { gateway, devices: DEVICES, batchReadings: BATCH, batches: Math.ceil(READINGS / BATCH), start: Date.now() - 3_600_000 };
  const readings = totalReadings(work);
  const storedBefore = await services.hub.metric('gatehouse_ingest_readings_stored_total');
  let began = 0;
  let cpuBefore: Record<string, number> = {};
  const started = () => {
    began = performance.now();
    cpuBefore = cpuSeconds(pids);
  };
  const producer: ProducerRun = await (mode === 'durable' ? durableProducer : directProducer)(services.broker.url, work, started);
  for (;;) {
    const stored = (await services.hub.metric('gatehouse_ingest_readings_stored_total')) - storedBefore;
    if (stored >= readings) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const seconds = (performance.now() - began) / 1000;
  const cpuAfter = cpuSeconds(pids);
  const cores = Object.fromEntries(Object.keys(pids).map((name) => [name, round((cpuAfter[name]! - cpuBefore[name]!) / seconds, 2)]));
  const figures = { mode, readings, readingsPerS: readings / seconds, edgeReadingsPerS: readings / (producer.ackedMs / 1000), cores };
  process.stdout.write(
    `${mode.padEnd(10)} ${gateway}: ${readings} readings stored in ${seconds.toFixed(2)} s = ${Math.round(figures.readingsPerS)}/s ` +
      `(edge side ${Math.round(figures.edgeReadingsPerS)}/s); cores: ${JSON.stringify(cores)}\n`,
  );
  return figures;
}

async function main(): Promise<void> {
  const wallStarted = performance.now();
  const services = await startPipelineServices();
  try {
    const pids = {
      bench: process.pid,
      hub: services.hub.proc!.child.pid!,
      mosquitto: await listenerPid(services.broker.port),
      influxd: await listenerPid(Number(new URL(services.influxd.url).port)),
    };
    // A first run of each warms up (JIT, influxd's shard, PGlite's caches) and is not counted.
    const gateways: string[] = [];
    let produced = 0;
    const results: RunFigures[] = [];
    for (let index = -1; index < RUNS; index++) {
      for (const mode of ['durable', 'nondurable'] as const) {
        const gateway = index < 0 ? `gw-warm-${mode}` : `gw-${mode}-${index}`;
        gateways.push(gateway);
        const figures = await run(services, mode, gateway, pids);
        produced += figures.readings;
        if (index >= 0) results.push(figures);
      }
    }
    // Counted again where they are kept: InfluxDB, every run's gateway, warm-up included.
    let stored = 0;
    for (const gateway of gateways) stored += await storedInInflux(services, gateway);
    const of = (mode: RunFigures['mode']) => results.filter((result) => result.mode === mode);
    const durable = of('durable');
    const nondurable = of('nondurable');
    const medianCores = (list: RunFigures[]) => Object.fromEntries(Object.keys(pids).map((name) => [name, round(median(list.map((r) => r.cores[name]!)), 2)]));
    const figures = {
      benchmark: 'durable-pipeline',
      readings_per_run: durable[0]?.readings ?? 0,
      runs: RUNS,
      readings_per_message: BATCH,
      devices: DEVICES,
      durable_readings_per_s: Math.round(median(durable.map((result) => result.readingsPerS))),
      nondurable_readings_per_s: Math.round(median(nondurable.map((result) => result.readingsPerS))),
      durable_runs: durable.map((result) => Math.round(result.readingsPerS)),
      nondurable_runs: nondurable.map((result) => Math.round(result.readingsPerS)),
      durable_edge_readings_per_s: Math.round(median(durable.map((result) => result.edgeReadingsPerS))),
      nondurable_edge_readings_per_s: Math.round(median(nondurable.map((result) => result.edgeReadingsPerS))),
      durable_cores: medianCores(durable),
      nondurable_cores: medianCores(nondurable),
      produced,
      stored,
      lost: produced - stored,
      hub_store_retries: await services.hub.metric('gatehouse_ingest_store_retries_total'),
      hub_duplicates: await services.hub.metric('gatehouse_ingest_duplicates_total'),
      wall_s: round((performance.now() - wallStarted) / 1000, 1),
    };
    const complaints = services.hub.proc!.logs().filter((line) => Number(line.level) >= 40);
    for (const line of complaints.slice(0, 5)) process.stdout.write(`hub: ${JSON.stringify(line)}\n`);
    process.stdout.write(`${JSON.stringify(figures)}\n`);
    if (figures.lost !== 0) process.exitCode = 1;
  } finally {
    await services.close();
  }
}

await main();
