import type { SqlClient } from './sql.js';

export interface BatchKey {
  site: string;
  gateway: string;
  seq: number;
}

/**
 * Which telemetry batches are stored, by (site, gateway, seq), in the relational store whatever
 * store keeps the readings. Ingestion asks `has` before writing and `record`s after the write
 * succeeded, never before: a hub that dies between the two gets the batch again, writes it again
 * and only then records it. That replay is harmless because every telemetry store overwrites a
 * reading with the same device, point and timestamp instead of adding a second one.
 */
export class BatchLedger {
  constructor(private readonly db: SqlClient) {}

  async has(batch: BatchKey): Promise<boolean> {
    const rows = await this.db.query(
      `select 1 from ingested_batches where site = $1 and gateway = $2 and channel = 'telemetry' and seq = $3`,
      [batch.site, batch.gateway, batch.seq],
    );
    return rows.length > 0;
  }

  async record(batch: BatchKey): Promise<void> {
    await this.db.query(
      `insert into ingested_batches (site, gateway, channel, seq) values ($1, $2, 'telemetry', $3) on conflict do nothing`,
      [batch.site, batch.gateway, batch.seq],
    );
  }
}
