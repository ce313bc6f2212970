import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, SqlTelemetryStore } from '../src/index.js';
import { reopenableEmbeddedDatabase } from './support.js';
import { telemetryStoreConformance } from './telemetry-conformance.js';

telemetryStoreConformance('SQL on PGlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pglite-'));
  const db = await reopenableEmbeddedDatabase(dir);
  await migrate(db.client);
  return {
    store: new SqlTelemetryStore(db.client),
    storeName: 'pglite',
    goAway: db.goAway,
    comeBack: db.comeBack,
    close: async () => {
      await db.client.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
