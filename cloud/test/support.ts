import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import {
  AuditLog,
  buildApp,
  GatewayCredentials,
  hubMetrics,
  People,
  type SecurityDeps,
  AlarmBook,
  AlarmDesk,
  BatchLedger,
  CommandLog,
  JobQueue,
  OnCall,
  PagingChannels,
  WorkOrderBook,
  Commander,
  EventLog,
  LiveFeed,
  migrate,
  openEmbeddedDatabase,
  Registry,
  SqlTelemetryStore,
  type SqlClient,
} from '../src/index.js';

/** An in-memory PGlite with the schema, and the stores over it. */
export async function memoryStores(now: () => number = Date.now) {
  const db: SqlClient = await openEmbeddedDatabase(undefined);
  await migrate(db);
  const live = new LiveFeed();
  const commands = new CommandLog(db);
  const alarms = new AlarmBook(db, now);
  const orders = new WorkOrderBook(db, now);
  const oncall = new OnCall(db, now);
  const jobs = new JobQueue(db, { log: silentLog, now });
  return {
    alarms,
    orders,
    oncall,
    jobs,
    dispatchDeps: (channels: PagingChannels = new PagingChannels({}), publicUrl = 'http://hub.example') => {
      const desk = new AlarmDesk({ db, alarms, orders, oncall, registry: new Registry(db), jobs, channels, live, log: silentLog, now, publicUrl: () => publicUrl, groupWaitMs: 30_000 });
      return { db, alarms, orders, oncall, desk, now };
    },
    db,
    registry: new Registry(db),
    ledger: new BatchLedger(db),
    events: new EventLog(db),
    commands,
    telemetry: new SqlTelemetryStore(db),
    live,
    // Route tests have no broker: a command is recorded, then settled as not sent (503).
    commander: new Commander({ log: commands, publish: () => Promise.reject(new Error('no broker in this test')), live, logger: silentLog }),
    commandResult: () => Promise.resolve(),
    // Ingestion tests store readings; alarms have tests of their own (dispatch.test.ts).
    alarm: () => Promise.resolve(),
  };
}

export const ADMIN_PASSWORD = 'correct horse battery staple';

/**
 * The hub's HTTP app over in-memory stores, with an administrator `admin` (every site), a clock
 * the test can move, and the means to log in. `credentialsChanged` calls are recorded.
 */
export async function securedApp(options: { log?: Logger; rateLimits?: SecurityDeps['rateLimits']; mqttUrl?: string; tls?: { cert: Buffer; key: Buffer } } = {}) {
  const clock = { now: Date.UTC(2026, 10, 22, 8, 0, 0) };
  const now = () => clock.now;
  const stores = await memoryStores(now);
  const security = {
    people: new People(stores.db, now),
    audit: new AuditLog(stores.db, now),
    gateways: new GatewayCredentials(stores.db, now),
  };
  await security.people.createUser({ username: 'admin', role: 'admin', sites: ['*'], password: ADMIN_PASSWORD });
  const changed: Array<[string, string]> = [];
  const ingestion = { messages: 7, readings_stored: 84, events_stored: 3, duplicates: 1, rejected: 2, store_retries: 0, lag_ms: 1500, store_available: true };
  const app: FastifyInstance = await buildApp({
    log: options.log ?? silentLog,
    ...stores,
    dispatch: stores.dispatchDeps(),
    health: { version: '0.0.0-test', startedAt: Date.now(), brokerClients: () => 0, ingestion },
    metrics: hubMetrics(ingestion),
    tls: options.tls,
    security: {
      ...security,
      mqttUrl: options.mqttUrl ?? 'mqtt://hub.example:1883',
      rateLimits: options.rateLimits ?? { loginPerMinute: 1000, apiPerMinute: 100_000 },
      credentialsChanged: async (site, gateway) => {
        changed.push([site, gateway]);
      },
    },
  });
  const login = async (username: string, password: string): Promise<string> => {
    const response = await app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { username, password } });
    if (response.statusCode !== 200) throw new Error(`login ${username}: ${response.statusCode} ${response.body}`);
    return response.json<{ token: string }>().token;
  };
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  /** Closes the app and its database. */
  const close = async () => {
    await app.close();
    await stores.db.close();
  };
  return { app, stores, security, clock, changed, login, bearer, close, adminToken: await login('admin', ADMIN_PASSWORD) };
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
