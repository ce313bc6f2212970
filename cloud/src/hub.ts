import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { buildApp } from './api/app.js';
import { hubMetrics } from './api/routes/metrics.js';
import { ALL_SITES } from './auth/roles.js';
import { generatedPassword } from './auth/secrets.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker/embedded-broker.js';
import { MosquittoFiles } from './broker/mosquitto-files.js';
import { Commander } from './commands/commander.js';
import { AlarmDesk } from './dispatch/alarm-desk.js';
import { HubRules, runRuleClock } from './dispatch/hub-rules.js';
import { PagingChannels } from './dispatch/paging-settings.js';
import { JobQueue } from './jobs/queue.js';
import { Ingestion, type IngestionBroker } from './ingest/ingestion.js';
import { LiveFeed } from './live/live-feed.js';
import type { HubSettings } from './settings.js';
import { openStores, type HubStores } from './store/open-stores.js';
import { HUB_VERSION } from './version.js';

export interface RunningHub {
  readonly httpUrl: string;
  readonly mqttUrl: string;
  stop(): Promise<void>;
}

/** How often the hub's rules look at the time (stale data, on- and off-delays). */
const RULE_TICK_MS = 1000;

/** How often flapping alarms are looked at, to release those whose input has settled. */
const FLAPPING_CHECK_MS = 10_000;

/** The hub's clock: real time, or for drills time running `rate` times faster from `origin`. */
function hubClock({ rate, origin }: { rate: number; origin: number }): () => number {
  return rate === 1 ? Date.now : () => origin + Math.round((Date.now() - origin) * rate);
}

/** The first administrator's user name. */
export const FIRST_ADMIN = 'admin';

/**
 * Starts the hub: its stores (PGlite or a PostgreSQL server; the same database or InfluxDB for
 * readings), the aedes broker, ingestion and the HTTP API with the dashboard. Stops in the
 * reverse order, so that nothing in flight is cut off.
 */
export async function startHub(settings: HubSettings, log: Logger, say: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): Promise<RunningHub> {
  const startedAt = Date.now();
  const now = hubClock(settings.dispatch.clock);
  if (settings.dispatch.clock.rate !== 1) log.warn({ rate: settings.dispatch.clock.rate }, 'GATEHOUSE_CLOCK_RATE: escalation runs faster than real time (drills and tests only)');
  const stores = await openStores(settings, now);
  log.info({ relational: settings.relational.kind, telemetry: settings.telemetry.kind, migrations: stores.migrated }, 'stores open');
  await ensureFirstAdmin(stores, settings.security.adminPassword, say);

  const tls = settings.security.tls && { cert: readFileSync(settings.security.tls.certFile), key: readFileSync(settings.security.tls.keyFile) };
  const { broker, ingestBroker } = await connectBroker(settings, stores, tls, log.child({ part: 'broker' }));
  const mosquitto =
    settings.security.mosquitto && settings.broker.kind === 'external'
      ? new MosquittoFiles({
          ...settings.security.mosquitto,
          hub: { username: settings.broker.username ?? '', password: settings.broker.password ?? '' },
        })
      : undefined;
  await mosquitto?.write(await stores.gateways.activeCredentials());

  const live = new LiveFeed();
  const jobs = new JobQueue(stores.db, { log: log.child({ part: 'jobs' }), now });
  let httpUrl = '';
  const desk = new AlarmDesk({
    ...stores,
    jobs,
    channels: PagingChannels.fromFile(settings.dispatch.pagingFile),
    live,
    log: log.child({ part: 'dispatch' }),
    now,
    publicUrl: () => settings.dispatch.publicUrl?.replace(/\/$/, '') ?? httpUrl,
    groupWaitMs: settings.dispatch.groupWaitMs,
  });
  desk.register();
  const commander: Commander = new Commander({
    log: stores.commands,
    // Commands leave on ingestion's connection, the one the hub keeps to its broker.
    publish: (topic: string, payload: string): Promise<void> => ingestion.publish(topic, payload),
    live,
    logger: log.child({ part: 'commands' }),
  });
  const rules = HubRules.fromFile(settings.dispatch.rulesFile, now);
  if (rules.size > 0) log.info({ rules: rules.size, file: settings.dispatch.rulesFile }, 'hub alarm rules loaded');
  const ingestion: Ingestion = new Ingestion({
    broker: ingestBroker,
    ...stores,
    live,
    log: log.child({ part: 'ingestion' }),
    commandResult: (site, gateway, result): Promise<void> => commander.settle(site, gateway, result),
    alarm: (input) => desk.receive(input),
    rules,
  });
  await ingestion.start();
  commander.start();
  jobs.start();
  const flapping = setInterval(() => {
    desk.settleFlapping().catch((error: unknown) => log.warn({ err: (error as Error).message }, 'settling flapping alarms failed'));
  }, FLAPPING_CHECK_MS);
  flapping.unref();
  const ruleTicks = runRuleClock(rules, (input) => desk.receive(input), log.child({ part: 'rules' }), RULE_TICK_MS);

  const publicMqttUrl = settings.security.mqttPublicUrl ?? broker?.url ?? ingestBroker.url;
  const app = await buildApp({
    log: log.child({ part: 'http' }),
    registry: stores.registry,
    telemetry: stores.telemetry,
    events: stores.events,
    commands: stores.commands,
    commander,
    live,
    health: { version: HUB_VERSION, startedAt, brokerClients: () => broker?.connectedClients() ?? null, ingestion: ingestion.counters },
    metrics: hubMetrics(ingestion.counters),
    tls,
    dispatch: { ...stores, desk, now },
    security: {
      people: stores.people,
      audit: stores.audit,
      gateways: stores.gateways,
      mqttUrl: publicMqttUrl,
      rateLimits: settings.security.rateLimits,
      credentialsChanged: async (site, gateway) => {
        const cut = broker?.disconnectGateway(site, gateway) ?? 0;
        if (cut > 0) log.info({ site, gateway, connections: cut }, 'gateway disconnected: its credentials changed');
        await mosquitto?.write(await stores.gateways.activeCredentials());
      },
    },
  });
  await app.listen({ host: settings.http.host, port: settings.http.port });
  const { port } = app.server.address() as AddressInfo;
  httpUrl = `${tls ? 'https' : 'http'}://${settings.http.host}:${port}`;

  return {
    httpUrl,
    mqttUrl: broker?.url ?? ingestBroker.url,
    stop: async () => {
      await app.close();
      clearInterval(flapping);
      clearInterval(ruleTicks);
      await jobs.stop();
      commander.stop();
      await ingestion.stop();
      await broker?.close();
      await stores.close();
    },
  };
}

