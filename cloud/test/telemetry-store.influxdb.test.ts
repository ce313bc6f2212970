import { Influxd } from '../../tests/support/influxd.js';
import { InfluxTelemetryStore } from '../src/index.js';
import { telemetryStoreConformance } from './telemetry-conformance.js';
import { TEST_RETENTION } from './influx-support.js';

telemetryStoreConformance('InfluxDB', async () => {
  const influxd = await Influxd.create();
  const store = await InfluxTelemetryStore.open({ connection: { url: influxd.url, database: 'conformance' }, retention: TEST_RETENTION });
  return {
    store,
    storeName: 'influxdb',
    goAway: () => influxd.stop(),
    comeBack: () => influxd.start(),
    close: async () => {
      await store.close();
      await influxd.remove();
    },
  };
});
