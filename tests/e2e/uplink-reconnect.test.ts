import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Outbox, parseConfig } from '@gatehouse/edge';
// The uplink is not (yet) exported from @gatehouse/edge's index; its built module is used as is.
import { MqttUplink } from '@gatehouse/edge';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { eventually } from '../support/processes.js';

type UplinkLog = ConstructorParameters<typeof MqttUplink>[4];
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent } as unknown as UplinkLog;

/**
 * The uplink across broker restarts while it publishes: what was in flight when the connection
 * dropped is sent again, and the in-flight window does not fill up with messages that will never
 * be acknowledged (mqtt.js's reconnect() used to start an empty store of unacknowledged publishes
 * but keep their callbacks, so that they were neither re-sent nor called back).
 */
describe('the uplink across broker restarts', () => {
  let broker: Mosquitto;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-uplink-'));

  beforeAll(async () => {
    broker = await startMosquitto(['max_queued_messages 0']);
  });

  afterAll(async () => {
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('publishes every message once the broker is back, whatever was in flight when it went', async () => {
    const config = parseConfig(
      [
        'site: tower-a',
        'gateway: gw-restarts',
        `uplink: { url: "${broker.url}", reconnect_max_ms: 200, backlog_messages_per_s: 5000 }`,
        'buses: [{ id: b, transport: tcp, host: 127.0.0.1, port: 502 }]',
        'devices: [{ id: d, bus: b, unit: 1, profile: reference-3ph-meter }]',
      ].join('\n'),
      'uplink.yaml',
    ).config;
    const seen = new Set<number>();
    const subscriber = mqtt.connect(broker.url, { clientId: 'uplink-test-tally', clean: false, reconnectPeriod: 100 });
    subscriber.on('message', (_topic, payload) => seen.add((JSON.parse(payload.toString()) as { seq: number }).seq));
    await new Promise((resolve) => subscriber.once('connect', resolve));
    await subscriber.subscribeAsync('gatehouse/v1/tower-a/gw-restarts/telemetry', { qos: 1 });

    const outbox = Outbox.open({ dir, quotaBytes: 1e9 });
    const identity = { site: 'tower-a', gateway: 'gw-restarts', bootId: 'b', agentVersion: 'test', configVersion: 'test' };
    const uplink = new MqttUplink(config.uplink, identity, outbox, () => true, silent);
    uplink.start();
    let producing = true;
    let produced = 0;
    const producer = (async () => {
      while (producing) {
        void uplink.addReadings([{ device: 'd', point: 'active_power_kw', ts: Date.now(), value: produced++, quality: 'good' }]);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    try {
      for (let restart = 0; restart < 3; restart++) {
        await new Promise((resolve) => setTimeout(resolve, 700));
        await broker.stop();
        await new Promise((resolve) => setTimeout(resolve, 300));
        await broker.start();
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
      producing = false;
      await producer;
      await eventually(async () => (outbox.stats().depth.telemetry === 0 ? true : undefined), 'the outbox to drain', 20_000);
      await eventually(async () => (seen.size === produced ? true : undefined), 'every message at the subscriber', 10_000);
      expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: produced }, (_, seq) => seq));
    } finally {
      producing = false;
      await uplink.stop();
      await outbox.close();
      await subscriber.endAsync();
    }
  });
});
