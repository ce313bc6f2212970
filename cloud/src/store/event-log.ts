import { hubDeviceId, type GatehouseEvent } from '@gatehouse/protocols';
import { epochMsAs, SqlFilter } from './sql-fragments.js';
import type { SqlClient } from './sql.js';

/** An event as the hub keeps it: the device by its hub-wide id. */
export interface StoredEvent {
  id: number;
  site: string;
  gateway: string;
  device: string;
  type: string;
  ts: number;
  data: Record<string, unknown>;
}

export interface EventFilter {
  /** Only these sites; undefined for every site. */
  sites?: readonly string[] | undefined;
  device?: string | undefined;
  type?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
}

/**
 * The devices' discrete events (access granted or denied, doors forced or held open, plate
 * reads), appended once each: a batch replayed after a lost acknowledgement carries the same
 * (gateway, seq), and its events the same positions, which the table keeps unique.
 */
export class EventLog {
  constructor(private readonly db: SqlClient) {}

  /** Appends a batch; returns the events not seen before (none for a replay). */
  async append(site: string, gateway: string, seq: number, events: readonly GatehouseEvent[]): Promise<StoredEvent[]> {
    const rows = await this.db.query<EventRow>(
      `insert into events (site, gateway, seq, position, device_id, type, ts, data)
       select $1, $2, $3, position, device_id, type, to_timestamp(ts / 1000.0), data::jsonb
       from unnest($4::int[], $5::text[], $6::text[], $7::float8[], $8::text[]) as batch (position, device_id, type, ts, data)
       on conflict (site, gateway, seq, position) do nothing
       returning ${COLUMNS}`,
      [
        site,
        gateway,
        seq,
        events.map((_, position) => position),
        events.map((event) => hubDeviceId(site, gateway, event.device)),
        events.map((event) => event.type),
        events.map((event) => event.ts),
        events.map((event) => JSON.stringify(event.data)),
      ],
    );
    return rows.map(toStored);
  }

  /** The newest events first. */
  async list(filter: EventFilter): Promise<StoredEvent[]> {
    const where = new SqlFilter()
      .when(filter.sites, (p) => `site = any(${p}::text[])`)
      .when(filter.device, (p) => `device_id = ${p}`)
      .when(filter.type, (p) => `type = ${p}`)
      .when(filter.from, (p) => `ts >= to_timestamp(${p} / 1000.0)`)
      .when(filter.to, (p) => `ts < to_timestamp(${p} / 1000.0)`);
    const rows = await this.db.query<EventRow>(
      `select ${COLUMNS} from events ${where.where} order by ts desc, id desc limit ${where.param(filter.limit)}`,
      where.params,
    );
    return rows.map(toStored);
  }
}

interface EventRow {
  id: string | number;
  site: string;
  gateway: string;
  device_id: string;
  type: string;
  ts: number;
  data: Record<string, unknown>;
}

const COLUMNS = `id, site, gateway, device_id, type, ${epochMsAs('ts')}, data`;

const toStored = (row: EventRow): StoredEvent => ({
  id: Number(row.id),
  site: row.site,
  gateway: row.gateway,
  device: row.device_id,
  type: row.type,
  ts: Math.round(row.ts),
  data: row.data,
});
