import type { Quality } from '@gatehouse/protocols';
import { isStoreError } from '../errors.js';
import { epochMs, epochMsAs } from '../sql-fragments.js';
import type { SqlClient } from '../sql.js';
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
} from './port.js';

/**
 * One reading per (device, point, ts), the last one given winning: PostgreSQL refuses an
 * upsert that touches the same row twice in one statement, and a gateway may repeat itself.
 */
function onePerKey(readings: readonly TelemetryReading[], key: (reading: TelemetryReading) => string): TelemetryReading[] {
  const kept = new Map<string, TelemetryReading>();
  for (const reading of readings) {
    const k = key(reading);
    const seen = kept.get(k);
    if (!seen || reading.ts >= seen.ts) kept.set(k, reading);
  }
  return [...kept.values()];
}

function columns(readings: readonly TelemetryReading[]): unknown[] {
  return [
    readings.map((r) => r.device),
    readings.map((r) => r.point),
    readings.map((r) => new Date(r.ts).toISOString()),
    readings.map((r) => JSON.stringify(r.value)),
    readings.map((r) => r.quality),
  ];
}

const UNNEST = `select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::text[])`;

/** Numbers only: a numeric aggregation of a point that also holds text ignores the text. */
const NUMBER = `case when jsonb_typeof(value) = 'number' then (value)::float8 end`;
const numeric = (fn: string) => `to_jsonb(${fn}(${NUMBER}))`;
const AGGREGATE: Record<Aggregation, string> = {
  mean: numeric('avg'),
  min: numeric('min'),
  max: numeric('max'),
  sum: numeric('sum'),
  count: 'to_jsonb(count(*))',
  last: '(array_agg(value order by ts desc))[1]',
};

/** The telemetry store of the embedded deployment: readings in PostgreSQL tables. */
export class SqlTelemetryStore implements TelemetryStore {
  constructor(private readonly db: SqlClient) {}

  async write(readings: readonly TelemetryReading[]): Promise<WriteResult> {
    const rows = onePerKey(readings, (r) => `${r.device}\u0000${r.point}\u0000${r.ts}`);
    const newest = onePerKey(rows, (r) => `${r.device}\u0000${r.point}`);
    try {
      await this.db.transaction(async (tx) => {
        await tx.query(
          `insert into readings (device_id, point, ts, value, quality) ${UNNEST}
           on conflict (device_id, point, ts) do update set value = excluded.value, quality = excluded.quality`,
          columns(rows),
        );
        // A late reading (older than the stored latest) leaves "latest" as it is.
        await tx.query(
          `insert into latest_readings as l (device_id, point, ts, value, quality) ${UNNEST}
           on conflict (device_id, point) do update
             set ts = excluded.ts, value = excluded.value, quality = excluded.quality
             where excluded.ts >= l.ts`,
          columns(newest),
        );
      });
      return { ok: true };
    } catch (error) {
      if (isStoreError(error)) return { ok: false, error };
      throw error;
    }
  }

  async latest(device: TelemetryDevice): Promise<StoredReading[]> {
    const rows = await this.db.query<{ point: string; ts: number; value: ReadingValue; quality: Quality }>(
      `select point, ${epochMsAs('ts')}, value, quality from latest_readings where device_id = $1 order by point`,
      [device.id],
    );
    return rows.map((row) => ({ device: device.id, point: row.point, ts: Math.round(row.ts), value: row.value, quality: row.quality }));
  }

  async series(query: SeriesQuery): Promise<SeriesPoint[]> {
    // Window starts are computed in milliseconds, as the InfluxDB adapter's GROUP BY time()
    // aligns them: floor(ts / every) * every.
    const rows = await this.db.query<{ ts: number; value: ReadingValue }>(
      `select floor(${epochMs('ts')} / $5::float8) * $5::float8 as ts, ${AGGREGATE[query.agg]} as value
       from readings
       where device_id = $1 and point = $2 and ts >= $3 and ts < $4 and jsonb_typeof(value) <> 'null'
       group by 1 order by 1`,
      [query.device.id, query.point, new Date(query.from).toISOString(), new Date(query.to).toISOString(), query.every],
    );
    return rows.filter((row) => row.value !== null).map((row) => ({ ts: Math.round(row.ts), value: row.value }));
  }

  /** The relational store is closed by whoever opened it: the registry shares it. */
  async close(): Promise<void> {}
}
