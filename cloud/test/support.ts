import { pino } from 'pino';
import {
  BatchLedger,
  LiveFeed,
  migrate,
  openEmbeddedDatabase,
  Registry,
  SqlTelemetryStore,
  type SqlClient,
} from '../src/index.js';

/** An in-memory PGlite with the schema, and the stores over it. */
export async function memoryStores() {
  const db: SqlClient = await openEmbeddedDatabase(undefined);
  await migrate(db);
  return { db, registry: new Registry(db), ledger: new BatchLedger(db), telemetry: new SqlTelemetryStore(db), live: new LiveFeed() };
}

export const silentLog = pino({ level: 'silent' });

/**
 * A PGlite database on disk that a test can close and reopen under the stores using it, as a
 * hub's embedded database goes away when it is closed and comes back when it is opened again.
 */
export async function reopenableEmbeddedDatabase(dataDir: string) {
  let current = await openEmbeddedDatabase(dataDir);
  const client: SqlClient = {
    query: (sql, params) => current.query(sql, params),
    exec: (sql) => current.exec(sql),
    transaction: (work) => current.transaction(work),
    close: () => current.close(),
  };
  return {
    client,
    goAway: () => current.close(),
    comeBack: async () => {
      current = await openEmbeddedDatabase(dataDir);
    },
  };
}
