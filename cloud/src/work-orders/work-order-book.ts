import type { Severity } from '@gatehouse/protocols';
import { epochMsAs, SqlFilter } from '../store/sql-fragments.js';
import type { SqlClient, SqlTransaction } from '../store/sql.js';
import { dueAt, FINISHED, isLegal, type Priority, type WorkOrderStatus } from './lifecycle.js';

export interface WorkOrderRecord {
  id: number;
  alarm_id: number | null;
  site: string;
  device: string | null;
  serves: string | null;
  trade: string;
  team: string | null;
  title: string;
  description: string;
  priority: Priority;
  status: WorkOrderStatus;
  assignee: string | null;
  assignee_name: string | null;
  escalation_policy: string | null;
  episode: number;
  reopened_from: number | null;
  sla_started_at: number;
  due_at: number;
  created_at: number;
  updated_at: number;
  resolved_at: number | null;
  closed_at: number | null;
}

export interface TimelineEntry {
  at: number;
  kind: string;
  actor: string | null;
  detail: Record<string, unknown>;
}

export interface NewWorkOrder {
  alarmId: number;
  alarmKey: string;
  episode: number;
  site: string;
  device: string | null;
  serves: string | null;
  trade: string;
  team: string | null;
  title: string;
  description: string;
  priority: Priority;
  slaMs: number;
  /** When the alarm was raised: the SLA starts there. */
  raisedAt: number;
  assignee: { id: string; name: string } | null;
  escalationPolicy: string | null;
}

/** What opening an order for an alarm did: a new order, a reopened one, or one already open. */
export type OpenOutcome = { kind: 'created' | 'reopened' | 'already_open'; order: WorkOrderRecord };

export type TransitionOutcome =
  | { ok: true; order: WorkOrderRecord; changed: boolean }
  | { ok: false; reason: 'not_found' }
  | { ok: false; reason: 'illegal'; from: WorkOrderStatus };

export interface WorkOrderFilter {
  sites?: readonly string[] | undefined;
  status?: WorkOrderStatus | undefined;
  assignee?: string | undefined;
  trade?: string | undefined;
  limit: number;
}

export interface WorkOrderPolicy {
  min_severity: Severity;
  resolve_on_clear: boolean;
}

/**
 * Work orders and their timelines. At most one order per alarm key is open at a time, made so
 * by a partial unique index, so that two hub replicas handling the same alarm open one order.
 */
export class WorkOrderBook {
  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The order for an alarm's new episode: a new one; the one still open (noting the repeat);
   * or, when the last one was resolved but not closed, that one reopened.
   */
  async openForAlarm(order: NewWorkOrder): Promise<OpenOutcome> {
    return this.db.transaction(async (tx) => {
      const now = this.now();
      const latest = await tx.query<WorkOrderRow>(`select ${COLUMNS} from work_orders where alarm_key = $1 order by id desc limit 1 for update`, [order.alarmKey]);
      const previous = latest[0] && toRecord(latest[0], now);
      if (previous && !FINISHED.includes(previous.status)) {
        if (previous.episode < order.episode) {
          await tx.query(`update work_orders set episode = $2, updated_at = to_timestamp($3 / 1000.0) where id = $1`, [previous.id, order.episode, now]);
          await note(tx, previous.id, now, 'alarm_raised_again', null, { episode: order.episode });
        }
        return { kind: 'already_open', order: (await this.getIn(tx, previous.id))! };
      }
      if (previous?.status === 'resolved' && previous.episode < order.episode) {
        // The new episode is a new fault: its SLA runs from its own raise, at its own priority.
        // Whoever had the order keeps it; one that nobody had goes to whoever is on call now.
        await tx.query(
          `update work_orders set episode = $2, resolved_at = null, updated_at = to_timestamp($3 / 1000.0),
             priority = $4, sla_ms = $5, sla_started_at = to_timestamp($6 / 1000.0), sla_paused_ms = 0,
             assignee = coalesce(assignee, $7), assignee_name = case when assignee is null then $8 else assignee_name end,
             status = case when coalesce(assignee, $7) is null then 'open' else 'assigned' end
           where id = $1`,
          [previous.id, order.episode, now, order.priority, order.slaMs, order.raisedAt, order.assignee?.id ?? null, order.assignee?.name ?? null],
        );
        await note(tx, previous.id, now, 'reopened', null, { episode: order.episode, reason: 'the alarm was raised again' });
        return { kind: 'reopened', order: (await this.getIn(tx, previous.id))! };
      }
      if (previous && previous.episode >= order.episode) return { kind: 'already_open', order: previous };
      const inserted = await tx.query<{ id: string }>(
        `insert into work_orders (alarm_id, alarm_key, site, device, serves, trade, team, title, description, priority, status,
           assignee, assignee_name, sla_started_at, sla_ms, escalation_policy, episode, reopened_from, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, to_timestamp($14 / 1000.0), $15, $16, $17, $18,
           to_timestamp($19 / 1000.0), to_timestamp($19 / 1000.0))
         on conflict (alarm_key) where status not in ('resolved', 'closed', 'cancelled') do nothing
         returning id`,
        [
          order.alarmId,
          order.alarmKey,
          order.site,
          order.device,
          order.serves,
          order.trade,
          order.team,
          order.title,
          order.description,
          order.priority,
          order.assignee ? 'assigned' : 'open',
          order.assignee?.id ?? null,
          order.assignee?.name ?? null,
          order.raisedAt,
          order.slaMs,
          order.escalationPolicy,
          order.episode,
          previous?.id ?? null,
          now,
        ],
      );
      const id = Number(inserted[0]!.id);
      await note(tx, id, now, 'created', null, { alarm: order.alarmId, episode: order.episode, reopened_from: previous?.id ?? null });
      if (order.assignee) await note(tx, id, now, 'assigned', null, { assignee: order.assignee.id, name: order.assignee.name, by: 'on-call schedule' });
      return { kind: 'created', order: (await this.getIn(tx, id))! };
    });
  }

