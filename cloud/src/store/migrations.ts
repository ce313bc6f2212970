import { ALARM_TOPOLOGY_MIGRATION, ALARMS_MIGRATION } from '../alarms/schema.js';
import { JOBS_MIGRATION } from '../jobs/schema.js';
import { ONCALL_MIGRATION } from '../oncall/schema.js';
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
  {
    version: 3,
    name: 'people, sessions, API tokens, gateway enrolment and the audit log',
    sql: `
      -- A person. sites is the set of sites they may see and act on; '*' is every site.
      create table users (
        id bigserial primary key,
        username text not null unique,
        role text not null,
        sites text[] not null default '{}',
        password_hash text not null,
        disabled boolean not null default false,
        failed_logins integer not null default 0,
        locked_until timestamptz,
        created_at timestamptz not null default now()
      );
      -- Login sessions and API tokens are kept as SHA-256 digests of their (random, 256-bit)
      -- secrets: a stolen copy of the table logs nobody in.
      create table sessions (
        digest text primary key,
        user_id bigint not null references users (id),
        created_at timestamptz not null default now(),
        expires_at timestamptz not null
      );
      create table api_tokens (
        id bigserial primary key,
        name text not null,
        digest text not null unique,
        role text not null,
        sites text[] not null default '{}',
        scopes text[] not null default '{}',
        created_by text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz,
        revoked_at timestamptz
      );
      -- One-time enrolment tokens, single use, expiring; stored as digests.
      create table enrolment_tokens (
        digest text primary key,
        site text not null,
        gateway text not null,
        created_by text not null,
        created_at timestamptz not null default now(),
        expires_at timestamptz not null,
        used_at timestamptz
      );
      -- A gateway's MQTT credentials: one current row per gateway. The password is kept as an
      -- scrypt hash for the embedded broker and as Mosquitto's PBKDF2-SHA512 ($7$) hash for its
      -- password file; neither gives the password back.
      create table gateway_credentials (
        site text not null,
        gateway text not null,
        username text not null unique,
        password_hash text not null,
        mosquitto_hash text not null,
        issued_at timestamptz not null default now(),
        revoked_at timestamptz,
        primary key (site, gateway)
      );
      -- Append-only: who did what, when, from where, to what, with the state before and after.
      create table audit_log (
        id bigserial primary key,
        at timestamptz not null default now(),
        actor text,
        actor_kind text not null,
        ip text,
        action text not null,
        target text,
        site text,
        outcome text not null,
        before jsonb,
        after jsonb
      );
      create index audit_log_by_time on audit_log (at);
      create function audit_log_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'the audit log is append-only';
      end $$;
      create trigger audit_log_append_only before update or delete or truncate on audit_log
        for each statement execute function audit_log_append_only();
    `,
  },
  JOBS_MIGRATION,
  ONCALL_MIGRATION,
  {
    version: 6,
    name: 'device events and commands',
    sql: `
      -- Discrete events of a gateway's devices (access granted, door forced, plate read), kept
      -- once each: a replayed batch carries the same (gateway, seq) and position.
      create table events (
        id bigserial primary key,
        site text not null,
        gateway text not null,
        seq bigint not null,
        position integer not null,
        device_id text not null,
        type text not null,
        ts timestamptz not null,
        data jsonb not null default '{}',
        received_at timestamptz not null default now(),
        unique (site, gateway, seq, position)
      );
      create index events_by_device on events (device_id, ts);
      create index events_by_site on events (site, ts);
      -- Commands the hub sent to gateways, and what became of each.
      create table commands (
        id text primary key,
        site text not null,
        gateway text not null,
        device_id text not null,
        action text not null,
        params jsonb not null default '{}',
        timeout_ms integer not null,
        requested_by text not null,
        requested_at timestamptz not null,
        -- After this the hub stops waiting for a result and answers timeout.
        deadline timestamptz not null,
        status text not null default 'pending',
        error_code text,
        error_message text,
        data jsonb,
        completed_at timestamptz
      );
      create index commands_pending on commands (deadline) where status = 'pending';
      create index commands_by_device on commands (device_id, requested_at);
    `,
  },
  ALARMS_MIGRATION,
  ALARM_TOPOLOGY_MIGRATION,
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
