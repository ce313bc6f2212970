import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, type TelemetryPayload } from '@gatehouse/protocols';
import { Influxd } from '../../tests/support/influxd.js';
import { eventually } from '../../tests/support/processes.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../src/broker/embedded-broker.js';
import { Ingestion } from '../src/ingest/ingestion.js';
import { InfluxTelemetryStore, type TelemetryDevice } from '../src/index.js';
import { TEST_RETENTION } from './influx-support.js';
import { memoryStores, silentLog } from './support.js';

const T0 = Math.floor((Date.now() - 86_400_000) / 3_600_000) * 3_600_000;
const HOUR = 3_600_000;

/**
 * Ingestion with InfluxDB keeping the readings and PGlite the registry and the ledger of
 * ingested batches: dedup across the two stores, and backpressure while InfluxDB is away.
 */
describe('ingestion into InfluxDB', () => {
  let influxd: Influxd;
  let broker: EmbeddedBroker;
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let telemetry: InfluxTelemetryStore;
  let ingestion: Ingestion;
  let gateway: MqttClient;
  const meter: TelemetryDevice = { id: 'tower-a.gw-01.meter-1', kind: 'electric_meter' };

  const batch = (seq: number, values: number[]): TelemetryPayload => ({
    v: SCHEMA_VERSION,
    seq,
    readings: values.map((value, i) => ({ device: 'meter-1', point: 'energy_import_kwh', ts: T0 + seq * 60_000 + i * 1000, value, quality: 'good' })),
  });
  const publish = (payload: TelemetryPayload) => gateway.publishAsync('gatehouse/v1/tower-a/gw-01/telemetry', JSON.stringify(payload), { qos: 1 });
  const count = async () =>
    (await telemetry.series({ device: meter, point: 'energy_import_kwh', from: T0, to: T0 + HOUR, every: HOUR, agg: 'count' }))[0]?.value ?? 0;

  beforeAll(async () => {
    influxd = await Influxd.create();
    stores = await memoryStores();
    telemetry = await InfluxTelemetryStore.open({ connection: { url: influxd.url, database: 'hub' }, retention: TEST_RETENTION });
    broker = await startEmbeddedBroker('127.0.0.1', 0);
    await stores.registry.applyInventory('tower-a', 'gw-01', {
      v: 1,
      ts: T0,
      devices: [{ device: 'meter-1', kind: 'electric_meter', profile: 'p', comm: { status: 'online', last_good_read: T0, consecutive_failures: 0, total_errors: 0 } }],
    });
    ingestion = new Ingestion({ broker: { url: broker.url, clientId: 'hub-test', persistent: false }, ...stores, telemetry, log: silentLog });
    await ingestion.start();
    gateway = await mqtt.connectAsync(broker.url, { clientId: 'gw-01' });
  });

  afterAll(async () => {
    await gateway?.endAsync();
    await ingestion?.stop();
    await broker?.close();
    await stores?.db.close();
    await influxd?.remove();
  });

  it('stores a batch under its device kind and skips it when the gateway sends it again', async () => {
    await publish(batch(1, [10, 11]));
    await publish(batch(1, [10, 11]));
    await eventually(async () => (ingestion.counters.duplicates === 1 ? true : undefined), 'the replay to be recognised');
    expect(await count()).toBe(2);
    expect(ingestion.counters.readings_stored).toBe(2);
  });

  it('does not double-count a batch replayed after a crash between the InfluxDB write and the ledger record', async () => {
    // What a hub that died after writing but before recording left behind: the readings, no record.
    const crashed = batch(2, [20, 21, 22]);
    const written = await telemetry.write(
      crashed.readings.map((r) => ({ ...r, site: 'tower-a', gateway: 'gw-01', device: meter.id, kind: meter.kind })),
    );
    expect(written.ok).toBe(true);
    expect(await count()).toBe(5);
    // The broker redelivers it to the next hub: written again (same series, same timestamps: overwritten), then recorded.
    await publish(crashed);
    await eventually(async () => ((await stores.ledger.has({ site: 'tower-a', gateway: 'gw-01', seq: 2 })) ? true : undefined), 'the batch to be recorded');
    expect(await count()).toBe(5);
  });

  it('holds the broker while InfluxDB is away, and stores what waited when it comes back', async () => {
    await influxd.stop();
    const retriesBefore = ingestion.counters.store_retries;
    await publish(batch(3, [30]));
    await eventually(async () => (ingestion.counters.store_retries > retriesBefore ? true : undefined), 'ingestion to retry');
    expect(await stores.ledger.has({ site: 'tower-a', gateway: 'gw-01', seq: 3 })).toBe(false);
    await influxd.start();
    await eventually(async () => ((await stores.ledger.has({ site: 'tower-a', gateway: 'gw-01', seq: 3 })) ? true : undefined), 'the batch to be stored', 60_000);
    expect(await count()).toBe(6);
  });
});
