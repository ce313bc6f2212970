import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodePayload, type AlarmsPayload, type TelemetryPayload } from '@gatehouse/protocols';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { EDGE_CLI, SIM_CLI } from '../support/paths.js';
import { eventually, freePort, startNode, type Proc } from '../support/processes.js';

/** One figure from the agent's GET /metrics (Prometheus text), summed over its labels. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

interface Received {
  telemetry: TelemetryPayload[];
  alarms: AlarmsPayload[];
  /** Arrival order of every telemetry message, by seq. */
  order: number[];
}

async function subscribe(url: string, gateway: string): Promise<{ client: MqttClient; received: Received }> {
  const received: Received = { telemetry: [], alarms: [], order: [] };
  // A persistent session, so that what is published while the broker is back but this
  // subscriber is still reconnecting is kept for it.
  const client = await mqtt.connectAsync(url, { clientId: `test-hub-${gateway}`, clean: false, reconnectPeriod: 200 });
  client.on('message', (topic, payload) => {
    if (topic.endsWith('/telemetry')) {
      const decoded = decodePayload('telemetry', payload);
      if (decoded.ok) {
        received.telemetry.push(decoded.payload);
        received.order.push(decoded.payload.seq);
      }
    }
    if (topic.endsWith('/alarms')) {
      const decoded = decodePayload('alarms', payload);
      if (decoded.ok) received.alarms.push(decoded.payload);
    }
  });
  await client.subscribeAsync([`gatehouse/v1/tower-a/${gateway}/telemetry`, `gatehouse/v1/tower-a/${gateway}/alarms`], { qos: 1 });
  return { client, received };
}

/** The quota test's in-flight window: it bounds what may be both dropped and delivered. */
const IN_FLIGHT = 4;

interface ConfigExtras {
  /** Top-level settings (YAML lines). */
  settings?: string[];
  inFlight?: number;
  buses?: string[];
  devices?: string[];
}

function writeConfig(dir: string, gateway: string, brokerUrl: string, simPort: number, extras: ConfigExtras = {}): string {
  const file = join(dir, `${gateway}.yaml`);
  writeFileSync(
    file,
    [
      'site: tower-a',
      `gateway: ${gateway}`,
      `data_dir: ${join(dir, gateway)}`,
      `uplink: { url: "${brokerUrl}", reconnect_max_ms: 500, backlog_messages_per_s: 10, in_flight: ${extras.inFlight ?? 64} }`,
      'metrics: { port: 0 }',
      ...(extras.settings ?? []),
      'buses:',
      `  - { id: plant-room, transport: tcp, host: 127.0.0.1, port: ${simPort}, timeout_ms: 500 }`,
      ...(extras.buses ?? []),
      'devices:',
      ...[1, 2, 3].map((unit) => `  - { id: meter-${unit}, bus: plant-room, unit: ${unit}, profile: reference-3ph-meter, poll_interval_ms: 100 }`),
      ...(extras.devices ?? []),
    ].join('\n'),
  );
  return file;
}

/** Sequence numbers below the highest seen that never arrived, on any channel. */
function missingSeqs(received: Received): number[] {
  const seen = new Set([...received.order, ...received.alarms.map((payload) => payload.seq)]);
  const highest = Math.max(...seen);
  return Array.from({ length: highest + 1 }, (_, seq) => seq).filter((seq) => !seen.has(seq));
}

