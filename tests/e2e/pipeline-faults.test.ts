import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePayload } from '@gatehouse/protocols';
import { Influxd } from '../support/influxd.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { EDGE_CLI, HUB_CLI, SIM_CLI } from '../support/paths.js';
import { metric } from '../support/metrics.js';
import { eventually, freePort, startNode, type Proc } from '../support/processes.js';

/**
 * The whole path edge → Mosquitto → hub → InfluxDB under the faults of issue 5, each counted:
 * readings produced (seen on the broker by an independent subscriber, by sequence number)
 * against readings stored (read back from influxd). The scenarios run one after the other on
 * one pipeline; after each, everything produced up to then must be stored exactly once.
 */

const SITE = 'tower-a';
const GATEWAY = 'gw-faults';
const DEVICE_PREFIX = `${SITE}.${GATEWAY}.`;
/** 9 meters × 12 points every 100 ms: about 1,080 readings a second. */
const METERS = 9;
const POLL_MS = 100;
const NOMINAL_READINGS_PER_S = (METERS * 12 * 1000) / POLL_MS;
const BROKER_OUTAGE_MS = 120_000;
const INFLUX_OUTAGE_MS = 60_000;
/** How long a scenario may take to catch up once its fault is over. */
const CATCH_UP_MS = 240_000;
/**
 * Growth of the hub's resident memory allowed while it waits for InfluxDB (0–4 MiB seen on the
 * reference machine). Holding back is what keeps it flat: Mosquitto sends a subscriber at most
 * max_inflight_messages (20) unacknowledged messages and queues the rest itself, so what grows
 * in the hub meanwhile is its own retrying, per attempt or per second.
 */
const RSS_GROWTH_BOUND = 24 * 1024 * 1024;

const key = (device: string, point: string, ts: number) => `${device}\t${point}\t${ts}`;

/** `eventually`, asking at most once per `intervalMs`: for probes that cost a query. */
const every = <T>(intervalMs: number, probe: () => Promise<T | undefined>) => async () => {
  await sleep(intervalMs);
  return probe();
};

/**
 * What the gateway produced, as the broker saw it: a persistent subscriber of its own records
 * every message by sequence number, independently of the hub. Redeliveries of a sequence number
 * it has are counted, not added.
 */
class Tally {
  /** The readings of each telemetry message, by seq, as keys. */
  readonly telemetry = new Map<number, string[]>();
  /** Sequence numbers of the gateway's other channels (alarms, events share the counter). */
  readonly others = new Set<number>();
  redelivered = 0;

  private constructor(readonly client: MqttClient) {}

  static async start(url: string): Promise<Tally> {
    // A persistent session with a queue of its own at the broker, so that nothing published
    // while it reconnects after an outage is missed.
    const client = await mqtt.connectAsync(url, { clientId: 'pipeline-tally', clean: false, reconnectPeriod: 200 });
    const tally = new Tally(client);
    client.on('message', (topic, payload) => tally.record(topic, payload));
    const root = `gatehouse/v1/${SITE}/${GATEWAY}`;
    await client.subscribeAsync([`${root}/telemetry`, `${root}/alarms`, `${root}/events`], { qos: 1 });
    return tally;
  }

  private record(topic: string, payload: Buffer): void {
    const channel = topic.split('/').at(-1);
    if (channel === 'telemetry') {
      const decoded = decodePayload('telemetry', payload);
      if (!decoded.ok) throw new Error(`the gateway sent invalid telemetry: ${JSON.stringify(decoded.issues)}`);
      const { seq, readings } = decoded.payload;
      if (this.telemetry.has(seq)) this.redelivered++;
      else this.telemetry.set(seq, readings.map((reading) => key(reading.device, reading.point, reading.ts)));
    } else if (channel === 'alarms' || channel === 'events') {
      const decoded = decodePayload(channel, payload);
      if (decoded.ok) this.others.add(decoded.payload.seq);
    }
  }

