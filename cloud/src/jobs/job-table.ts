import { epochMsAs, SqlFilter } from '../store/sql-fragments.js';
import type { SqlTransaction } from '../store/sql.js';
import type { CheckedJob, JobRecord, JobState } from './job.js';

/**
 * The statements over the `jobs` table (schema.ts). Every time is a parameter from the queue's
 * clock, never the database's now(), so that a drill clock moves due times and leases too.
 */

const JOB_COLUMNS = `id::float8 as id, kind, key, payload, state, ${epochMsAs('run_at')}, attempts, max_attempts,
  locked_by, ${epochMsAs('locked_until')}, last_error, ${epochMsAs('created_at')}, ${epochMsAs('finished_at')}`;

const iso = (at: number) => new Date(at).toISOString();

/** A LIKE pattern matching the keys that start with `prefix`, its own % and _ taken literally. */
const keysStartingWith = (prefix: string) => `${prefix.replace(/[\\%_]/g, '\\$&')}%`;

export interface Enqueued {
  id: number;
  /** False when a job with the same key already existed: `job` is that one, unchanged. */
  created: boolean;
  job: JobRecord;
}

/**
 * Inserts a job unless its key is taken. The unique index decides, so that two replicas
 * enqueueing the same key at once create one job: the second insert waits for the first to
 * commit, does nothing, and then reads the winner's row.
 */
export async function insertJob(db: SqlTransaction, job: CheckedJob, createdAt: number): Promise<Enqueued> {
  const [inserted] = await db.query<JobRecord>(
    `insert into jobs (kind, payload, key, run_at, max_attempts, created_at) values ($1, $2, $3, $4, $5, $6)
     on conflict (key) do nothing returning ${JOB_COLUMNS}`,
    [job.kind, JSON.stringify(job.payload), job.key, iso(job.runAt), job.maxAttempts, iso(createdAt)],
  );
  if (inserted) return { id: inserted.id, created: true, job: inserted };
  const [existing] = await db.query<JobRecord>(`select ${JOB_COLUMNS} from jobs where key = $1`, [job.key]);
  if (!existing) throw new Error(`job key ${job.key} conflicted with a job that cannot be read back`);
  return { id: existing.id, created: false, job: existing };
}

/**
 * Claims up to `limit` due jobs of a kind for `workerId` until `lockedUntil`: pending jobs whose
 * time has come, and running jobs whose lease ran out (their worker died or hung). SKIP LOCKED
 * lets replicas claim side by side, each row going to one of them.
 *
 * A job whose lease ran out on its last attempt is not run again but given up as failed here:
 * otherwise a job that kills its hub would be retried for ever.
 */
export async function claimJobs(
  db: SqlTransaction,
  claim: { kind: string; limit: number; workerId: string; now: number; lockedUntil: number },
): Promise<JobRecord[]> {
  return db.query<JobRecord>(
    `with given_up as (
       update jobs set state = 'failed', finished_at = $2, locked_until = null,
              last_error = 'its lease ran out on its last attempt: ' || locked_by || ' stopped or took too long'
       where kind = $1 and state = 'running' and locked_until <= $2 and attempts >= max_attempts
     )
     update jobs set state = 'running', attempts = attempts + 1, locked_by = $3, locked_until = $4
     where id in (
       select id from jobs
       where kind = $1 and state in ('pending', 'running') and run_at <= $2
         and (state = 'pending' or (locked_until <= $2 and attempts < max_attempts))
       order by run_at, id
       limit $5
       for update skip locked
     )
     returning ${JOB_COLUMNS}`,
    [claim.kind, iso(claim.now), claim.workerId, iso(claim.lockedUntil), claim.limit],
  );
}

/**
 * Records that attempt `attempt` of a job succeeded; false when that attempt's claim is gone
 * (another worker took the job over after the lease ran out, and its run is the one on record).
 * A job cancelled while it ran, or given up because its lease ran out, did run: it is done.
 */
export async function recordDone(db: SqlTransaction, job: { id: number; attempt: number }, now: number): Promise<boolean> {
  const rows = await db.query(
    `update jobs set state = 'done', finished_at = $3, locked_until = null
     where id = $1 and attempts = $2 and state in ('running', 'cancelled', 'failed') returning id`,
    [job.id, job.attempt, iso(now)],
  );
  return rows.length > 0;
}

/**
 * Records that attempt `attempt` of a job failed: it is due again at `retryAt`, or failed for
 * good once it has had its attempts. Undefined when that attempt's claim is gone: taken over,
 * or cancelled (which a failure must not undo by scheduling a retry).
 */
export async function recordFailure(
  db: SqlTransaction,
  job: { id: number; attempt: number },
  failure: { error: string; now: number; retryAt: number },
): Promise<JobState | undefined> {
  const [row] = await db.query<{ state: JobState }>(
    `update jobs set
       state = case when attempts >= max_attempts then 'failed' else 'pending' end,
       run_at = case when attempts >= max_attempts then run_at else $4::timestamptz end,
       finished_at = case when attempts >= max_attempts then $3::timestamptz end,
       locked_until = null,
       last_error = $5
     where id = $1 and attempts = $2 and state = 'running' returning state`,
    [job.id, job.attempt, iso(failure.now), iso(failure.retryAt), failure.error],
  );
  return row?.state;
}

export type CancelTarget = { key: string } | { keyPrefix: string };

/**
 * Cancels the jobs not yet finished with this key or key prefix; returns how many. A running
 * job cannot be stopped, but it will not be retried.
 */
export async function cancelJobs(db: SqlTransaction, target: CancelTarget, now: number): Promise<number> {
  const [match, value] = 'key' in target ? ['key = $2', target.key] : ['key like $2', keysStartingWith(target.keyPrefix)];
  const rows = await db.query(
    `update jobs set state = 'cancelled', finished_at = $1, locked_until = null
     where ${match} and state in ('pending', 'running') returning id`,
    [iso(now), value],
  );
  return rows.length;
}

export interface JobFilter {
  kind?: string | undefined;
  state?: JobState | undefined;
  keyPrefix?: string | undefined;
  /** At most this many, 100 when absent. */
  limit?: number | undefined;
}

/** Jobs matching every given condition, soonest due first. */
export async function listJobs(db: SqlTransaction, filter: JobFilter): Promise<JobRecord[]> {
  const where = new SqlFilter()
    .when(filter.kind, (p) => `kind = ${p}`)
    .when(filter.state, (p) => `state = ${p}`)
    .when(filter.keyPrefix === undefined ? undefined : keysStartingWith(filter.keyPrefix), (p) => `key like ${p}`);
  return db.query<JobRecord>(
    `select ${JOB_COLUMNS} from jobs ${where.where} order by run_at, id limit ${where.param(filter.limit ?? 100)}`,
    where.params,
  );
}

export async function getJob(db: SqlTransaction, id: number): Promise<JobRecord | undefined> {
  const [row] = await db.query<JobRecord>(`select ${JOB_COLUMNS} from jobs where id = $1`, [id]);
  return row;
}
