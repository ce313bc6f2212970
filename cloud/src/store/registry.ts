import { hubDeviceId, type DevicesPayload, type StatusPayload } from '@gatehouse/protocols';
import { epochMsAs, SqlFilter } from './sql-fragments.js';
import type { SqlClient } from './sql.js';

/** A device's status as people read it: its gateway offline makes it offline too. */
export type DeviceStatus = 'online' | 'offline' | 'unknown';

export interface DeviceRecord {
  id: string;
  site: string;
  gateway: string;
  device: string;
  kind: string | null;
  profile: string | null;
  bus: string | null;
  serves: string | null;
  status: DeviceStatus;
  comm: {
    status: string;
    reason: string | null;
    last_good_read: number | null;
    consecutive_failures: number;
    total_errors: number;
  };
  gateway_state: string;
  last_seen: number | null;
}

export interface SiteRecord {
  id: string;
  name: string | null;
  time_zone: string;
  gateways: number;
  devices: number;
  devices_online: number;
}

interface DeviceRow {
  id: string;
  site: string;
  gateway: string;
  device: string;
  kind: string | null;
  profile: string | null;
  bus: string | null;
  serves: string | null;
  comm_status: string;
  comm_reason: string | null;
  last_good_read: number | null;
  consecutive_failures: number;
  total_errors: number;
  gateway_state: string | null;
  last_seen: number | null;
}

const SELECT_DEVICES = `
  select d.id, d.site, d.gateway, d.device, d.kind, d.profile, d.bus, d.serves, d.comm_status, d.comm_reason,
         ${epochMsAs('d.last_good_read')}, d.consecutive_failures, d.total_errors,
         g.state as gateway_state, ${epochMsAs('d.last_seen')}
  from devices d left join gateways g on g.site = d.site and g.gateway = d.gateway`;

/**
 * Registers the site ($1) and gateway ($2) a message came from, if new, in the same statement
 * as what follows it: gateways announce themselves by publishing, not by being created first.
 */
const ENSURE_GATEWAY = `
  with new_site as (insert into sites (id) values ($1) on conflict do nothing),
       new_gateway as (insert into gateways (site, gateway) values ($1, $2) on conflict do nothing)`;

const roundOrNull = (value: number | null) => (value === null ? null : Math.round(value));

function statusOf(row: DeviceRow): DeviceStatus {
  if (row.gateway_state === 'offline') return 'offline';
  return row.comm_status === 'online' || row.comm_status === 'offline' ? row.comm_status : 'unknown';
}

function toRecord(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    site: row.site,
    gateway: row.gateway,
    device: row.device,
    kind: row.kind,
    profile: row.profile,
    bus: row.bus,
    serves: row.serves,
    status: statusOf(row),
    comm: {
      status: row.comm_status,
      reason: row.comm_reason,
      last_good_read: roundOrNull(row.last_good_read),
      consecutive_failures: row.consecutive_failures,
      total_errors: row.total_errors,
    },
    gateway_state: row.gateway_state ?? 'unknown',
    last_seen: roundOrNull(row.last_seen),
  };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Sites, gateways and devices as their gateways report them. */
export class Registry {
  constructor(private readonly db: SqlClient) {}

  async recordGatewayStatus(site: string, gateway: string, status: StatusPayload): Promise<void> {
    await this.db.query(
      `${ENSURE_GATEWAY}
       insert into gateways (site, gateway, state, agent_version, config_version, boot_id, state_changed_at)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (site, gateway) do update set state = excluded.state, agent_version = excluded.agent_version,
         config_version = excluded.config_version, boot_id = excluded.boot_id, state_changed_at = excluded.state_changed_at`,
      [site, gateway, status.state, status.agent_version, status.config_version, status.boot_id, iso(status.ts)],
    );
  }