  private has(seq: number): boolean {
    return this.telemetry.has(seq) || this.others.has(seq);
  }

  /** The highest sequence number up to which every one has arrived (-1: none). */
  contiguousUpTo(): number {
    let seq = -1;
    while (this.has(seq + 1)) seq++;
    return seq;
  }

  highest(): number {
    let highest = -1;
    for (const seq of this.telemetry.keys()) highest = Math.max(highest, seq);
    for (const seq of this.others) highest = Math.max(highest, seq);
    return highest;
  }

  /** Sequence numbers below the highest that have not arrived. */
  missing(): number[] {
    const missing: number[] = [];
    for (let seq = 0; seq < this.highest(); seq++) if (!this.has(seq)) missing.push(seq);
    return missing;
  }

  /** The readings of every telemetry message up to `last`, in sequence order. */
  readingsUpTo(last: number): string[] {
    const readings: string[] = [];
    for (let seq = 0; seq <= last; seq++) readings.push(...(this.telemetry.get(seq) ?? []));
    return readings;
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}

interface InfluxSeries {
  name: string;
  columns: string[];
  values: unknown[][];
}

/** Runs InfluxQL statements against the hub's database; one result per statement. */
async function influxQuery(url: string, statements: string[]): Promise<Array<{ series?: InfluxSeries[]; error?: string; partial?: boolean }>> {
  const query = new URLSearchParams({ db: 'gatehouse', epoch: 'ms', q: statements.join(';') });
  const response = await fetch(`${url}/query?${query.toString()}`);
  if (!response.ok) throw new Error(`influxd answered ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { results: Array<{ series?: InfluxSeries[]; error?: string; partial?: boolean }> };
  for (const result of body.results) {
    if (result.error) throw new Error(`InfluxQL: ${result.error}`);
    if (result.partial) throw new Error('influxd cut its answer short (partial)');
  }
  return body.results;
}

const deviceClause = (device: string, upTo: number) => `"device" = '${DEVICE_PREFIX}${device}' AND time <= ${upTo}ms`;

/** Readings stored per device up to its cutoff, counted by InfluxQL (the `.quality` field is always written). */
async function storedCounts(url: string, cutoffs: Map<string, number>): Promise<Map<string, number>> {
  const devices = [...cutoffs.keys()];
  // Every measurement: a reading stored under a second kind would be a duplicate, and counted.
  const results = await influxQuery(
    url,
    devices.map((device) => `SELECT count(*) FROM /.*/ WHERE ${deviceClause(device, cutoffs.get(device)!)}`),
  );
  return new Map(
    devices.map((device, index) => {
      let count = 0;
      for (const series of results[index]?.series ?? []) {
        series.columns.forEach((column, c) => {
          if (column.startsWith('count_') && column.endsWith('.quality')) count += Number(series.values[0]?.[c] ?? 0);
        });
      }
      return [device, count];
    }),
  );
}

/** Every reading stored per device up to its cutoff, as keys, duplicates kept. */
async function storedReadings(url: string, cutoffs: Map<string, number>): Promise<string[]> {
  const readings: string[] = [];
  for (const [device, upTo] of cutoffs) {
    const [result] = await influxQuery(url, [`SELECT * FROM /.*/ WHERE ${deviceClause(device, upTo)}`]);
    for (const series of result?.series ?? []) {
      const time = series.columns.indexOf('time');
      const qualities = series.columns.flatMap((column, c) => (column.endsWith('.quality') ? [[column.slice(0, -'.quality'.length), c] as const] : []));
      for (const row of series.values) {
        for (const [point, c] of qualities) if (row[c] !== null && row[c] !== undefined) readings.push(key(device, point, Number(row[time])));
      }
    }
  }
  return readings;
}

/** Each device's reading timestamps, in the order given, without repeats of one poll's. */
function timestampsByDevice(readings: readonly string[]): Map<string, number[]> {
  const byDevice = new Map<string, number[]>();
  for (const reading of readings) {
    const [device, , ts] = reading.split('\t') as [string, string, string];
    const list = byDevice.get(device) ?? [];
    if (list.at(-1) !== Number(ts)) list.push(Number(ts));
    byDevice.set(device, list);
  }
  return byDevice;
}

const increasing = (list: readonly number[]) => list.every((value, index) => index === 0 || value > list[index - 1]!);

describe('store-and-forward through Mosquitto, the hub and InfluxDB, under faults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pipeline-faults-'));
  let broker: Mosquitto;
  let influxd: Influxd;
  let hub: Proc | undefined;
  let hubMetricsUrl = '';
  let sim: Proc;
  let agent: Proc | undefined;
  let agentMetricsUrl = '';
  let tally: Tally;
  let config: string;
  let httpPort: number;
  const hubEnv = () => ({
    GATEHOUSE_MQTT_URL: broker.url,
    GATEHOUSE_INFLUX_URL: influxd.url,
    GATEHOUSE_DATA_DIR: join(dir, 'hub'),
    GATEHOUSE_HTTP_PORT: String(httpPort),
    GATEHOUSE_HUB_ID: 'faults',
  });

  const startHub = async () => {
    hub = startNode('hub', HUB_CLI, [], hubEnv());
    hubMetricsUrl = `${String((await hub.waitForLog('hub ready', 60_000)).http_url)}/metrics`;
  };
  const startAgent = async () => {
    agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
    agentMetricsUrl = String((await agent.waitForLog('agent started')).metrics_url);
  };

  beforeAll(async () => {
    // Mosquitto holds, without a bound, what waits for a hub that is down or holding back: the
    // default max_queued_messages (1,000 per client) would silently drop the rest.
    broker = await startMosquitto(['max_queued_messages 0']);
    influxd = await Influxd.create();
    httpPort = await freePort();
    await startHub();
    tally = await Tally.start(broker.url);

    const simPort = await freePort();
    const units = Array.from({ length: METERS }, (_, index) => index + 1);
    sim = startNode('simulator', SIM_CLI, ['meter', '--port', String(simPort), '--units', units.join(','), '--tick-ms', String(POLL_MS)]);
    await sim.waitForLog('simulator ready');
    config = join(dir, 'edge.yaml');
    writeFileSync(
      config,
      [
        `site: ${SITE}`,
        `gateway: ${GATEWAY}`,
        `data_dir: ${join(dir, 'edge')}`,
        // A backlog drain that the hub can follow beside the live readings.
        `uplink: { url: "${broker.url}", reconnect_max_ms: 1000, backlog_messages_per_s: 300 }`,
        'metrics: { port: 0 }',
        'buses:',
        `  - { id: plant-room, transport: tcp, host: 127.0.0.1, port: ${simPort}, timeout_ms: 1000, max_concurrent: 3 }`,
        'devices:',
        ...units.map((unit) => `  - { id: meter-${unit}, bus: plant-room, unit: ${unit}, profile: reference-3ph-meter, poll_interval_ms: ${POLL_MS} }`),
      ].join('\n'),
    );
    await startAgent();
  });

  afterAll(async () => {
    await agent?.stop();
    await tally?.stop();
    await hub?.stop();
    await sim?.stop();
    await broker?.close();
    await influxd?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * After a fault: waits until the gateway's backlog has drained and the tally has every
   * sequence number, then until InfluxDB holds what was produced up to there, and compares.
   * Returns what it compared, for the scenario's own assertions.
   */
  async function everythingStored(scenario: string, fault: { from: number; to: number }) {
    const caughtUp = Date.now();
    await eventually(
      every(1000, async () => ((await metric(agentMetricsUrl, 'gatehouse_outbox_messages')) <= 20 ? true : undefined)),
      `${scenario}: the agent's backlog to drain`,
      CATCH_UP_MS,
    );
    const last = await eventually(
      every(1000, async () => {
        const upTo = tally.contiguousUpTo();
        if (upTo >= 0 && upTo >= tally.highest() - 20) return upTo;
        const missing = tally.missing();
        const figures = await Promise.all(
          ['gatehouse_outbox_messages', 'gatehouse_uplink_published_total', 'gatehouse_uplink_acknowledged_total'].map((name) => metric(agentMetricsUrl, name)),
        );
        throw new Error(
          `${missing.length} missing below ${tally.highest()}: ${missing.slice(0, 10).join(', ')}…; ` +
            `agent outbox, published, acknowledged: ${figures.join(', ')}`,
        );
      }),
      `${scenario}: every sequence number at the tally`,
      60_000,
    );
    const produced = tally.readingsUpTo(last);
    // Per device, what was produced up to the checkpoint ends at its newest reading there:
    // a device's readings are numbered in the order they were taken.
    const producedTimes = timestampsByDevice(produced);
    const cutoffs = new Map([...producedTimes].map(([device, times]) => [device, times.at(-1)!]));
    const producedCounts = new Map<string, number>();
    for (const reading of produced) {
      const device = reading.split('\t')[0]!;
      producedCounts.set(device, (producedCounts.get(device) ?? 0) + 1);
    }
    const counts = await eventually(
      every(2000, async () => {
        const stored = await storedCounts(influxd.url, cutoffs);
        if ([...producedCounts].every(([device, count]) => (stored.get(device) ?? 0) >= count)) return stored;
        throw new Error(`stored ${JSON.stringify(Object.fromEntries(stored))} of ${JSON.stringify(Object.fromEntries(producedCounts))}`);
      }),
      `${scenario}: InfluxDB to hold what was produced`,
      CATCH_UP_MS,
    );
    const stored = await storedReadings(influxd.url, cutoffs);
    const storedSet = new Set(stored);
    const duringFault = produced.filter((reading) => {
      const ts = Number(reading.split('\t')[2]);
      return ts > fault.from && ts < fault.to;
    }).length;
    console.log(
      `${scenario}: produced ${produced.length} readings in ${last + 1} messages ` +
        `(${duringFault} taken during the fault, ${tally.redelivered} redeliveries so far), stored ${stored.length}, ` +
        `caught up in ${Math.round((Date.now() - caughtUp) / 1000)} s`,
    );
    return { produced, producedTimes, producedCounts, counts, stored, storedSet, duringFault };
  }

