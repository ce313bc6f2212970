import type { RuleType, Severity } from '@gatehouse/protocols';
import { epochMsAs, SqlFilter } from '../store/sql-fragments.js';
import type { SqlClient, SqlTransaction } from '../store/sql.js';

/** One alarm transition as a rule reported it, at the edge or in the hub. */
export interface AlarmInput {
  site: string;
  gateway: string | null;
  /** A hub device id, or a gateway (`{site}.{gateway}`) for the gateway's own alarms. */
  source: string;
  rule: string;
  state: 'raised' | 'cleared';
  severity: Severity;
  ts: number;
  message: string;
  value?: unknown;
  /** The kind of rule; comm-loss alarms are grouped under their gateway's or bus's. */
  rule_type?: RuleType | undefined;
}

export interface AlarmRecord {
  id: number;
  site: string;
  gateway: string | null;
  source: string;
  rule: string;
  rule_type: RuleType | null;
  severity: Severity;
  state: 'active' | 'cleared';
  input_state: 'raised' | 'cleared';
  acknowledged: boolean;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  message: string;
  value: unknown;
  raised_at: number;
  cleared_at: number | null;
  episode: number;
  flapping: boolean;
  shelved_until: number | null;
  shelved_by: string | null;
  parent_id: number | null;
}

export interface AlarmHistoryEntry {
  at: number;
  kind: string;
  actor: string | null;
  detail: Record<string, unknown>;
}

/**
 * What applying a transition did. Only `raised` (a new episode) and `cleared` call for work
 * orders and pages; `pageable` is false while the alarm is shelved, flapping or grouped under
 * another that pages for it.
 */
export type AlarmOutcome =
  | { kind: 'ignored'; reason: 'replay' | 'unchanged' | 'held_flapping' }
  | { kind: 'raised'; alarm: AlarmRecord; pageable: boolean }
  | { kind: 'updated'; alarm: AlarmRecord }
  | { kind: 'cleared'; alarm: AlarmRecord }
  | { kind: 'flapping'; alarm: AlarmRecord };

export interface FlappingPolicy {
  /** More transitions than this within the window make an alarm flapping. */
  transitions: number;
  windowMs: number;
}

export const DEFAULT_FLAPPING: FlappingPolicy = { transitions: 6, windowMs: 10 * 60_000 };

export interface AlarmFilter {
  sites?: readonly string[] | undefined;
  state?: 'active' | 'cleared' | undefined;
  severity?: Severity | undefined;
  acknowledged?: boolean | undefined;
  source?: string | undefined;
  limit: number;
}

/**
 * The hub's alarms: one per (site, source, rule), its state (active or cleared) and whether a
 * person acknowledged it, with every change in its history. Transitions are applied under a row
 * lock and only when newer than the last one applied, so that a replayed message, or the same
 * message taken by two replicas, changes the alarm once.
 */
