import type { SqlClient } from './sql.js';

/**
 * Versioned schema migrations, applied in order, each once, each in its own transaction, the
 * same way on PGlite and on a PostgreSQL server. A migration is never edited after it has
 * shipped: changes are new migrations.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry and ingestion bookkeeping',
    sql: `
      -- A site is a compound or a tower; its time zone is where "a day" of its readings begins.
      create table sites (
        id text primary key,
        name text,
        time_zone text not null default 'UTC',
        created_at timestamptz not null default now()
      );
      create table gateways (
        site text not null references sites (id),
        gateway text not null,
        state text not null default 'unknown',
        agent_version text,
        config_version text,
        boot_id text,
        state_changed_at timestamptz,
        primary key (site, gateway)
      );
      -- A field bus of a gateway: an RS-485 line or a Modbus TCP network.
      create table buses (
        site text not null,
        gateway text not null,
        bus text not null,
        transport text,
        description text,
        primary key (site, gateway, bus),
        foreign key (site, gateway) references gateways (site, gateway)
      );
      create table devices (
        id text primary key,
        site text not null,
        gateway text not null,
        device text not null,
        kind text,
        profile text,
        bus text,
        -- The unit, room or plant a device serves ("12-301", "plant room B2"): what billing and
        -- the engineers call it.
        serves text,
        comm_status text not null default 'unknown',
        comm_reason text,
        last_good_read timestamptz,
        consecutive_failures integer not null default 0,
        total_errors integer not null default 0,
        last_seen timestamptz,
        foreign key (site, gateway) references gateways (site, gateway)
      );
      create index devices_by_gateway on devices (site, gateway);
      -- One row per batch a gateway sent, so that a replayed batch is recognised and skipped,
      -- whichever store keeps the readings.
      create table ingested_batches (
        site text not null,
        gateway text not null,
        channel text not null,
        seq bigint not null,
        received_at timestamptz not null default now(),
        primary key (site, gateway, channel, seq)
      );
      create table dead_letters (
        id bigserial primary key,
        received_at timestamptz not null default now(),
        topic text not null,
        reason text not null,
        payload text not null
      );
    `,
  },
  {
    version: 2,
    name: 'readings of the embedded telemetry store',
    sql: `
      create table readings (
        device_id text not null,
        point text not null,
        ts timestamptz not null,
        value jsonb,
        quality text not null,
        primary key (device_id, point, ts)
      );
      create table latest_readings (
        device_id text not null,
        point text not null,
        ts timestamptz not null,
        value jsonb,
        quality text not null,
        primary key (device_id, point)
      );
    `,
  },
];

/** Any fixed number; every hub takes this transaction-scoped lock before it migrates. */
const MIGRATION_LOCK = 4_717_001;

/** Applies the migrations not yet applied; returns the versions it applied. */
export async function migrate(db: SqlClient, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const ran: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    const applied = await db.transaction(async (tx) => {
      // Hub replicas starting together against one server take turns here, so that each
      // migration runs once and the loser of the race sees the winner's row.
      await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await tx.exec(`create table if not exists schema_migrations (
        version integer primary key,
        name text not null,
        applied_at timestamptz not null default now()
      )`);
      const done = await tx.query('select 1 from schema_migrations where version = $1', [migration.version]);
      if (done.length > 0) return false;
      await tx.exec(migration.sql);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
      return true;
    });
    if (applied) ran.push(migration.version);
  }
  return ran;
}
