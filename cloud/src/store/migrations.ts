import type { SqlClient } from './sql.js';

/**
 * Versioned schema migrations, applied in order, each once, each in its own transaction. A
 * migration is never edited after it has shipped: changes are new migrations.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'registry, readings and ingestion bookkeeping',
    sql: `
      create table gateways (
        site text not null,
        gateway text not null,
        state text not null default 'unknown',
        agent_version text,
        config_version text,
        boot_id text,
        state_changed_at timestamptz,
        primary key (site, gateway)
      );
      create table devices (
        id text primary key,
        site text not null,
        gateway text not null,
        device text not null,
        kind text,
        profile text,
        comm_status text not null default 'unknown',
        comm_reason text,
        last_good_read timestamptz,
        consecutive_failures integer not null default 0,
        total_errors integer not null default 0,
        last_seen timestamptz
      );
      create index devices_by_gateway on devices (site, gateway);
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
      -- One row per batch a gateway sent, so that a replayed batch is recognised and skipped.
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
];

export async function migrate(db: SqlClient, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await db.exec(`create table if not exists schema_migrations (
    version integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
  )`);
  const applied = new Set(
    (await db.query<{ version: number }>('select version from schema_migrations')).map((row) => row.version),
  );
  const ran: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    await db.transaction(async (tx) => {
      await tx.exec(migration.sql);
      await tx.query('insert into schema_migrations (version, name) values ($1, $2)', [migration.version, migration.name]);
    });
    ran.push(migration.version);
  }
  return ran;
}