/**
 * With no user yet, creates the first administrator: with GATEHOUSE_ADMIN_PASSWORD, or with a
 * generated password shown once on standard error (never in the log).
 */
async function ensureFirstAdmin(stores: HubStores, configured: string | undefined, say: (line: string) => void): Promise<void> {
  if ((await stores.people.countUsers()) > 0) return;
  const password = configured ?? generatedPassword();
  const user = await stores.people.createUserIfAbsent({ username: FIRST_ADMIN, role: 'admin', sites: [ALL_SITES], password });
  if (!user) return;
  await stores.audit.record({
    actor: null,
    actorKind: 'system',
    ip: null,
    action: 'user.create',
    target: FIRST_ADMIN,
    site: null,
    outcome: 'ok',
    after: { ...user, password: configured ? 'from GATEHOUSE_ADMIN_PASSWORD' : 'generated' },
  });
  if (!configured) {
    say(`gatehouse-hub: created the first administrator "${FIRST_ADMIN}" with the password ${password}`);
    say('gatehouse-hub: it is shown this once: log in and change it (PATCH /api/v1/users/:id)');
  }
}

/**
 * The embedded broker is started here, with its own authentication, and ingestion connects to
 * it like any client, with the hub's credentials; an external broker is only connected to, with
 * a persistent session named after this replica.
 */
async function connectBroker(
  settings: HubSettings,
  stores: HubStores,
  tls: { cert: Buffer; key: Buffer } | undefined,
  log: Logger,
): Promise<{ broker: EmbeddedBroker | undefined; ingestBroker: IngestionBroker }> {
  const brokerSettings = settings.broker;
  if (brokerSettings.kind === 'external') {
    return {
      broker: undefined,
      ingestBroker: {
        url: brokerSettings.url,
        username: brokerSettings.username,
        password: brokerSettings.password,
        clientId: `gatehouse-hub-${brokerSettings.hubId}`,
        persistent: true,
      },
    };
  }
  // The hub's own credentials at its embedded broker: fresh each start, known only in-process.
  const hub = { username: 'gatehouse-hub', password: randomBytes(32).toString('base64url') };
  if (settings.security.mqttAllowAnonymous) log.warn('GATEHOUSE_MQTT_ALLOW_ANONYMOUS: clients without credentials may publish as any gateway');
  const broker = await startEmbeddedBroker(
    brokerSettings.host,
    brokerSettings.port,
    { hub, verifyGateway: (username, password) => stores.gateways.verify(username, password), allowAnonymous: settings.security.mqttAllowAnonymous, log },
    tls,
  );
  // The embedded broker keeps no sessions across restarts, so a fresh name each start is fine.
  return {
    broker,
    ingestBroker: { url: broker.internalUrl, ...hub, clientId: `gatehouse-hub-${randomUUID().slice(0, 8)}`, persistent: false },
  };
}