  /** Moves an order to `to` if that is a legal move; the SLA clock stops while it is on hold. */
  async transition(id: number, to: WorkOrderStatus, actor: string | null, detail: Record<string, unknown> = {}): Promise<TransitionOutcome> {
    return this.db.transaction(async (tx) => {
      const now = this.now();
      const rows = await tx.query<WorkOrderRow>(`select ${COLUMNS} from work_orders where id = $1 for update`, [id]);
      if (!rows[0]) return { ok: false, reason: 'not_found' } as const;
      const order = toRecord(rows[0], now);
      if (order.status === to) return { ok: true, order, changed: false } as const;
      if (!isLegal(order.status, to)) return { ok: false, reason: 'illegal', from: order.status } as const;
      const sets = [`status = $2`, `updated_at = to_timestamp($3 / 1000.0)`];
      if (to === 'on_hold') sets.push(`on_hold_since = to_timestamp($3 / 1000.0)`);
      if (order.status === 'on_hold') sets.push(`sla_paused_ms = sla_paused_ms + greatest(0, ($3 - extract(epoch from on_hold_since) * 1000)::bigint)`, `on_hold_since = null`);
      if (to === 'resolved') sets.push(`resolved_at = to_timestamp($3 / 1000.0)`);
      // Only a reopening undoes the resolution; a closed order keeps when it was resolved.
      if (order.status === 'resolved' && to !== 'closed') sets.push(`resolved_at = null`);
      if (to === 'closed') sets.push(`closed_at = to_timestamp($3 / 1000.0)`);
      await tx.query(`update work_orders set ${sets.join(', ')} where id = $1`, [id, to, now]);
      await note(tx, id, now, 'status', actor, { from: order.status, to, ...detail });
      return { ok: true, order: (await this.getIn(tx, id))!, changed: true } as const;
    });
  }

  async assign(id: number, assignee: { id: string; name: string }, actor: string | null): Promise<TransitionOutcome> {
    return this.db.transaction(async (tx) => {
      const now = this.now();
      const rows = await tx.query<WorkOrderRow>(`select ${COLUMNS} from work_orders where id = $1 for update`, [id]);
      if (!rows[0]) return { ok: false, reason: 'not_found' } as const;
      const order = toRecord(rows[0], now);
      if (FINISHED.includes(order.status)) return { ok: false, reason: 'illegal', from: order.status } as const;
      const status = order.status === 'open' ? 'assigned' : order.status;
      await tx.query(`update work_orders set assignee = $2, assignee_name = $3, status = $4, updated_at = to_timestamp($5 / 1000.0) where id = $1`, [
        id,
        assignee.id,
        assignee.name,
        status,
        now,
      ]);
      await note(tx, id, now, 'assigned', actor, { assignee: assignee.id, name: assignee.name });
      return { ok: true, order: (await this.getIn(tx, id))!, changed: true } as const;
    });
  }

  async note(id: number, kind: string, actor: string | null, detail: Record<string, unknown>): Promise<void> {
    await note(this.db, id, this.now(), kind, actor, detail);
  }

  async get(id: number): Promise<WorkOrderRecord | undefined> {
    return this.getIn(this.db, id);
  }

  /** The order still open for an alarm, if any. */
  async openOfAlarm(alarmKey: string): Promise<WorkOrderRecord | undefined> {
    const rows = await this.db.query<WorkOrderRow>(
      `select ${COLUMNS} from work_orders where alarm_key = $1 and status not in ('resolved', 'closed', 'cancelled')`,
      [alarmKey],
    );
    return rows[0] && toRecord(rows[0], this.now());
  }

  async timeline(id: number): Promise<TimelineEntry[]> {
    const rows = await this.db.query<TimelineEntry>(
      `select ${epochMsAs('at')}, kind, actor, detail from work_order_timeline where work_order_id = $1 order by at, id`,
      [id],
    );
    return rows.map((row) => ({ ...row, at: Math.round(row.at) }));
  }

