import { pino } from 'pino';
import { LiveFeed, migrate, openEmbeddedDatabase, Registry, SqlTelemetryStore, type SqlClient } from '../src/index.js';

/** An in-memory PGlite with the schema, and the stores over it. */
export async function memoryStores() {
  const db: SqlClient = await openEmbeddedDatabase(undefined);
  await migrate(db);
  return { db, registry: new Registry(db), telemetry: new SqlTelemetryStore(db), live: new LiveFeed() };
}

export const silentLog = pino({ level: 'silent' });