export class AlarmBook {
  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
    private readonly flappingPolicy: FlappingPolicy = DEFAULT_FLAPPING,
  ) {}

  async apply(input: AlarmInput): Promise<AlarmOutcome> {
    return this.db.transaction(async (tx) => {
      await tx.query(
        `insert into alarms (site, gateway, source, rule, rule_type, severity, state, input_state, message, value, raised_at, last_transition_at, episode)
         values ($1, $2, $3, $4, $5, $6, 'cleared', 'cleared', $7, null, to_timestamp($8 / 1000.0), to_timestamp(0), 0)
         on conflict (site, source, rule) do nothing`,
        [input.site, input.gateway, input.source, input.rule, input.rule_type ?? null, input.severity, input.message, input.ts],
      );
      const [row] = await tx.query<AlarmRow>(`select ${COLUMNS} from alarms where site = $1 and source = $2 and rule = $3 for update`, [
        input.site,
        input.source,
        input.rule,
      ]);
      const alarm = toRecord(row!);
      if (input.ts <= Math.round(row!.last_transition_at)) return { kind: 'ignored', reason: 'replay' } as const;
      // A clear of an alarm that never raised is as unchanged as a repeat.
      const unchanged = input.state === alarm.input_state && (alarm.episode > 0 || input.state === 'cleared');
      await tx.query(`update alarms set last_transition_at = to_timestamp($2 / 1000.0), input_changed_at = to_timestamp($3 / 1000.0) where id = $1`, [
        alarm.id,
        input.ts,
        this.now(),
      ]);
      if (unchanged) {
        if (input.state === 'cleared') return { kind: 'ignored', reason: 'unchanged' } as const;
        // A repeat of an active alarm: the newest message, value and severity, no new episode.
        const updated = await this.update(tx, alarm.id, `severity = $2, message = $3, value = $4::jsonb`, [input.severity, input.message, json(input.value)]);
        return { kind: 'updated', alarm: updated } as const;
      }

      await this.note(tx, alarm.id, input.ts, input.state, null, { severity: input.severity, message: input.message, value: input.value ?? null });
      const transitions = await this.transitionsInWindow(tx, alarm, input.ts);
      if (transitions > this.flappingPolicy.transitions && !alarm.flapping) {
        await this.note(tx, alarm.id, input.ts, 'flapping', null, { transitions_in_window: transitions });
        // Held active; if it had cleared, holding it is a new episode, raised now.
        const reactivated = alarm.state === 'cleared';
        const held = await this.update(
          tx,
          alarm.id,
          `flapping = true, state = 'active', input_state = $2, cleared_at = null,
           episode = episode + $3, raised_at = case when $3 = 1 then to_timestamp($4 / 1000.0) else raised_at end`,
          [input.state, reactivated ? 1 : 0, input.ts],
        );
        return { kind: 'flapping', alarm: held } as const;
      }
      if (alarm.flapping) {
        // Held: the input is recorded, the alarm stays as it is until the input settles.
        await this.update(tx, alarm.id, `input_state = $2`, [input.state]);
        return { kind: 'ignored', reason: 'held_flapping' } as const;
      }
      if (input.state === 'raised') {
        const raised = await this.update(
          tx,
          alarm.id,
          `state = 'active', input_state = 'raised', severity = $2, message = $3, value = $4::jsonb, raised_at = to_timestamp($5 / 1000.0),
           cleared_at = null, acknowledged = false, acknowledged_by = null, acknowledged_at = null, episode = episode + 1,
           rule_type = coalesce($6, rule_type), parent_id = null`,
          [input.severity, input.message, json(input.value), input.ts, input.rule_type ?? null],
        );
        return { kind: 'raised', alarm: raised, pageable: this.pageable(raised) } as const;
      }
      const cleared = await this.update(tx, alarm.id, `state = 'cleared', input_state = 'cleared', cleared_at = to_timestamp($2 / 1000.0)`, [input.ts]);
      return { kind: 'cleared', alarm: cleared } as const;
    });
  }

  /**
   * Ends flapping for alarms whose input has been quiet for a whole window (by the hub's clock),
   * applying the state the input settled in. Returns the alarms that cleared by it (a settled raise stays active,
   * already paged for when it first raised).
   */
  async settleFlapping(): Promise<AlarmRecord[]> {
    const now = this.now();
    const quietSince = now - this.flappingPolicy.windowMs;
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<AlarmRow>(
        `select ${COLUMNS} from alarms where flapping and input_changed_at < to_timestamp($1 / 1000.0) for update skip locked`,
        [quietSince],
      );
      const cleared: AlarmRecord[] = [];
      for (const row of rows) {
        const alarm = toRecord(row);
        await this.note(tx, alarm.id, now, 'flapping_ended', null, { settled: alarm.input_state });
        const settled = alarm.input_state === 'cleared';
        const updated = await this.update(tx, alarm.id, settled ? `flapping = false, state = 'cleared', cleared_at = to_timestamp($2 / 1000.0)` : `flapping = false`, settled ? [now] : []);
        if (settled) cleared.push(updated);
      }
      return cleared;
    });
  }

  async acknowledge(id: number, by: string): Promise<AlarmRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query<AlarmRow>(`select ${COLUMNS} from alarms where id = $1 for update`, [id]);
      if (!rows[0]) return undefined;
      const alarm = toRecord(rows[0]);
      if (alarm.acknowledged) return alarm;
      await this.note(tx, id, this.now(), 'acknowledged', by, {});
      return this.update(tx, id, `acknowledged = true, acknowledged_by = $2, acknowledged_at = to_timestamp($3 / 1000.0)`, [by, this.now()]);
    });
  }

  /** Shelves an alarm until `until` (no pages meanwhile), or unshelves it with null. */
  async shelve(id: number, until: number | null, by: string, reason: string | null): Promise<AlarmRecord | undefined> {
    return this.db.transaction(async (tx) => {
      const rows = await tx.query(`select id from alarms where id = $1 for update`, [id]);
      if (rows.length === 0) return undefined;
      await this.note(tx, id, this.now(), until === null ? 'unshelved' : 'shelved', by, { until, reason });
      return this.update(tx, id, `shelved_until = to_timestamp($2 / 1000.0), shelved_by = $3`, [until, until === null ? null : by]);
    });
  }

  /** Puts alarms under another (a gateway's or a bus's) that pages for them: two statements, however many. */
  async group(ids: readonly number[], parentId: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      await tx.query(
        `insert into alarm_history (alarm_id, at, kind, actor, detail)
         select id, to_timestamp($2 / 1000.0), 'grouped', null, jsonb_build_object('parent', $3::bigint) from unnest($1::bigint[]) as id`,
        [ids, this.now(), parentId],
      );
      await tx.query(`update alarms set parent_id = $2 where id = any($1::bigint[])`, [ids, parentId]);
    });
  }

  async get(id: number): Promise<AlarmRecord | undefined> {
    const rows = await this.db.query<AlarmRow>(`select ${COLUMNS} from alarms where id = $1`, [id]);
    return rows[0] && toRecord(rows[0]);
  }

  async history(id: number): Promise<AlarmHistoryEntry[]> {
    const rows = await this.db.query<{ at: number; kind: string; actor: string | null; detail: Record<string, unknown> }>(
      `select ${epochMsAs('at')}, kind, actor, detail from alarm_history where alarm_id = $1 order by at, id`,
      [id],
    );
    return rows.map((row) => ({ ...row, at: Math.round(row.at) }));
  }

  /** Alarms that ever raised, active first, newest first. */
  async list(filter: AlarmFilter): Promise<AlarmRecord[]> {
    const where = new SqlFilter(['episode > 0'])
      .when(filter.sites, (p) => `site = any(${p}::text[])`)
      .when(filter.state, (p) => `state = ${p}`)
      .when(filter.severity, (p) => `severity = ${p}`)
      .when(filter.acknowledged, (p) => `acknowledged = ${p}`)
      .when(filter.source, (p) => `source = ${p}`);
    const rows = await this.db.query<AlarmRow>(
      `select ${COLUMNS} from alarms ${where.where} order by state = 'active' desc, raised_at desc limit ${where.param(filter.limit)}`,
      where.params,
    );
    return rows.map(toRecord);
  }

  /** The alarm of a source and rule, whatever its state. */
  async find(site: string, source: string, rule: string): Promise<AlarmRecord | undefined> {
    const rows = await this.db.query<AlarmRow>(`select ${COLUMNS} from alarms where site = $1 and source = $2 and rule = $3`, [site, source, rule]);
    return rows[0] && toRecord(rows[0]);
  }

  /** Active comm-loss alarms, not grouped yet, of the devices a gateway polls on one bus. */
  async ungroupedCommLossOnBus(site: string, gateway: string, bus: string): Promise<AlarmRecord[]> {
    const rows = await this.db.query<AlarmRow>(
      `select ${COLUMNS} from alarms
       where site = $1 and gateway = $2 and rule_type = 'comm_loss' and state = 'active' and parent_id is null
         and source in (select id from devices where site = $1 and gateway = $2 and bus = $3)
       order by raised_at`,
      [site, gateway, bus],
    );
    return rows.map(toRecord);
  }

  /** How many alarms grouped under `parentId` are active. */
  async activeChildren(parentId: number): Promise<number> {
    const [row] = await this.db.query<{ n: number }>(`select count(*)::int as n from alarms where parent_id = $1 and state = 'active'`, [parentId]);
    return row?.n ?? 0;
  }

  private pageable(alarm: AlarmRecord): boolean {
    const shelved = alarm.shelved_until !== null && alarm.shelved_until > this.now();
    return !shelved && !alarm.flapping && alarm.parent_id === null;
  }

  /** Transitions of the alarm within the window up to `at`, this one included. */
  private async transitionsInWindow(tx: SqlTransaction, alarm: AlarmRecord, at: number): Promise<number> {
    const [row] = await tx.query<{ n: number }>(
      `select count(*)::int as n from alarm_history where alarm_id = $1 and kind in ('raised', 'cleared') and at > to_timestamp($2 / 1000.0)`,
      [alarm.id, at - this.flappingPolicy.windowMs],
    );
    return row?.n ?? 0;
  }

  private async note(tx: SqlTransaction, id: number, at: number, kind: string, actor: string | null, detail: Record<string, unknown>): Promise<void> {
    await tx.query(`insert into alarm_history (alarm_id, at, kind, actor, detail) values ($1, to_timestamp($2 / 1000.0), $3, $4, $5::jsonb)`, [
      id,
      at,
      kind,
      actor,
      JSON.stringify(detail),
    ]);
  }

  private async update(tx: SqlTransaction, id: number, set: string, params: unknown[]): Promise<AlarmRecord> {
    const rows = await tx.query<AlarmRow>(`update alarms set ${set} where id = $1 returning ${COLUMNS}`, [id, ...params]);
    return toRecord(rows[0]!);
  }
}