describe('store-and-forward at the edge, against Mosquitto', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-saf-'));
  let broker: Mosquitto;
  let sim: Proc;
  let simPort: number;

  beforeAll(async () => {
    broker = await startMosquitto();
    simPort = await freePort();
    sim = startNode('simulator', SIM_CLI, ['meter', '--port', String(simPort), '--units', '1,2,3', '--tick-ms', '100']);
    await sim.waitForLog('simulator ready');
  });

  afterAll(async () => {
    await sim?.stop();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing across a broker outage and a SIGKILL of the agent during it, and sends live readings first', async () => {
    const { client, received } = await subscribe(broker.url, 'gw-outage');
    // A meter of its own, which dies during the outage: its comm-loss alarm is raised at the edge.
    const riserPort = await freePort();
    const riser = startNode('simulator', SIM_CLI, ['meter', '--port', String(riserPort), '--units', '4']);
    await riser.waitForLog('simulator ready');
    const config = writeConfig(dir, 'gw-outage', broker.url, simPort, {
      settings: ['alarms: [{ id: comm-loss, type: comm_loss, severity: major }]'],
      buses: [`  - { id: riser, transport: tcp, host: 127.0.0.1, port: ${riserPort}, timeout_ms: 300 }`],
      devices: ['  - { id: meter-4, bus: riser, unit: 4, profile: reference-3ph-meter, poll_interval_ms: 100, offline_after_failures: 2 }'],
    });
    let agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
    let metricsUrl = String((await agent.waitForLog('agent started')).metrics_url);
    try {
      await eventually(async () => (received.telemetry.length >= 10 ? true : undefined), 'telemetry before the outage');

      await broker.stop();
      const outageStarted = Date.now();
      await riser.stop();
      await agent.waitForLine((line) => (line.includes('meter-4 is not answering') ? true : undefined));
      await eventually(async () => ((await metric(metricsUrl, 'gatehouse_outbox_messages')) >= 20 ? true : undefined), 'a backlog');
      agent.child.kill('SIGKILL');
      await agent.exited;
      agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
      const restarted = await agent.waitForLog('agent started');
      metricsUrl = String(restarted.metrics_url);
      await eventually(async () => ((await metric(metricsUrl, 'gatehouse_outbox_messages')) >= 40 ? true : undefined), 'more backlog');

      const returned = Date.now();
      await broker.start();
      await eventually(async () => ((await metric(metricsUrl, 'gatehouse_outbox_messages')) <= 3 ? true : undefined), 'the backlog to drain', 60_000);
      await eventually(async () => (missingSeqs(received).length === 0 ? true : undefined), 'every message', 20_000);
      // The alarm raised at the edge while the uplink was down arrived after it came back.
      const commLoss = await eventually(
        async () => received.alarms.flatMap((payload) => payload.alarms).find((alarm) => alarm.device === 'meter-4' && alarm.state === 'raised'),
        'the comm-loss alarm',
      );
      expect(commLoss).toMatchObject({ rule: 'comm-loss', severity: 'major' });
      expect(commLoss.ts).toBeGreaterThan(outageStarted);
      expect(commLoss.ts).toBeLessThan(returned);

      // Live first: a reading taken after the broker returned arrived before the backlog had drained.
      const isLive = (batch: TelemetryPayload) => batch.readings.some((reading) => reading.ts > returned + 200);
      await eventually(async () => (received.telemetry.some(isLive) ? true : undefined), 'a live reading');
      const firstLive = received.telemetry.findIndex(isLive);
      const lastBacklog = received.telemetry.map((batch) => batch.readings.every((r) => r.ts < returned)).lastIndexOf(true);
      expect(firstLive).toBeGreaterThan(-1);
      expect(firstLive).toBeLessThan(lastBacklog);
    } finally {
      await agent.stop();
      await client.endAsync();
    }
  });

  it('under a full outbox keeps running, drops the oldest telemetry, counts it and raises one alarm', async () => {
    const { client, received } = await subscribe(broker.url, 'gw-quota');
    const config = writeConfig(dir, 'gw-quota', broker.url, simPort, { settings: ['outbox: { quota_mb: 0.02 }'], inFlight: IN_FLIGHT });
    const agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
    const metricsUrl = String((await agent.waitForLog('agent started')).metrics_url);
    try {
      await eventually(async () => (received.telemetry.length >= 3 ? true : undefined), 'telemetry before the outage');
      await broker.stop();
      await eventually(async () => ((await metric(metricsUrl, 'gatehouse_outbox_dropped_total')) >= 10 ? true : undefined), 'drops');
      await broker.start();
      await eventually(async () => ((await metric(metricsUrl, 'gatehouse_outbox_messages')) <= 3 ? true : undefined), 'the backlog to drain', 60_000);
      await eventually(async () => (received.alarms.length > 0 ? true : undefined), 'the quota alarm');
      const dropped = await metric(metricsUrl, 'gatehouse_outbox_dropped_total');

      const raised = received.alarms.flatMap((payload) => payload.alarms).filter((alarm) => alarm.rule === 'outbox-quota' && alarm.state === 'raised');
      expect(raised).toHaveLength(1);
      expect(raised[0]).toMatchObject({ device: 'gw-quota', severity: 'major' });
      expect(agent.logs().filter((line) => String(line.msg).startsWith('outbox full'))).toHaveLength(1);
      // What was dropped is missing, and every other sequence number arrived. The exception: a
      // message the broker took just as it went down, whose PUBACK never came back, stays in the
      // outbox, may be dropped there, and still arrives; at most the in-flight window of them.
      const missing = () => missingSeqs(received);
      await eventually(async () => (missing().length <= dropped ? true : undefined), 'the rest to arrive', 20_000);
      expect(missing().length).toBeLessThanOrEqual(dropped);
      expect(missing().length).toBeGreaterThanOrEqual(dropped - IN_FLIGHT);
      expect(agent.child.exitCode).toBeNull();
    } finally {
      await agent.stop();
      await client.endAsync();
    }
  });
});
