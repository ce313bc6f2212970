import { epochMsAs, SqlFilter } from './sql-fragments.js';
import type { SqlClient } from './sql.js';

/** One security event or change, as the audit log keeps it. */
export interface AuditEntry {
  /** Who: a user name, `token:{name}`, `gateway:{site}.{gateway}`, or null when unknown (a failed login's name goes in target). */
  actor: string | null;
  actorKind: 'user' | 'token' | 'gateway' | 'anonymous' | 'system';
  /** From where: the client's address. */
  ip: string | null;
  /** What, as `noun.verb`: `login.failed`, `user.create`, `gateway.revoke`… */
  action: string;
  /** What it was done to: a user name, `{site}.{gateway}`, a token name. */
  target: string | null;
  site: string | null;
  outcome: 'ok' | 'refused' | 'failed';
  before?: unknown;
  after?: unknown;
}

export interface AuditRecord extends Omit<AuditEntry, 'actorKind' | 'before' | 'after'> {
  id: number;
  at: number;
  actor_kind: AuditEntry['actorKind'];
  before: unknown;
  after: unknown;
}

export interface AuditFilter {
  actor?: string | undefined;
  action?: string | undefined;
  site?: string | undefined;
  target?: string | undefined;
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
}

/**
 * The audit log: appended to, read, never changed. The table refuses UPDATE, DELETE and
 * TRUNCATE itself (a trigger), so that not even a bug in the hub can rewrite history.
 */
export class AuditLog {
  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.db.query(
      `insert into audit_log (at, actor, actor_kind, ip, action, target, site, outcome, before, after)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        new Date(this.now()).toISOString(),
        entry.actor,
        entry.actorKind,
        entry.ip,
        entry.action,
        entry.target,
        entry.site,
        entry.outcome,
        entry.before === undefined ? null : JSON.stringify(entry.before),
        entry.after === undefined ? null : JSON.stringify(entry.after),
      ],
    );
  }

  /** Newest first. */
  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    const where = new SqlFilter()
      .when(filter.actor, (p) => `actor = ${p}`)
      // An action ending in a dot is a prefix: `login.` matches every login action.
      .when(filter.action?.endsWith('.') ? `${filter.action}%` : filter.action, (p) => `action like ${p}`)
      .when(filter.site, (p) => `site = ${p}`)
      .when(filter.target, (p) => `target = ${p}`)
      .when(isoOrUndefined(filter.from), (p) => `at >= ${p}`)
      .when(isoOrUndefined(filter.to), (p) => `at < ${p}`);
    return this.db.query<AuditRecord>(
      `select id::float8 as id, ${epochMsAs('at')}, actor, actor_kind, ip, action, target, site, outcome, before, after
       from audit_log ${where.where} order by id desc limit ${where.param(filter.limit)}`,
      where.params,
    );
  }
}

const isoOrUndefined = (at: number | undefined) => (at === undefined ? undefined : new Date(at).toISOString());