const json = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

interface AlarmRow extends Omit<AlarmRecord, 'id' | 'parent_id'> {
  id: string | number;
  parent_id: string | number | null;
  last_transition_at: number;
}

const COLUMNS = `id, site, gateway, source, rule, rule_type, severity, state, input_state, acknowledged, acknowledged_by, ${epochMsAs('acknowledged_at')},
  message, value, ${epochMsAs('raised_at')}, ${epochMsAs('cleared_at')}, ${epochMsAs('last_transition_at')}, episode, flapping, ${epochMsAs('shelved_until')}, shelved_by, parent_id`;

const round = (value: number | null) => (value === null ? null : Math.round(value));

function toRecord(row: AlarmRow): AlarmRecord {
  return {
    id: Number(row.id),
    site: row.site,
    gateway: row.gateway,
    source: row.source,
    rule: row.rule,
    rule_type: row.rule_type,
    severity: row.severity,
    state: row.state,
    input_state: row.input_state,
    acknowledged: row.acknowledged,
    acknowledged_by: row.acknowledged_by,
    acknowledged_at: round(row.acknowledged_at),
    message: row.message,
    value: row.value,
    raised_at: Math.round(row.raised_at),
    cleared_at: round(row.cleared_at),
    episode: row.episode,
    flapping: row.flapping,
    shelved_until: round(row.shelved_until),
    shelved_by: row.shelved_by,
    parent_id: row.parent_id === null ? null : Number(row.parent_id),
  };
}
