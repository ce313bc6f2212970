import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { randomUUID } from 'node:crypto';
import { hubMetrics } from './api/routes/metrics.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded-broker.js';
import { Ingestion, type IngestionBroker } from './ingest/ingestion.js';
import { LiveFeed } from './live/live-feed.js';
import type { BrokerSettings, HubSettings } from './settings.js';
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

  const { broker, ingestBroker } = await connectBroker(settings.broker);
  const live = new LiveFeed();
  const ingestion = new Ingestion({ broker: ingestBroker, ...stores, live, log: log.child({ part: 'ingestion' }) });
  await ingestion.start();

  const app = await buildApp({
    log: log.child({ part: 'http' }),
    registry: stores.registry,
    telemetry: stores.telemetry,
    live,
    health: { version: HUB_VERSION, startedAt, brokerClients: () => broker?.connectedClients() ?? null, ingestion: ingestion.counters },
    metrics: hubMetrics(ingestion.counters),
  });
  await app.listen({ host: settings.http.host, port: settings.http.port });
  const { port } = app.server.address() as AddressInfo;
  const httpUrl = `http://${settings.http.host}:${port}`;

  return {
    httpUrl,
    mqttUrl: broker?.url ?? ingestBroker.url,
    stop: async () => {
      await app.close();
      await ingestion.stop();
      await broker?.close();
      await stores.close();
    },
  };
}

/**
 * The embedded broker is started here and ingestion connects to it like any client; an external
 * broker is only connected to, with a persistent session named after this replica.
 */
async function connectBroker(settings: BrokerSettings): Promise<{ broker: EmbeddedBroker | undefined; ingestBroker: IngestionBroker }> {
  if (settings.kind === 'external') {
    return {
      broker: undefined,
      ingestBroker: {
        url: settings.url,
        username: settings.username,
        password: settings.password,
        clientId: `gatehouse-hub-${settings.hubId}`,
        persistent: true,
      },
    };
  }
  const broker = await startEmbeddedBroker(settings.host, settings.port);
  // The embedded broker keeps no sessions across restarts, so a fresh name each start is fine.
  return { broker, ingestBroker: { url: broker.url, clientId: `gatehouse-hub-${randomUUID().slice(0, 8)}`, persistent: false } };
}
