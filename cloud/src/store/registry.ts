import { hubDeviceId, type DevicesPayload, type StatusPayload } from '@gatehouse/protocols';
import type { SqlClient } from './sql.js';

export interface DeviceRecord {
  id: string;
  site: string;
  gateway: string;
  device: string;
  kind: string | null;
  profile: string | null;
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

interface DeviceRow {
  id: string;
  site: string;
  gateway: string;
  device: string;
  kind: string | null;
  profile: string | null;
  comm_status: string;
  comm_reason: string | null;
  last_good_read: number | null;
  consecutive_failures: number;
  total_errors: number;
  gateway_state: string | null;
  last_seen: number | null;
}

const epochMs = (column: string) => `(extract(epoch from ${column}) * 1000)::float8`;

const SELECT_DEVICES = `
  select d.id, d.site, d.gateway, d.device, d.kind, d.profile, d.comm_status, d.comm_reason,
         ${epochMs('d.last_good_read')} as last_good_read, d.consecutive_failures, d.total_errors,
         g.state as gateway_state, ${epochMs('d.last_seen')} as last_seen
  from devices d left join gateways g on g.site = d.site and g.gateway = d.gateway`;

const roundOrNull = (value: number | null) => (value === null ? null : Math.round(value));

function toRecord(row: DeviceRow): DeviceRecord {
  return {
    id: row.id,
    site: row.site,
    gateway: row.gateway,
    device: row.device,
    kind: row.kind,
    profile: row.profile,
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

/** Gateways and devices as their gateways report them. */
export class Registry {
  constructor(private readonly db: SqlClient) {}

  async recordGatewayStatus(site: string, gateway: string, status: StatusPayload): Promise<void> {
    await this.db.query(
      `insert into gateways (site, gateway, state, agent_version, config_version, boot_id, state_changed_at)
       values ($1, $2, $3, $4, $5, $6, $7)
       on conflict (site, gateway) do update set state = excluded.state, agent_version = excluded.agent_version,
         config_version = excluded.config_version, boot_id = excluded.boot_id, state_changed_at = excluded.state_changed_at`,
      [site, gateway, status.state, status.agent_version, status.config_version, status.boot_id, iso(status.ts)],
    );
  }

  async applyInventory(site: string, gateway: string, inventory: DevicesPayload): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const entry of inventory.devices) {
        await tx.query(
          `insert into devices (id, site, gateway, device, kind, profile, comm_status, comm_reason, last_good_read,
                                consecutive_failures, total_errors)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
           on conflict (id) do update set kind = excluded.kind, profile = excluded.profile,
             comm_status = excluded.comm_status, comm_reason = excluded.comm_reason,
             last_good_read = excluded.last_good_read, consecutive_failures = excluded.consecutive_failures,
             total_errors = excluded.total_errors`,
          [
            hubDeviceId(site, gateway, entry.device),
            site,
            gateway,
            entry.device,
            entry.kind,
            entry.profile,
            entry.comm.status,
            entry.comm.reason ?? null,
            iso(entry.comm.last_good_read),
            entry.comm.consecutive_failures,
            entry.comm.total_errors,
          ],
        );
      }
    });
  }

  /** Notes that devices were heard from; a device first heard in telemetry is registered. */
  async markSeen(site: string, gateway: string, devices: readonly string[], at: number): Promise<void> {
    const names = [...new Set(devices)];
    await this.db.query(
      `insert into devices (id, site, gateway, device, last_seen)
       select id, $1, $2, device, $5 from unnest($3::text[], $4::text[]) as seen (id, device)
       on conflict (id) do update set last_seen = greatest(devices.last_seen, excluded.last_seen)`,
      [site, gateway, names.map((name) => hubDeviceId(site, gateway, name)), names, iso(at)],
    );
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return (await this.db.query<DeviceRow>(`${SELECT_DEVICES} order by d.id`)).map(toRecord);
  }

  async getDevice(id: string): Promise<DeviceRecord | undefined> {
    const rows = await this.db.query<DeviceRow>(`${SELECT_DEVICES} where d.id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }
}
