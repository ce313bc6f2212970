import type { Quality, Reading } from '@gatehouse/protocols';
import type { StoreError } from '../errors.js';

/**
 * The telemetry store's port. Two adapters keep readings: `SqlTelemetryStore` in PostgreSQL
 * tables (PGlite by default, or a server) and `InfluxTelemetryStore` in InfluxDB through its
 * v1 HTTP API. Both pass one conformance suite (cloud/test/telemetry-conformance.ts).
 */

export type ReadingValue = Reading['value'];

/** A reading as the hub hands it to a store: the device named by its hub-wide id. */
export interface TelemetryReading {
  site: string;
  gateway: string;
  /** The hub-wide device id, `{site}.{gateway}.{device}`. */
  device: string;
  /** The device's kind as its gateway's inventory names it; null while the hub does not know it. */
  kind: string | null;
  point: string;
  /** Milliseconds since the epoch. */
  ts: number;
  value: ReadingValue;
  quality: Quality;
}

/** A reading as a store gives it back. */
export interface StoredReading {
  device: string;
  point: string;
  ts: number;
  value: ReadingValue;
  quality: Quality;
}

/** Which device a query is about: the InfluxDB adapter keeps each kind in its own measurement. */
export interface TelemetryDevice {
  id: string;
  kind: string | null;
}

export const AGGREGATIONS = ['mean', 'min', 'max', 'last', 'sum', 'count'] as const;
export type Aggregation = (typeof AGGREGATIONS)[number];
/** The aggregations that only make sense of numbers. */
export const NUMERIC_AGGREGATIONS: ReadonlySet<Aggregation> = new Set(['mean', 'min', 'max', 'sum']);

/**
 * One point's readings in [from, to), cut into windows of `every` milliseconds aligned to the
 * epoch (so 15-minute windows start at :00, :15, :30, :45 UTC), each window aggregated.
 */
export interface SeriesQuery {
  device: TelemetryDevice;
  point: string;
  from: number;
  to: number;
  every: number;
  agg: Aggregation;
}

/**
 * One window of a series: `ts` is where the window starts. A window with no reading is absent
 * from the series, so a gap in the data is a gap in the answer, never a zero or a null; a
 * reading whose value is null (a failed read) counts as no reading.
 */
export interface SeriesPoint {
  ts: number;
  value: ReadingValue;
}

/** Writes fail as values, because ingestion acts on the code: retry, or dead-letter. */
export type WriteResult = { ok: true } | { ok: false; error: StoreError };

export interface TelemetryStore {
  /**
   * Stores readings, all or (on failure) possibly some. Idempotent: a reading with the same
   * device, point and timestamp as a stored one replaces it, so a replayed batch changes nothing.
   */
  write(readings: readonly TelemetryReading[]): Promise<WriteResult>;
  /** The newest reading of each point of a device, by point name. Throws a StoreError. */
  latest(device: TelemetryDevice): Promise<StoredReading[]>;
  /** Throws a StoreError. */
  series(query: SeriesQuery): Promise<SeriesPoint[]>;
  close(): Promise<void>;
}

/** The start of the window that holds `ts`: windows are aligned to the epoch. */
export const windowStart = (ts: number, every: number) => Math.floor(ts / every) * every;
