import type { Logger } from 'pino';
import {
  AlarmBook,
  AlarmDesk,
  JobQueue,
  LiveFeed,
  migrate,
  OnCall,
  openEmbeddedDatabase,
  openPostgresDatabase,
  PagingChannels,
  Registry,
  WorkOrderBook,
  type SqlClient,
} from '@gatehouse/cloud';
import { PostgresServer } from '../../support/postgres.js';

export const DATABASES = ['pglite', 'postgres'] as const;
export type Database = (typeof DATABASES)[number];

/** The hub's default `groupWaitMs` (GATEHOUSE_GROUP_WAIT_MS), as cloud/test/support.ts sets it. */
export const GROUP_WAIT_MS = 30_000;

/**
 * A fresh, migrated database for each run: PGlite in memory as the hub embeds it, or a new
 * database on one throw-away PostgreSQL server started for the whole benchmark (pool of 10, the
 * hub's default), so that no run sees another's alarms, jobs or table bloat.
 */
export class Databases {
  private postgres: PostgresServer | undefined;
  private admin: SqlClient | undefined;
  private made = 0;

  async open(database: Database): Promise<SqlClient> {
    let db: SqlClient;
    if (database === 'pglite') {
      db = await openEmbeddedDatabase(undefined);
    } else {
      this.postgres ??= await PostgresServer.create();
      this.admin ??= openPostgresDatabase(this.postgres.url, 1);
      const name = `storm_${++this.made}`;
      await this.admin.query(`create database ${name}`);
      const url = new URL(this.postgres.url);
      url.pathname = `/${name}`;
      db = openPostgresDatabase(url.toString());
    }
    await migrate(db);
    return db;
  }

  /** The PostgreSQL server's major version, once it runs. */
  async postgresVersion(): Promise<string | undefined> {
    const [row] = (await this.admin?.query<{ server_version: string }>('show server_version')) ?? [];
    return row?.server_version;
  }

  async close(): Promise<void> {
    await this.admin?.close();
    this.postgres?.remove();
  }
}

/** The hub's dispatch over one database, built as cloud/test/support.ts `memoryStores` builds it. */
export interface StormHub {
  db: SqlClient;
  clock: { now: number };
  alarms: AlarmBook;
  orders: WorkOrderBook;
  oncall: OnCall;
  jobs: JobQueue;
  registry: Registry;
  desk: AlarmDesk;
}

/** The stores, the job queue and the desk, on the hub's clock; pages go to `webhookUrl`. */
export function stormHub(db: SqlClient, webhookUrl: string, start: number, log: Logger): StormHub {
  const clock = { now: start };
  const now = () => clock.now;
  const alarms = new AlarmBook(db, now);
  const orders = new WorkOrderBook(db, now);
  const oncall = new OnCall(db, now);
  const jobs = new JobQueue(db, { log, now });
  const registry = new Registry(db);
  const channels = new PagingChannels({ webhook: { type: 'webhook', url: webhookUrl, secret: 'the alarm-storm benchmark secret' } });
  const desk = new AlarmDesk({
    db,
    alarms,
    orders,
    oncall,
    registry,
    jobs,
    channels,
    live: new LiveFeed(),
    log,
    now,
    publicUrl: () => 'http://hub.example',
    groupWaitMs: GROUP_WAIT_MS,
  });
  desk.register();
  return { db, clock, alarms, orders, oncall, jobs, registry, desk };
}

/** Runs every job due on the hub's clock, again until none is (follow-ups included); returns how many ran. */
export async function runDueJobs(hub: StormHub): Promise<number> {
  let ran = 0;
  for (;;) {
    const now = await hub.jobs.runDue();
    if (now === 0) return ran;
    ran += now;
  }
}

/** What the run left in the database: the figures that say whether the desk did the right thing. */
export async function outcome(db: SqlClient) {
  const count = async (sql: string) => (await db.query<{ n: number }>(sql))[0]?.n ?? 0;
  const jobs = await db.query<{ kind: string; state: string; n: number }>('select kind, state, count(*)::int as n from jobs group by kind, state order by kind, state');
  const groupSizes = await db.query<{ smallest: number | null; largest: number | null }>(
    `select min(n)::int as smallest, max(n)::int as largest from (select count(*) as n from alarms where parent_id is not null group by parent_id) sizes`,
  );
  return {
    orders: await count('select count(*)::int as n from work_orders'),
    pageRows: await count(`select count(*)::int as n from pages where status = 'delivered'`),
    pagesNotDelivered: await count(`select count(*)::int as n from pages where status <> 'delivered'`),
    grouped: await count('select count(*)::int as n from alarms where parent_id is not null'),
    busAlarms: await count(`select count(*)::int as n from alarms where rule = 'bus_offline' and episode > 0`),
    groupSmallest: groupSizes[0]?.smallest ?? null,
    groupLargest: groupSizes[0]?.largest ?? null,
    /** Comm-loss alarms active and under no parent: each pages on its own. */
    alone: await count(`select count(*)::int as n from alarms where rule = 'comm-loss' and state = 'active' and parent_id is null`),
    /** `alarm_grouped` notes on the parent's work order. */
    groupedNotes: await count(`select count(*)::int as n from work_order_timeline where kind = 'alarm_grouped'`),
    jobsUnfinished: jobs.filter((row) => row.state === 'pending' || row.state === 'running').reduce((sum, row) => sum + row.n, 0),
    jobsFailed: jobs.filter((row) => row.state === 'failed').reduce((sum, row) => sum + row.n, 0),
    jobs: Object.fromEntries(jobs.filter((row) => row.state === 'done').map((row) => [row.kind, row.n])),
  };
}
