import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { startEmbeddedBroker } from './broker/embedded-broker.js';
import { Ingestion } from './ingest/ingestion.js';
import { LiveFeed } from './live/live-feed.js';
import type { HubSettings } from './settings.js';
import { openStores } from './store/open-stores.js';
import { HUB_VERSION } from './version.js';

export interface RunningHub {
  readonly httpUrl: string;
  readonly mqttUrl: string;
  stop(): Promise<void>;
}

/**
 * Starts the hub: its stores (PGlite or a PostgreSQL server; the same database or InfluxDB for
 * readings), the aedes broker, ingestion and the HTTP API with the dashboard. Stops in the
 * reverse order, so that nothing in flight is cut off.
 */
export async function startHub(settings: HubSettings, log: Logger): Promise<RunningHub> {
  const startedAt = Date.now();
  const stores = await openStores(settings);
  log.info({ relational: settings.relational.kind, telemetry: settings.telemetry.kind, migrations: stores.migrated }, 'stores open');

  const broker = await startEmbeddedBroker(settings.mqtt.host, settings.mqtt.port);
  const live = new LiveFeed();
  const ingestion = new Ingestion({ brokerUrl: broker.url, ...stores, live, log: log.child({ part: 'ingestion' }) });
  await ingestion.start();

  const app = await buildApp({
    log: log.child({ part: 'http' }),
    registry: stores.registry,
    telemetry: stores.telemetry,
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
      await stores.close();
    },
  };
}