  function expectStoredEqualsProduced(result: Awaited<ReturnType<typeof everythingStored>>, fault: { from: number; to: number }) {
    const { produced, producedTimes, producedCounts, counts, stored, storedSet, duringFault } = result;
    // The gateway never numbers a reading twice, and readings flowed during the fault.
    expect(new Set(produced).size).toBe(produced.length);
    expect(duringFault).toBeGreaterThan((0.5 * NOMINAL_READINGS_PER_S * (fault.to - fault.from)) / 1000);
    // Counted by InfluxQL, per device: stored = produced.
    expect(Object.fromEntries(counts)).toEqual(Object.fromEntries(producedCounts));
    // The exact set, and no reading stored twice (under two kinds, say).
    expect(stored.length).toBe(storedSet.size);
    expect(stored.length).toBe(produced.length);
    expect(produced.filter((reading) => !storedSet.has(reading))).toEqual([]);
    // Order per device: taken in increasing time, numbered in that order, stored with those times.
    const storedTimes = timestampsByDevice(stored);
    expect(storedTimes.size).toBe(METERS);
    for (const [device, times] of producedTimes) {
      expect(increasing(times), `${device}'s readings are numbered in the order they were taken`).toBe(true);
      expect(storedTimes.get(device), `${device}'s stored timestamps`).toEqual(times);
    }
  }

