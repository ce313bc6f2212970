import { PostgresServer } from '../../tests/support/postgres.js';
import { migrate, openPostgresDatabase, SqlTelemetryStore } from '../src/index.js';
import { telemetryStoreConformance } from './telemetry-conformance.js';

telemetryStoreConformance('SQL on a PostgreSQL server', async () => {
  const server = await PostgresServer.create();
  const db = openPostgresDatabase(server.url);
  await migrate(db);
  return {
    store: new SqlTelemetryStore(db),
    storeName: 'postgresql',
    goAway: async () => server.stop(),
    comeBack: async () => server.start(),
    close: async () => {
      await db.close();
      server.remove();
    },
  };
});
