import type { Quality } from '@gatehouse/protocols';
import { isStoreError } from '../../errors.js';
import type {
  Aggregation,
  ReadingValue,
  SeriesPoint,
  SeriesQuery,
  StoredReading,
  TelemetryDevice,
  TelemetryReading,
  TelemetryStore,
  WriteResult,
} from '../port.js';
import { InfluxHttp, type InfluxConnection, type InfluxSeries } from './http-client.js';
import { identifier, milliseconds, stringLiteral } from './influxql.js';
import { LineEncoder, measurementOf, QUALITY_SUFFIX, valueField } from './line-encoder.js';
import { RAW_POLICY, ROLLUP_EVERY_MS, ROLLUP_POLICY, rollupSelect, setUpSchema, type InfluxRetention } from './schema.js';
import { decodeText, encodeText } from './text-codec.js';
import { WriteQueue, type WriteQueueOptions } from './write-queue.js';

const decodeValue = (value: unknown): ReadingValue => (typeof value === 'string' ? decodeText(value) : (value as ReadingValue));

/** Over raw readings each aggregation is the InfluxQL function of its name. */
const rawAggregate = (agg: Aggregation, field: string) => `${agg}(${identifier(field)})`;
/** Over the rollup's 15-minute aggregates, each is made from the aggregates that compose. */
const ROLLUP_AGGREGATE: Record<Aggregation, (field: string) => string> = {
  // The mean of means would weigh a sparse window like a full one: divide the sums instead.
  mean: (f) => `sum(${identifier(`sum_${f}`)}) / sum(${identifier(`count_${f}`)})`,
  min: (f) => `min(${identifier(`min_${f}`)})`,
  max: (f) => `max(${identifier(`max_${f}`)})`,
  sum: (f) => `sum(${identifier(`sum_${f}`)})`,
  count: (f) => `sum(${identifier(`count_${f}`)})`,
  last: (f) => `last(${identifier(`last_${f}`)})`,
};

export interface InfluxTelemetryOptions {
  connection: InfluxConnection;
  retention: InfluxRetention;
  writeQueue?: WriteQueueOptions;
  /** Now, in epoch milliseconds: which retention policy answers a series depends on it. */
  clock?: () => number;
}

/**
 * Telemetry in InfluxDB, spoken through the v1 HTTP API: line protocol to /write, InfluxQL to
 * /query. One measurement per device kind; tags site, gateway and device (the hub-wide id, so
 * that one tag finds a device); one field per point and one for its quality.
 */
export class InfluxTelemetryStore implements TelemetryStore {
  private readonly http: InfluxHttp;
  private readonly queue: WriteQueue;
  private readonly encoder = new LineEncoder();
  private readonly clock: () => number;

  private constructor(private readonly options: InfluxTelemetryOptions) {
    this.http = new InfluxHttp(options.connection);
    this.queue = new WriteQueue((body) => this.http.write(body, RAW_POLICY), options.writeQueue);
    this.clock = options.clock ?? Date.now;
  }

  /** Connects, and sets up the database, retention policies and rollup (throws a StoreError). */
  static async open(options: InfluxTelemetryOptions): Promise<InfluxTelemetryStore> {
    const store = new InfluxTelemetryStore(options);
    await setUpSchema(store.http, options.retention);
    return store;
  }

  async write(readings: readonly TelemetryReading[]): Promise<WriteResult> {
    try {
      await this.queue.write(this.encoder.encode(readings, this.queue.maxLines));
      return { ok: true };
    } catch (error) {
      if (isStoreError(error)) return { ok: false, error };
      throw error;
    }
  }

  async latest(device: TelemetryDevice): Promise<StoredReading[]> {
    const measurement = `${identifier(RAW_POLICY)}.${identifier(measurementOf(device.kind))}`;
    const [keys] = await this.http.query(`SHOW FIELD KEYS FROM ${measurement}`);
    const points = (keys?.series?.[0]?.values ?? [])
      .map((row) => String(row[0]))
      .filter((key) => key.endsWith(QUALITY_SUFFIX))
      .map((key) => key.slice(0, -QUALITY_SUFFIX.length))
      .sort();
    if (points.length === 0) return [];
    // One statement per point, in one request: a selector with several fields would lose
    // each one's timestamp. The quality field is always there, so last() of it finds the
    // newest reading, and the value beside it is null when that reading had none.
    const where = `WHERE "device" = ${stringLiteral(encodeText(device.id))}`;
    const results = await this.http.query(
      points
        .map((point) => `SELECT last(${identifier(`${point}${QUALITY_SUFFIX}`)}), ${identifier(point)} FROM ${measurement} ${where}`)
        .join('; '),
    );
    return points.flatMap((point, index) => {
      const row = results[index]?.series?.[0]?.values[0];
      if (!row) return [];
      const [ts, quality, value] = row as [number, Quality, unknown];
      return [{ device: device.id, point: decodeText(point), ts, value: decodeValue(value ?? null), quality }];
    });
  }

  /**
   * A series from the raw readings, or, when it reaches back past the raw retention and its
   * windows are whole multiples of 15 minutes, from the rollup (up to its last complete window).
   */
  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    const rawSince = this.clock() - this.options.retention.raw.ms;
    const fromRollup = query.from < rawSince && query.every % ROLLUP_EVERY_MS === 0;
    const field = valueField(query.point);
    const [policy, aggregate] = fromRollup ? [ROLLUP_POLICY, ROLLUP_AGGREGATE[query.agg](field)] : [RAW_POLICY, rawAggregate(query.agg, field)];
    const statement =
      `SELECT ${aggregate} ` +
      `FROM ${identifier(policy)}.${identifier(measurementOf(query.device.kind))} ` +
      `WHERE "device" = ${stringLiteral(encodeText(query.device.id))} ` +
      `AND time >= ${milliseconds(query.from)} AND time < ${milliseconds(query.to)} ` +
      `GROUP BY time(${milliseconds(query.every)}) fill(none)`;
    const [result] = await this.http.query(statement);
    const series: InfluxSeries | undefined = result?.series?.[0];
    return (series?.values ?? [])
      .filter((row) => row[1] !== null && row[1] !== undefined)
      .map((row) => ({ ts: row[0] as number, value: decodeValue(row[1]) }));
  }

  /**
   * Aggregates [from, to) into the rollup now. The continuous query only ever covers windows
   * that close while it exists; this fills in the history before it (after a restore, or when
   * rollups are set up on a database that already holds readings).
   */
  async backfillRollups(from: number, to: number): Promise<void> {
    await this.http.query(rollupSelect(this.options.connection.database, { from, to }), { method: 'POST' });
  }

  async close(): Promise<void> {}
}