  it(
    'stores every reading exactly once, in order per device, across broker, agent, hub and InfluxDB faults',
    async () => {
      await eventually(async () => (tally.telemetry.size >= 50 ? true : undefined), 'telemetry at the broker');

      // 1. The broker stopped for 2 minutes while about 1,000 readings a second are taken.
      const brokerDown = Date.now();
      await broker.stop();
      await sleep(BROKER_OUTAGE_MS);
      await broker.start();
      const brokerFault = { from: brokerDown, to: Date.now() };
      expectStoredEqualsProduced(await everythingStored('broker stopped for 2 minutes', brokerFault), brokerFault);

      // 2. The agent killed with SIGKILL during an outage, and restarted: it sends what its
      // outbox kept, with the same sequence numbers.
      const outageFrom = Date.now();
      await broker.stop();
      await eventually(async () => ((await metric(agentMetricsUrl, 'gatehouse_outbox_messages')) >= 300 ? true : undefined), 'a backlog');
      agent!.child.kill('SIGKILL');
      await agent!.exited;
      await startAgent();
      await eventually(async () => ((await metric(agentMetricsUrl, 'gatehouse_outbox_messages')) >= 600 ? true : undefined), 'more backlog');
      await broker.start();
      const agentFault = { from: outageFrom, to: Date.now() };
      expectStoredEqualsProduced(await everythingStored('agent killed during an outage', agentFault), agentFault);

      // 3. The hub killed with SIGKILL while it ingests, and restarted: the broker redelivers
      // what it had not acknowledged and keeps what came meanwhile.
      const hubDown = Date.now();
      const storedBefore = await metric(hubMetricsUrl, 'gatehouse_ingest_readings_stored_total');
      expect(storedBefore).toBeGreaterThan(0);
      hub!.child.kill('SIGKILL');
      await hub!.exited;
      await sleep(5000);
      await startHub();
      const hubFault = { from: hubDown, to: Date.now() };
      expectStoredEqualsProduced(await everythingStored('hub killed under load', hubFault), hubFault);

      // 4. InfluxDB stopped for a minute: the hub stops acknowledging and waits, its memory
      // bounded, while the broker holds the backlog.
      const influxDown = Date.now();
      const rssBefore = await metric(hubMetricsUrl, 'process_resident_memory_bytes');
      await influxd.stop();
      const rss: number[] = [];
      const ingested: number[] = [];
      while (Date.now() - influxDown < INFLUX_OUTAGE_MS) {
        await sleep(1000);
        rss.push(await metric(hubMetricsUrl, 'process_resident_memory_bytes'));
        ingested.push(await metric(hubMetricsUrl, 'gatehouse_ingest_readings_stored_total'));
      }
      const holding = await metric(hubMetricsUrl, 'gatehouse_ingest_store_available');
      await influxd.start();
      const influxFault = { from: influxDown, to: Date.now() };
      const result = await everythingStored('InfluxDB stopped for 1 minute', influxFault);
      const peak = Math.max(...rss);
      console.log(
        `InfluxDB stopped for 1 minute: hub resident memory ${Math.round(rssBefore / 2 ** 20)} MiB before, ` +
          `peak ${Math.round(peak / 2 ** 20)} MiB, last ${Math.round(rss.at(-1)! / 2 ** 20)} MiB while waiting`,
      );
      expectStoredEqualsProduced(result, influxFault);
      // It held back rather than dropping: nothing was stored after the first seconds, and it said so.
      expect(holding).toBe(0);
      expect(ingested.at(-1)).toBe(ingested[5]);
      expect(peak - rssBefore).toBeLessThan(RSS_GROWTH_BOUND);
      // Flat: the second half of the outage grew no more than the first allowed.
      expect(Math.max(...rss.slice(rss.length / 2)) - Math.max(...rss.slice(0, rss.length / 2))).toBeLessThan(RSS_GROWTH_BOUND / 2);
    },
    20 * 60_000,
  );
});
