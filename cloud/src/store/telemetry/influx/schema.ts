import type { InfluxHttp } from './http-client.js';
import { identifier, milliseconds } from './influxql.js';

/**
 * The hub's InfluxDB schema (cloud/docs/telemetry-schema.md explains it): raw readings in the
 * default retention policy `raw`, kept for a configurable period, and 15-minute aggregates of
 * every field in `rollup_15m`, kept longer, made by one continuous query.
 */
export const RAW_POLICY = 'raw';
export const ROLLUP_POLICY = 'rollup_15m';
export const ROLLUP_EVERY_MS = 15 * 60_000;
const ROLLUP_QUERY = 'gatehouse_rollup_15m';

/** A retention period as InfluxQL writes it (`90d`, `INF`) and in milliseconds (Infinity for INF). */
export interface Retention {
  literal: string;
  ms: number;
}

export interface InfluxRetention {
  raw: Retention;
  rollup: Retention;
}

/** What the rollup stores of a field `f`: `mean_f`, `min_f`, `max_f`, `sum_f`, `count_f`, `last_f`. */
const ROLLUP_FUNCTIONS = ['mean', 'min', 'max', 'sum', 'count', 'last'] as const;

/**
 * The rollup's SELECT, shared by the continuous query (which adds the time range itself) and
 * a backfill (which gives one). Wildcard aggregates apply to the fields each can: mean, min,
 * max and sum skip text and booleans; count and last take every field.
 */
export function rollupSelect(database: string, timeRange?: { from: number; to: number }): string {
  const db = identifier(database);
  const where = timeRange ? ` WHERE time >= ${milliseconds(timeRange.from)} AND time < ${milliseconds(timeRange.to)}` : '';
  return (
    `SELECT ${ROLLUP_FUNCTIONS.map((fn) => `${fn}(*)`).join(', ')} ` +
    `INTO ${db}.${identifier(ROLLUP_POLICY)}.:MEASUREMENT FROM ${db}.${identifier(RAW_POLICY)}./.*/` +
    `${where} GROUP BY time(${milliseconds(ROLLUP_EVERY_MS)}), *`
  );
}

/** Shards of a week keep a 30-day query to a handful of shards; a short retention keeps InfluxDB's default. */
const WEEK_MS = 7 * 24 * 3_600_000;
const shardDuration = (retention: Retention) => (retention.ms >= 4 * WEEK_MS ? ' SHARD DURATION 7d' : '');

/**
 * Creates or corrects the database, both retention policies and the continuous query. Safe to
 * run at every start and by several hubs at once: each statement either creates what is
 * missing or sets what exists to the same values.
 */
export async function setUpSchema(http: InfluxHttp, retention: InfluxRetention): Promise<void> {
  const database = http.connection.database;
  const db = identifier(database);
  await http.query(`CREATE DATABASE ${db}`, { method: 'POST' });
  const [policies] = await http.query(`SHOW RETENTION POLICIES ON ${db}`);
  const existing = new Set((policies?.series?.[0]?.values ?? []).map((row) => String(row[0])));
  const policy = async (name: string, period: Retention, extra: string) => {
    const verb = existing.has(name) ? 'ALTER' : 'CREATE';
    const replication = verb === 'CREATE' ? ' REPLICATION 1' : '';
    await http.query(
      `${verb} RETENTION POLICY ${identifier(name)} ON ${db} DURATION ${period.literal}${replication}${shardDuration(period)}${extra}`,
      { method: 'POST' },
    );
  };
  await policy(RAW_POLICY, retention.raw, ' DEFAULT');
  await policy(ROLLUP_POLICY, retention.rollup, '');

  const create = `CREATE CONTINUOUS QUERY ${identifier(ROLLUP_QUERY)} ON ${db} BEGIN ${rollupSelect(database)} END`;
  try {
    // InfluxDB accepts the same continuous query again silently; only a changed one is refused.
    await http.query(create, { method: 'POST' });
  } catch {
    await http.query(`DROP CONTINUOUS QUERY ${identifier(ROLLUP_QUERY)} ON ${db}`, { method: 'POST' });
    await http.query(create, { method: 'POST' });
  }
}