  async list(filter: WorkOrderFilter): Promise<WorkOrderRecord[]> {
    const where = new SqlFilter()
      .when(filter.sites, (p) => `site = any(${p}::text[])`)
      .when(filter.status, (p) => `status = ${p}`)
      .when(filter.assignee, (p) => `assignee = ${p}`)
      .when(filter.trade, (p) => `trade = ${p}`);
    const rows = await this.db.query<WorkOrderRow>(
      `select ${COLUMNS} from work_orders ${where.where} order by id desc limit ${where.param(filter.limit)}`,
      where.params,
    );
    const now = this.now();
    return rows.map((row) => toRecord(row, now));
  }

  /** The policy row that decides for an alarm of this site and rule: the most specific one. */
  async policyFor(site: string, rule: string): Promise<WorkOrderPolicy> {
    const rows = await this.db.query<WorkOrderPolicy>(
      `select min_severity, resolve_on_clear from work_order_policies
       where site in ($1, '*') and rule in ($2, '*')
       order by (site <> '*')::int + (rule <> '*')::int desc, (rule <> '*') desc limit 1`,
      [site, rule],
    );
    return rows[0] ?? { min_severity: 'major', resolve_on_clear: false };
  }

  /** Every policy row, the catch-all first. */
  async policies(): Promise<Array<WorkOrderPolicy & { site: string; rule: string }>> {
    return this.db.query(`select site, rule, min_severity, resolve_on_clear from work_order_policies order by site <> '*', site, rule <> '*', rule`);
  }

  /** Removes a row, so that a less specific one decides; the catch-all row stays. */
  async deletePolicy(site: string, rule: string): Promise<boolean> {
    if (site === '*' && rule === '*') return false;
    const rows = await this.db.query(`delete from work_order_policies where site = $1 and rule = $2 returning site`, [site, rule]);
    return rows.length > 0;
  }

  async setPolicy(site: string, rule: string, policy: WorkOrderPolicy): Promise<void> {
    await this.db.query(
      `insert into work_order_policies (site, rule, min_severity, resolve_on_clear) values ($1, $2, $3, $4)
       on conflict (site, rule) do update set min_severity = excluded.min_severity, resolve_on_clear = excluded.resolve_on_clear`,
      [site, rule, policy.min_severity, policy.resolve_on_clear],
    );
  }

  private async getIn(db: Pick<SqlClient, 'query'>, id: number): Promise<WorkOrderRecord | undefined> {
    const rows = await db.query<WorkOrderRow>(`select ${COLUMNS} from work_orders where id = $1`, [id]);
    return rows[0] && toRecord(rows[0], this.now());
  }
}

async function note(db: Pick<SqlTransaction, 'query'>, id: number, at: number, kind: string, actor: string | null, detail: Record<string, unknown>): Promise<void> {
  await db.query(`insert into work_order_timeline (work_order_id, at, kind, actor, detail) values ($1, to_timestamp($2 / 1000.0), $3, $4, $5::jsonb)`, [
    id,
    at,
    kind,
    actor,
    JSON.stringify(detail),
  ]);
}

/** A row as the database answers it: ids and big integers may come as strings, no due time yet. */
interface WorkOrderRow extends Omit<WorkOrderRecord, 'id' | 'alarm_id' | 'reopened_from' | 'due_at'> {
  id: string | number;
  alarm_id: string | number | null;
  reopened_from: string | number | null;
  sla_ms: string | number;
  sla_paused_ms: string | number;
  on_hold_since: number | null;
}

const COLUMNS = `id, alarm_id, site, device, serves, trade, team, title, description, priority, status, assignee, assignee_name,
  escalation_policy, episode, reopened_from, ${epochMsAs('sla_started_at')}, sla_ms, sla_paused_ms, ${epochMsAs('on_hold_since')},
  ${epochMsAs('created_at')}, ${epochMsAs('updated_at')}, ${epochMsAs('resolved_at')}, ${epochMsAs('closed_at')}`;

const round = (value: number | null) => (value === null ? null : Math.round(value));
const idOrNull = (value: string | number | null) => (value === null ? null : Number(value));

function toRecord(row: WorkOrderRow, now: number): WorkOrderRecord {
  const slaStartedAt = Math.round(row.sla_started_at);
  return {
    id: Number(row.id),
    alarm_id: idOrNull(row.alarm_id),
    site: row.site,
    device: row.device,
    serves: row.serves,
    trade: row.trade,
    team: row.team,
    title: row.title,
    description: row.description,
    priority: row.priority,
    status: row.status,
    assignee: row.assignee,
    assignee_name: row.assignee_name,
    escalation_policy: row.escalation_policy,
    episode: row.episode,
    reopened_from: idOrNull(row.reopened_from),
    sla_started_at: slaStartedAt,
    due_at: dueAt({ startedAt: slaStartedAt, slaMs: Number(row.sla_ms), pausedMs: Number(row.sla_paused_ms), onHoldSince: round(row.on_hold_since) }, now),
    created_at: Math.round(row.created_at),
    updated_at: Math.round(row.updated_at),
    resolved_at: round(row.resolved_at),
    closed_at: round(row.closed_at),
  };
}
