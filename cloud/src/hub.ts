import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { startEmbeddedBroker } from './broker/embedded-broker.js';
import { Ingestion } from './ingest/ingestion.js';
import { LiveFeed } from './live/live-feed.js';
import type { HubSettings } from './settings.js';
import { migrate } from './store/migrations.js';
import { Registry } from './store/registry.js';
import { openEmbeddedDatabase } from './store/sql.js';
import { SqlTelemetryStore } from './store/telemetry-store.js';
import { HUB_VERSION } from './version.js';

export interface RunningHub {
  readonly httpUrl: string;
  readonly mqttUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the hub of the embedded deployment: aedes broker, PGlite store, ingestion and the HTTP
 * API with the dashboard. Stops in the reverse order, so that nothing in flight is cut off.
 */
export async function startHub(settings: HubSettings, log: Logger): Promise<RunningHub> {
  const startedAt = Date.now();
  const db = await openEmbeddedDatabase(join(settings.dataDir, 'hub', 'pglite'));
  const applied = await migrate(db);
  if (applied.length > 0) log.info({ migrations: applied }, 'database migrated');

  const broker = await startEmbeddedBroker(settings.mqtt.host, settings.mqtt.port);
  const registry = new Registry(db);
  const telemetry = new SqlTelemetryStore(db);
  const live = new LiveFeed();
  const ingestion = new Ingestion({ brokerUrl: broker.url, db, telemetry, registry, live, log: log.child({ part: 'ingestion' }) });
  await ingestion.start();

  const app = await buildApp({
    log: log.child({ part: 'http' }),
    registry,
    telemetry,
    live,
    health: { version: HUB_VERSION, startedAt, brokerClients: () => broker.connectedClients(), ingestion: ingestion.counters },
  });
  await app.listen({ host: settings.http.host, port: settings.http.port });
  const { port } = app.server.address() as AddressInfo;
  const httpUrl = `http://${settings.http.host}:${port}`;

  return {
    httpUrl,
    mqttUrl: broker.url,
    stop: async () => {
      await app.close();
      await ingestion.stop();
      await broker.close();
      await db.close();
    },
  };
}
