import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, MIGRATIONS, Registry, type SqlClient } from '../src/index.js';
import { emptyEmbeddedDatabase, emptyPostgresDatabase, type SqlHarness } from './sql-conformance.js';

const TABLES = [
  'alarm_history',
  'alarms',
  'api_tokens',
  'audit_log',
  'buses',
  'commands',
  'dead_letters',
  'devices',
  'enrolment_tokens',
  'escalation_policies',
  'events',
  'gateway_credentials',
  'gateways',
  'ingested_batches',
  'jobs',
  'latest_readings',
  'pages',
  'readings',
  'responders',
  'schedule_overrides',
  'schedules',
  'schema_migrations',
  'sessions',
  'sites',
  'teams',
  'users',
  'work_order_policies',
  'work_order_timeline',
  'work_orders',
];

function migrationSuite(name: string, open: () => Promise<SqlHarness>) {
  describe(`migrations on ${name}`, () => {
    let opened: SqlHarness | undefined;
    let db: SqlClient;

    beforeAll(async () => {
      opened = await open();
      db = opened.db;
    });
    afterAll(() => opened?.close());

    it('run from empty, every one of them, in order', async () => {
      expect(await migrate(db)).toEqual(MIGRATIONS.map((m) => m.version));
      const tables = await db.query<{ table_name: string }>(
        `select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
      );
      expect(tables.map((t) => t.table_name)).toEqual(TABLES);
    });

    it('are idempotent: running them again, even by two hubs at once, applies nothing', async () => {
      expect(await Promise.all([migrate(db), migrate(db)])).toEqual([[], []]);
      const applied = await db.query<{ version: number }>('select version from schema_migrations order by version');
      expect(applied.map((row) => row.version)).toEqual(MIGRATIONS.map((m) => m.version));
    });

    it('give a registry that records sites, gateways and devices as they announce themselves', async () => {
      const registry = new Registry(db);
      await registry.markSeen('tower-b', 'gw-9', ['meter-1'], Date.UTC(2026, 0, 1));
      expect(await registry.getSite('tower-b')).toEqual({
        id: 'tower-b',
        name: null,
        time_zone: 'UTC',
        gateways: 1,
        devices: 1,
        devices_online: 0,
      });
      expect(await registry.getDevice('tower-b.gw-9.meter-1')).toMatchObject({ status: 'unknown', last_seen: Date.UTC(2026, 0, 1) });
    });
  });
}

migrationSuite('PGlite', emptyEmbeddedDatabase);
migrationSuite('a PostgreSQL server', emptyPostgresDatabase);
