import type { CommandPayload, CommandResultPayload } from '@gatehouse/protocols';
import { epochMsAs } from './sql-fragments.js';
import type { SqlClient } from './sql.js';

/** Where a command stands: waiting for its gateway's answer, or finished one way or another. */
export type CommandStatus = 'pending' | CommandResultPayload['status'];

export interface CommandRecord {
  id: string;
  site: string;
  gateway: string;
  /** The hub-wide device id. */
  device: string;
  action: CommandPayload['action'];
  params: Record<string, unknown>;
  timeout_ms: number;
  requested_by: string;
  requested_at: number;
  deadline: number;
  status: CommandStatus;
  error: { code: string; message: string } | null;
  data: Record<string, unknown> | null;
  completed_at: number | null;
}

export type NewCommand = Pick<CommandRecord, 'id' | 'site' | 'gateway' | 'device' | 'action' | 'params' | 'timeout_ms' | 'requested_by' | 'requested_at' | 'deadline'>;

/**
 * The commands the hub sent and their outcomes. A command id is taken once (the primary key), so
 * that two requests or two replicas can never send one id twice; the gateway's result settles
 * it, and the hub's own deadline settles it as `timeout` when no result came.
 */
export class CommandLog {
  constructor(private readonly db: SqlClient) {}

  /** Records a new command; an id taken before gives back the command that took it. */
  async create(command: NewCommand): Promise<{ created: boolean; command: CommandRecord }> {
    const inserted = await this.db.query<CommandRow>(
      `insert into commands (id, site, gateway, device_id, action, params, timeout_ms, requested_by, requested_at, deadline)
       values ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, to_timestamp($9 / 1000.0), to_timestamp($10 / 1000.0))
       on conflict (id) do nothing
       returning ${COLUMNS}`,
      [
        command.id,
        command.site,
        command.gateway,
        command.device,
        command.action,
        JSON.stringify(command.params),
        command.timeout_ms,
        command.requested_by,
        command.requested_at,
        command.deadline,
      ],
    );
    if (inserted[0]) return { created: true, command: toRecord(inserted[0]) };
    const existing = await this.get(command.id);
    if (!existing) throw new Error(`command ${command.id} neither inserted nor found`);
    return { created: false, command: existing };
  }

  async get(id: string): Promise<CommandRecord | undefined> {
    const rows = await this.db.query<CommandRow>(`select ${COLUMNS} from commands where id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  /**
   * Settles a command with its gateway's result. A result that comes after the hub gave up
   * still replaces `timeout`, because it says what the device did; any other settled command
   * keeps its first result. Undefined when the id is not one the hub sent, or already settled.
   */
  async settle(result: CommandResultPayload, receivedAt: number): Promise<CommandRecord | undefined> {
    const rows = await this.db.query<CommandRow>(
      `update commands set status = $2, error_code = $3, error_message = $4, data = $5::jsonb, completed_at = to_timestamp($6 / 1000.0)
       where id = $1 and status in ('pending', 'timeout')
       returning ${COLUMNS}`,
      [result.id, result.status, result.error?.code ?? null, result.error?.message ?? null, result.data ? JSON.stringify(result.data) : null, receivedAt],
    );
    return rows[0] && toRecord(rows[0]);
  }

  /** Settles a command the hub could not hand to the broker. */
  async failToSend(id: string, message: string, at: number): Promise<CommandRecord | undefined> {
    const rows = await this.db.query<CommandRow>(
      `update commands set status = 'failed', error_code = 'not_sent', error_message = $2, completed_at = to_timestamp($3 / 1000.0)
       where id = $1 and status = 'pending' returning ${COLUMNS}`,
      [id, message, at],
    );
    return rows[0] && toRecord(rows[0]);
  }

  /** Settles as `timeout` every pending command whose deadline has passed; returns them. */
  async expire(now: number): Promise<CommandRecord[]> {
    const rows = await this.db.query<CommandRow>(
      `update commands set status = 'timeout', error_code = 'no_result',
         error_message = 'the gateway sent no result before the deadline: it may be offline, or the result was lost',
         completed_at = to_timestamp($1 / 1000.0)
       where status = 'pending' and deadline < to_timestamp($1 / 1000.0)
       returning ${COLUMNS}`,
      [now],
    );
    return rows.map(toRecord);
  }

  /** A device's commands, newest first. */
  async listOfDevice(device: string, limit: number): Promise<CommandRecord[]> {
    const rows = await this.db.query<CommandRow>(`select ${COLUMNS} from commands where device_id = $1 order by requested_at desc limit $2`, [device, limit]);
    return rows.map(toRecord);
  }
}

interface CommandRow {
  id: string;
  site: string;
  gateway: string;
  device_id: string;
  action: CommandPayload['action'];
  params: Record<string, unknown>;
  timeout_ms: number;
  requested_by: string;
  requested_at: number;
  deadline: number;
  status: CommandStatus;
  error_code: string | null;
  error_message: string | null;
  data: Record<string, unknown> | null;
  completed_at: number | null;
}

const COLUMNS = `id, site, gateway, device_id, action, params, timeout_ms, requested_by, ${epochMsAs('requested_at')}, ${epochMsAs('deadline')},
  status, error_code, error_message, data, ${epochMsAs('completed_at')}`;

const toRecord = (row: CommandRow): CommandRecord => ({
  id: row.id,
  site: row.site,
  gateway: row.gateway,
  device: row.device_id,
  action: row.action,
  params: row.params,
  timeout_ms: row.timeout_ms,
  requested_by: row.requested_by,
  requested_at: Math.round(row.requested_at),
  deadline: Math.round(row.deadline),
  status: row.status,
  error: row.error_code === null ? null : { code: row.error_code, message: row.error_message ?? '' },
  data: row.data,
  completed_at: row.completed_at === null ? null : Math.round(row.completed_at),
});
