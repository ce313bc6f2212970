import { hubDeviceId, type Quality, type Reading } from '@gatehouse/protocols';
import type { SqlClient } from './sql.js';

/** A reading as the hub keeps it: the device named by its hub-wide id. */
export interface StoredReading {
  device: string;
  point: string;
  ts: number;
  value: Reading['value'];
  quality: Quality;
}

export interface TelemetryBatch {
  site: string;
  gateway: string;
  seq: number;
  readings: readonly Reading[];
}

export type WriteOutcome = { duplicate: true } | { duplicate: false; stored: StoredReading[] };

/** Where readings are kept. Writing a batch is all-or-nothing and idempotent by (gateway, seq). */
export interface TelemetryStore {
  writeBatch(batch: TelemetryBatch): Promise<WriteOutcome>;
  latest(device: string): Promise<StoredReading[]>;
}

/** The newest reading of each (device, point) in a list: what "latest" must be upserted with. */
function newestPerPoint(readings: readonly StoredReading[]): StoredReading[] {
  const newest = new Map<string, StoredReading>();
  for (const reading of readings) {
    const key = `${reading.device}\u0000${reading.point}`;
    const seen = newest.get(key);
    if (!seen || reading.ts >= seen.ts) newest.set(key, reading);
  }
  return [...newest.values()];
}

function columns(readings: readonly StoredReading[]): unknown[] {
  return [
    readings.map((r) => r.device),
    readings.map((r) => r.point),
    readings.map((r) => new Date(r.ts).toISOString()),
    readings.map((r) => JSON.stringify(r.value)),
    readings.map((r) => r.quality),
  ];
}

const UNNEST = `select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[], $5::text[])`;

/** The embedded telemetry store: readings in PostgreSQL tables (PGlite by default). */
export class SqlTelemetryStore implements TelemetryStore {
  constructor(private readonly db: SqlClient) {}

  async writeBatch(batch: TelemetryBatch): Promise<WriteOutcome> {
    const stored = batch.readings.map((reading) => ({
      device: hubDeviceId(batch.site, batch.gateway, reading.device),
      point: reading.point,
      ts: reading.ts,
      value: reading.value,
      quality: reading.quality,
    }));
    return this.db.transaction(async (tx) => {
      const claimed = await tx.query(
        `insert into ingested_batches (site, gateway, channel, seq) values ($1, $2, 'telemetry', $3)
         on conflict do nothing returning seq`,
        [batch.site, batch.gateway, batch.seq],
      );
      if (claimed.length === 0) return { duplicate: true };
      await tx.query(
        `insert into readings (device_id, point, ts, value, quality) ${UNNEST}
         on conflict (device_id, point, ts) do update set value = excluded.value, quality = excluded.quality`,
        columns(stored),
      );
      await tx.query(
        `insert into latest_readings as l (device_id, point, ts, value, quality) ${UNNEST}
         on conflict (device_id, point) do update
           set ts = excluded.ts, value = excluded.value, quality = excluded.quality
           where excluded.ts >= l.ts`,
        columns(newestPerPoint(stored)),
      );
      return { duplicate: false, stored };
    });
  }

  async latest(device: string): Promise<StoredReading[]> {
    const rows = await this.db.query<{ point: string; ts: number; value: Reading['value']; quality: Quality }>(
      `select point, (extract(epoch from ts) * 1000)::float8 as ts, value, quality
       from latest_readings where device_id = $1 order by point`,
      [device],
    );
    return rows.map((row) => ({ device, point: row.point, ts: Math.round(row.ts), value: row.value, quality: row.quality }));
  }
}