  async applyInventory(site: string, gateway: string, inventory: DevicesPayload): Promise<void> {
    const entries = inventory.devices;
    await this.db.query(
      `${ENSURE_GATEWAY}
       insert into devices (id, site, gateway, device, kind, profile, comm_status, comm_reason, last_good_read,
                            consecutive_failures, total_errors, bus)
       select id, $1, $2, device, kind, profile, comm_status, comm_reason, last_good_read, consecutive_failures, total_errors, bus
       from unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::int[], $11::int[], $12::text[])
         as entry (id, device, kind, profile, comm_status, comm_reason, last_good_read, consecutive_failures, total_errors, bus)
       on conflict (id) do update set kind = excluded.kind, profile = excluded.profile, bus = excluded.bus,
         comm_status = excluded.comm_status, comm_reason = excluded.comm_reason,
         last_good_read = excluded.last_good_read, consecutive_failures = excluded.consecutive_failures,
         total_errors = excluded.total_errors`,
      [
        site,
        gateway,
        entries.map((entry) => hubDeviceId(site, gateway, entry.device)),
        entries.map((entry) => entry.device),
        entries.map((entry) => entry.kind),
        entries.map((entry) => entry.profile),
        entries.map((entry) => entry.comm.status),
        entries.map((entry) => entry.comm.reason ?? null),
        entries.map((entry) => iso(entry.comm.last_good_read)),
        entries.map((entry) => entry.comm.consecutive_failures),
        entries.map((entry) => entry.comm.total_errors),
        entries.map((entry) => entry.bus ?? null),
      ],
    );
  }

  /** Notes that devices were heard from; a device first heard in telemetry is registered. */
  async markSeen(site: string, gateway: string, devices: readonly string[], at: number): Promise<void> {
    const names = [...new Set(devices)];
    await this.db.query(
      `${ENSURE_GATEWAY}
       insert into devices (id, site, gateway, device, last_seen)
       select id, $1, $2, device, $5 from unnest($3::text[], $4::text[]) as seen (id, device)
       on conflict (id) do update set last_seen = greatest(devices.last_seen, excluded.last_seen)`,
      [site, gateway, names.map((name) => hubDeviceId(site, gateway, name)), names, iso(at)],
    );
  }

  /** The kind of each device of a gateway that its inventory named; telemetry is stored by kind. */
  async kindsOf(site: string, gateway: string): Promise<Map<string, string | null>> {
    const rows = await this.db.query<{ device: string; kind: string | null }>(
      'select device, kind from devices where site = $1 and gateway = $2',
      [site, gateway],
    );
    return new Map(rows.map((row) => [row.device, row.kind]));
  }

  /** The kinds of the devices a gateway polls on one bus, each once. */
  async kindsOnBus(site: string, gateway: string, bus: string): Promise<string[]> {
    const rows = await this.db.query<{ kind: string }>(
      'select distinct kind from devices where site = $1 and gateway = $2 and bus = $3 and kind is not null order by kind',
      [site, gateway, bus],
    );
    return rows.map((row) => row.kind);
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.db.query<DeviceRow>(`${SELECT_DEVICES} order by d.id`)).map(toRecord);
  }

  async listDevicesOfSite(site: string): Promise<DeviceRecord[]> {
    return (await this.db.query<DeviceRow>(`${SELECT_DEVICES} where d.site = $1 order by d.id`, [site])).map(toRecord);
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const rows = await this.db.query<DeviceRow>(`${SELECT_DEVICES} where d.id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async listSites(): Promise<SiteRecord[]> {
    return this.selectSites(new SqlFilter());
  }

  async getSite(id: string): Promise<SiteRecord | undefined> {
    return (await this.selectSites(new SqlFilter().when(id, (p) => `s.id = ${p}`)))[0];
  }

  private selectSites(where: SqlFilter): Promise<SiteRecord[]> {
    return this.db.query<SiteRecord>(
      `select s.id, s.name, s.time_zone,
              (select count(*)::int from gateways g where g.site = s.id) as gateways,
              (select count(*)::int from devices d where d.site = s.id) as devices,
              (select count(*)::int from devices d join gateways g on g.site = d.site and g.gateway = d.gateway
                where d.site = s.id and d.comm_status = 'online' and g.state <> 'offline') as devices_online
       from sites s ${where.where} order by s.id`,
      where.params,
    );
  }
}
