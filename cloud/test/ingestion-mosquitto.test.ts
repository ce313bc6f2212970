import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type TelemetryPayload } from '@gatehouse/protocols';
import { startMosquitto, type Mosquitto } from '../../tests/support/mosquitto.js';
import { eventually } from '../../tests/support/processes.js';
import { Ingestion } from '../src/ingest/ingestion.js';
import { memoryStores, silentLog } from './support.js';

const T0 = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000;

const batch = (seq: number): TelemetryPayload => ({
  v: SCHEMA_VERSION,
  seq,
  readings: [{ device: 'meter-1', point: 'energy_import_kwh', ts: T0 + seq * 1000, value: seq, quality: 'good' }],
});

/**
 * Ingestion against Mosquitto (Debian's 2.0) as the external broker, across broker restarts:
 * Mosquitto restores a persistent session, its plain subscriptions and its queue from its
 * persistence file, but not its shared subscriptions, and still tells the client that its
 * session is present, so that mqtt.js does not subscribe again by itself.
 */
describe('ingestion from Mosquitto across its restarts', () => {
  let broker: Mosquitto;
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let gateway: MqttClient;
  const ingestions: Ingestion[] = [];

  beforeAll(async () => {
    broker = await startMosquitto(['max_queued_messages 0']);
    stores = await memoryStores();
    gateway = await mqtt.connectAsync(broker.url, { clientId: 'gw-restart', reconnectPeriod: 100 });
  });

  afterAll(async () => {
    await gateway?.endAsync();
    for (const ingestion of ingestions) await ingestion.stop();
    await stores?.db.close();
    await broker?.close();
  });

  const start = async (gatewayName: string, shareGroup?: string) => {
    const ingestion = new Ingestion({
      broker: { url: broker.url, clientId: `hub-${gatewayName}`, persistent: true, shareGroup },
      ...stores,
      log: silentLog,
    });
    ingestions.push(ingestion);
    await ingestion.start();
    return ingestion;
  };
  const publish = (gatewayName: string, seq: number) =>
    gateway.publishAsync(`gatehouse/v1/tower-a/${gatewayName}/telemetry`, JSON.stringify(batch(seq)), { qos: 1 });
  const stored = (gatewayName: string, seq: number) => stores.ledger.has({ site: 'tower-a', gateway: gatewayName, seq });

  it('stores what a gateway publishes right after a restart, before the hub is back (plain subscription)', async () => {
    await start('gw-plain');
    await publish('gw-plain', 1);
    await eventually(async () => ((await stored('gw-plain', 1)) ? true : undefined), 'the first batch');

    await broker.stop();
    await broker.start();
    // The gateway is back first: the hub reconnects only a second later, and the broker must
    // have kept its subscription, and queue for it, meanwhile.
    await eventually(async () => (gateway.connected ? true : undefined), 'the gateway to reconnect');
    await publish('gw-plain', 2);
    await eventually(async () => ((await stored('gw-plain', 2)) ? true : undefined), 'the batch published before the hub was back');
  });

  it('subscribes again after a restart when it takes telemetry through a share group', async () => {
    const ingestion = await start('gw-shared', 'hub-test');
    await publish('gw-shared', 1);
    await eventually(async () => ((await stored('gw-shared', 1)) ? true : undefined), 'the first batch');

    await broker.stop();
    await broker.start();
    // What is published before the hub has subscribed again reaches no one (see shareGroup);
    // once it has, telemetry flows again.
    let seq = 100;
    await eventually(
      async () => {
        await publish('gw-shared', ++seq);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return (await stored('gw-shared', seq)) ? true : undefined;
      },
      'telemetry after the restart',
      20_000,
    );
    expect(ingestion.counters.rejected).toBe(0);
  });
});
