import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Influxd } from '../../tests/support/influxd.js';
import { PostgresServer } from '../../tests/support/postgres.js';
import { hubSettingsFromEnv, InfluxTelemetryStore, isStoreError, MIGRATIONS, openStores, SqlTelemetryStore } from '../src/index.js';

/** The production deployment's stores, chosen by the settings: a PostgreSQL server and InfluxDB. */
describe('opening the stores the settings name', () => {
  let postgres: PostgresServer;
  let influxd: Influxd;

  beforeAll(async () => {
    [postgres, influxd] = await Promise.all([PostgresServer.create(), Influxd.create()]);
  });
  afterAll(async () => {
    postgres?.remove();
    await influxd?.remove();
  });

  it('uses a migrated PostgreSQL server for the registry and InfluxDB for readings', async () => {
    const stores = await openStores(hubSettingsFromEnv({ GATEHOUSE_DATABASE_URL: postgres.url, GATEHOUSE_INFLUX_URL: influxd.url }));
    try {
      expect(stores.telemetry).toBeInstanceOf(InfluxTelemetryStore);
      expect(stores.migrated).toEqual(MIGRATIONS.map((migration) => migration.version));
      await stores.registry.markSeen('tower-a', 'gw-01', ['meter-1'], Date.now());
      expect((await stores.registry.listSites()).map((site) => site.id)).toEqual(['tower-a']);
    } finally {
      await stores.close();
    }
  });

  it('keeps readings in the relational store when no InfluxDB is named', async () => {
    const stores = await openStores(hubSettingsFromEnv({ GATEHOUSE_DATABASE_URL: postgres.url }));
    try {
      expect(stores.telemetry).toBeInstanceOf(SqlTelemetryStore);
      expect(stores.migrated).toEqual([]);
    } finally {
      await stores.close();
    }
  });

  it('fails to open with a message naming the store and the setting when InfluxDB is not there', async () => {
    const failure: unknown = await openStores(
      hubSettingsFromEnv({ GATEHOUSE_DATABASE_URL: postgres.url, GATEHOUSE_INFLUX_URL: 'http://127.0.0.1:1' }),
    ).catch((error: unknown) => error);
    expect(isStoreError(failure) && failure.code).toBe('unavailable');
    expect((failure as Error).message).toMatch(/InfluxDB at http:\/\/127\.0\.0\.1:1 is unreachable .*GATEHOUSE_INFLUX_URL/);
  });
});
