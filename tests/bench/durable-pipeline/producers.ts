import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseConfig, Outbox } from '@gatehouse/edge';
import { SCHEMA_VERSION, topicFor, type DeviceInventoryEntry, type DevicesPayload, type Reading, type TelemetryPayload } from '@gatehouse/protocols';
// The uplink is not (yet) exported from @gatehouse/edge's index; its built module is used as is.
import { MqttUplink } from '@gatehouse/edge';

/** The reference meter's catalogue points: one poll of a meter is 12 readings with one timestamp. */
export const POINTS = [
  'voltage_l1_v',
  'voltage_l2_v',
  'voltage_l3_v',
  'current_l1_a',
  'current_l2_a',
  'current_l3_a',
  'active_power_kw',
  'reactive_power_kvar',
  'power_factor',
  'frequency_hz',
  'energy_import_kwh',
  'energy_export_kwh',
] as const;

export const SITE = 'bench';

export interface Workload {
  gateway: string;
  devices: number;
  /** Readings per telemetry message (the uplink's batch_max_readings). */
  batchReadings: number;
  batches: number;
  /** Timestamp of the first poll; polls are 1 s apart. */
  start: number;
}

export const totalReadings = (work: Workload) => work.batches * work.batchReadings;

/**
 * Batch `index` of a gateway's readings, in the order a gateway takes them: poll by poll, each
 * meter's 12 points together. Made when needed, as the agent makes them from its polls.
 */
export function batch(work: Workload, index: number): Reading[] {
  const readings: Reading[] = [];
  for (let n = index * work.batchReadings; n < (index + 1) * work.batchReadings; n++) {
    const poll = Math.floor(n / POINTS.length);
    const device = poll % work.devices;
    const time = Math.floor(poll / work.devices);
    readings.push({
      device: `meter-${device}`,
      point: POINTS[n % POINTS.length]!,
      ts: work.start + time * 1000,
      value: ((device * 31 + time * 7 + n) % 5000) / 10,
      quality: 'good',
    });
  }
  return readings;
}

export function inventory(work: Workload): DeviceInventoryEntry[] {
  return Array.from({ length: work.devices }, (_, device) => ({
    device: `meter-${device}`,
    kind: 'electric_meter',
    profile: 'reference-3ph-meter',
    comm: { status: 'online' as const, last_good_read: work.start, consecutive_failures: 0, total_errors: 0 },
  }));
}

export interface ProducerRun {
  /** Milliseconds from the first reading produced to the broker's last acknowledgement. */
  ackedMs: number;
}

/** The uplink's settings as an agent configuration gives them, with the defaults. */
function uplinkOptions(url: string, gateway: string) {
  const text = [
    `site: ${SITE}`,
    `gateway: ${gateway}`,
    `uplink: { url: "${url}" }`,
    'buses: [{ id: b, transport: tcp, host: 127.0.0.1, port: 502 }]',
    'devices: [{ id: d, bus: b, unit: 1, profile: reference-3ph-meter }]',
  ].join('\n');
  return parseConfig(text, 'bench.yaml').config.uplink;
}

type UplinkLog = ConstructorParameters<typeof MqttUplink>[4];
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as unknown as UplinkLog;

const until = async (condition: () => boolean) => {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2));
};

/**
 * Durable: the edge's own outbox (LMDB, each message committed before it is published) and
 * uplink (QoS 1, in-flight window, removal on PUBACK), fed as the agent feeds them: readings
 * handed over without waiting, at most `pending` appends not yet on disk.
 */
export async function durableProducer(url: string, work: Workload, started: () => void, pending = 64): Promise<ProducerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-outbox-'));
  const outbox = Outbox.open({ dir, quotaBytes: 16 * 1024 ** 3 });
  const identity = { site: SITE, gateway: work.gateway, bootId: 'bench', agentVersion: 'bench', configVersion: 'bench' };
  const uplink = new MqttUplink(uplinkOptions(url, work.gateway), identity, outbox, () => true, silent);
  try {
    uplink.setInventory(inventory(work));
    uplink.start();
    await until(() => uplink.connected);
    // The inventory (published on connect) first, so that the hub stores readings under the meters' kind.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const began = performance.now();
    started();
    let open = 0;
    let failure: Error | undefined;
    for (let index = 0; index < work.batches && failure === undefined; index++) {
      await until(() => open < pending);
      open++;
      uplink.addReadings(batch(work, index)).then(
        () => open--,
        (error: unknown) => (failure = error instanceof Error ? error : new Error(String(error))),
      );
    }
    if (failure !== undefined) throw failure;
    await until(() => uplink.counters.acknowledged >= work.batches && outbox.stats().depth.telemetry === 0);
    return { ackedMs: performance.now() - began };
  } finally {
    await uplink.stop();
    await outbox.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Not durable: the same messages published straight from memory with mqtt.js at QoS 1, with the
 * uplink's in-flight window, and no outbox.
 */
export async function directProducer(url: string, work: Workload, started: () => void, inFlight = 64): Promise<ProducerRun> {
  const client = await mqtt.connectAsync(url, { clientId: `gatehouse-edge-${SITE}-${work.gateway}`, clean: true });
  try {
    const inventoryPayload: DevicesPayload = { v: SCHEMA_VERSION, ts: Date.now(), devices: inventory(work) };
    await client.publishAsync(topicFor(SITE, work.gateway, 'devices'), JSON.stringify(inventoryPayload), { qos: 1, retain: true });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const topic = topicFor(SITE, work.gateway, 'telemetry');
    const began = performance.now();
    started();
    let open = 0;
    const acked = new Promise<void>((resolve, reject) => {
      let done = 0;
      let next = 0;
      const pump = () => {
        while (open < inFlight && next < work.batches) {
          const seq = next++;
          const payload: TelemetryPayload = { v: SCHEMA_VERSION, seq, readings: batch(work, seq) };
          open++;
          client.publish(topic, JSON.stringify(payload), { qos: 1 }, (error) => {
            open--;
            if (error) return reject(error);
            if (++done === work.batches) resolve();
            else pump();
          });
        }
      };
      pump();
    });
    await acked;
    return { ackedMs: performance.now() - began };
  } finally {
    await client.endAsync();
  }
}
