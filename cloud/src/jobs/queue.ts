import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { SqlClient } from '../store/sql.js';
import { checkKind, checkNewJob, InvalidJobError, type CheckedJob, type JobRecord, type NewJob } from './job.js';
import {
  cancelJobs,
  claimJobs,
  getJob,
  insertJob,
  listJobs,
  recordDone,
  recordFailure,
  type CancelTarget,
  type Enqueued,
  type JobFilter,
} from './job-table.js';

// The queue's public surface is this module: what callers need of the other two is here too.
export { InvalidJobError, type JobRecord, type JobState, type JsonValue, type NewJob } from './job.js';
export type { CancelTarget, Enqueued, JobFilter } from './job-table.js';

export interface JobQueueOptions {
  log: Logger;
  /** The hub's clock, ms since the epoch: due times, leases and retries are measured on it. */
  now?: () => number;
  /** Names this process in `locked_by`; must differ between processes. Host, pid and a random part when absent. */
  workerId?: string;
  /** How often the worker loop looks for due jobs when nothing in this process nudged it; 250 ms. */
  pollMs?: number;
  /** maxAttempts of a job enqueued without one; 5. */
  maxAttempts?: number;
  /** Retry n waits firstRetryMs × 2^(n-1), at most maxRetryMs; 1 s and 5 min. */
  firstRetryMs?: number;
  maxRetryMs?: number;
}

export interface HandlerOptions {
  /** Jobs of this kind this process runs at once; 4. */
  concurrency?: number;
  /**
   * How long a claim holds, on the queue's clock. A job still running when it runs out is run
   * again by whichever worker polls next, so it must exceed the handler's longest run; it is
   * also how long a job waits after its hub was killed in the middle of it. 60 s.
   */
  leaseMs?: number;
}

/** What a handler may leave behind: jobs enqueued in the same transaction that records it done. */
export interface JobOutcome {
  followUps?: NewJob[];
}

/**
 * Runs one job; throwing fails the attempt. A job runs at least once, not exactly once: a hub
 * can die between the handler's effect and the row saying so, and the job then runs again when
 * its lease runs out. Handlers must therefore be idempotent, e.g. record a page delivery keyed
 * by `job.id` and skip one already recorded.
 */
export type JobHandler = (job: JobRecord) => Promise<JobOutcome | void>;

interface Registration {
  handler: JobHandler;
  concurrency: number;
  leaseMs: number;
  /** Slots taken: jobs running, and jobs being claimed. */
  busy: number;
}

const JOB_QUEUE_DEFAULTS = { pollMs: 250, maxAttempts: 5, firstRetryMs: 1_000, maxRetryMs: 5 * 60_000 };
const HANDLER_DEFAULTS = { concurrency: 4, leaseMs: 60_000 };

/**
 * A durable job queue in the relational store (table `jobs`), for escalation timers and page
 * deliveries: jobs survive hub restarts, and hub replicas sharing one PostgreSQL server claim
 * them with `FOR UPDATE SKIP LOCKED`, so each attempt goes to one worker. It runs the same on
 * PGlite in one process.
 *
 * Guarantees: an enqueued job is run until it succeeds, fails `maxAttempts` times, or is
 * cancelled; at least once, not exactly once (see `JobHandler`). A job's key makes it unique
 * for as long as its row exists. A handler's follow-up jobs exist if and only if the job is
 * recorded done.
 */
export class JobQueue {
  readonly workerId: string;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly settings: typeof JOB_QUEUE_DEFAULTS;
  private readonly handlers = new Map<string, Registration>();
  private readonly inFlight = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  /** Set when a due job may be waiting, so the loop looks again without pausing. */
  private nudged = false;
  private wake: (() => void) | undefined;

  constructor(
    private readonly db: SqlClient,
    options: JobQueueOptions,
  ) {
    this.log = options.log;
    this.now = options.now ?? Date.now;
    this.workerId = options.workerId ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.settings = {
      pollMs: options.pollMs ?? JOB_QUEUE_DEFAULTS.pollMs,
      maxAttempts: options.maxAttempts ?? JOB_QUEUE_DEFAULTS.maxAttempts,
      firstRetryMs: options.firstRetryMs ?? JOB_QUEUE_DEFAULTS.firstRetryMs,
      maxRetryMs: options.maxRetryMs ?? JOB_QUEUE_DEFAULTS.maxRetryMs,
    };
  }

  /** Stores a job, or finds the one already holding its key; throws `InvalidJobError` for a bad job. */
  async enqueue(job: NewJob): Promise<Enqueued> {
    const checked = this.check(job);
    const enqueued = await insertJob(this.db, checked, this.now());
    if (enqueued.created) this.nudgeFor(enqueued.job);
    return enqueued;
  }

  /**
   * Cancels the unfinished jobs with this key, or whose key starts with this prefix
   * (`escalate:wo:123:` when work order 123 is acknowledged); returns how many.
   */
  async cancel(target: CancelTarget): Promise<number> {
    if ('keyPrefix' in target && target.keyPrefix.length === 0) {
      throw new InvalidJobError('keyPrefix', 'an empty key prefix would cancel every keyed job; name the prefix');
    }
    return cancelJobs(this.db, target, this.now());
  }

  list(filter: JobFilter = {}): Promise<JobRecord[]> {
    return listJobs(this.db, filter);
  }

  get(id: number): Promise<JobRecord | undefined> {
    return getJob(this.db, id);
  }

  /** Makes this process run jobs of `kind` with `handler`, once `start()` or `runDue()` claims them. */
  handle(kind: string, handler: JobHandler, options: HandlerOptions = {}): void {
    checkKind(kind);
    if (this.handlers.has(kind)) throw new Error(`jobs of kind ${kind} already have a handler in this queue`);
    const concurrency = options.concurrency ?? HANDLER_DEFAULTS.concurrency;
    const leaseMs = options.leaseMs ?? HANDLER_DEFAULTS.leaseMs;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new Error(`concurrency of ${kind} jobs must be a whole number of at least 1`);
    if (!(leaseMs > 0)) throw new Error(`leaseMs of ${kind} jobs must be positive`);
    this.handlers.set(kind, { handler, concurrency, leaseMs, busy: 0 });
  }

  /** Starts the worker loop: poll, claim what is due and fits the free slots, run it, repeat. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.pollLoop();
  }

  /**
   * Claims and runs the due jobs of the handled kinds, batch after batch, until none is left
   * due on the clock; returns how many ran. For tests and drills that move a fake clock and
   * then want the work done, without the loop.
   */
  async runDue(): Promise<number> {
    let ran = 0;
    for (;;) {
      const started = await this.claimDue();
      if (started.length === 0) return ran;
      await Promise.all(started);
      ran += started.length;
    }
  }

  /** Stops the loop and waits for the handlers running to finish and their outcomes to be recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake?.();
    await this.loop;
    this.loop = undefined;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  private check(job: NewJob): CheckedJob {
    return checkNewJob(job, { now: this.now(), maxAttempts: this.settings.maxAttempts });
  }

  /** Another replica learns of a new job at its next poll; this one need not wait for it. */
  private nudgeFor(job: JobRecord): void {
    if (this.loop && this.handlers.has(job.kind) && job.run_at <= this.now()) this.nudge();
  }

  private nudge(): void {
    this.nudged = true;
    this.wake?.();
  }

  /**
   * Store outages are logged once when they start and once when they end: the loop goes on
   * polling through them, and jobs wait in the table meanwhile.
   */
  private async pollLoop(): Promise<void> {
    let outageSince: number | undefined;
    while (!this.stopping) {
      this.nudged = false;
      try {
        // Not waiting for the runs it starts (stop() does): each one that ends nudges the loop.
        void (await this.claimDue());
        if (outageSince !== undefined) {
          this.log.info({ worker: this.workerId, outage_ms: Date.now() - outageSince }, 'job queue claims jobs again');
          outageSince = undefined;
        }
      } catch (error) {
        if (outageSince === undefined) {
          outageSince = Date.now();
          this.log.error({ err: error, worker: this.workerId }, 'job queue cannot claim jobs; trying again every poll');
        }
      }
      await this.pause();
    }
  }

  private async pause(): Promise<void> {
    if (this.nudged || this.stopping) return;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(wake, this.settings.pollMs);
      this.wake = wake;
    });
  }

  /** Claims due jobs for every kind with free slots and starts them; returns their runs. */
  private async claimDue(): Promise<Promise<void>[]> {
    const started: Promise<void>[] = [];
    for (const [kind, registration] of this.handlers) {
      const free = registration.concurrency - registration.busy;
      if (free <= 0) continue;
      // Taken before the claim, so that the loop and runDue claiming together stay within them.
      registration.busy += free;
      let jobs: JobRecord[] = [];
      try {
        const now = this.now();
        jobs = await claimJobs(this.db, { kind, limit: free, workerId: this.workerId, now, lockedUntil: now + registration.leaseMs });
      } finally {
        registration.busy -= free - jobs.length;
      }
      for (const job of jobs) started.push(this.track(this.run(job, registration)));
    }
    return started;
  }

  private track(run: Promise<void>): Promise<void> {
    const tracked = run.finally(() => {
      this.inFlight.delete(tracked);
      // A slot is free, and more may be due.
      this.nudge();
    });
    this.inFlight.add(tracked);
    return tracked;
  }

  /** Runs a claimed job and records how it went; never throws. */
  private async run(job: JobRecord, registration: Registration): Promise<void> {
    try {
      let followUps: CheckedJob[];
      try {
        const outcome = await registration.handler(job);
        followUps = (outcome ? (outcome.followUps ?? []) : []).map((followUp) => this.check(followUp));
      } catch (error) {
        await this.recordFailure(job, error);
        return;
      }
      await this.recordSuccess(job, followUps);
    } catch (error) {
      this.log.error(
        { err: error, job: job.id, kind: job.kind, attempt: job.attempts },
        'could not record how a job went; it runs again when its lease runs out',
      );
    } finally {
      registration.busy--;
    }
  }

  private async recordSuccess(job: JobRecord, followUps: CheckedJob[]): Promise<void> {
    const now = this.now();
    const created = await this.db.transaction(async (tx) => {
      if (!(await recordDone(tx, { id: job.id, attempt: job.attempts }, now))) return undefined;
      const enqueued: Enqueued[] = [];
      for (const followUp of followUps) enqueued.push(await insertJob(tx, followUp, now));
      return enqueued;
    });
    if (!created) {
      this.log.warn(
        { job: job.id, kind: job.kind, attempt: job.attempts },
        'job finished after another worker took it over when its lease ran out; that run is the one on record',
      );
      return;
    }
    for (const enqueued of created) if (enqueued.created) this.nudgeFor(enqueued.job);
  }

  private async recordFailure(job: JobRecord, error: unknown): Promise<void> {
    const now = this.now();
    const retryAt = now + Math.min(this.settings.maxRetryMs, this.settings.firstRetryMs * 2 ** (job.attempts - 1));
    const state = await recordFailure(this.db, { id: job.id, attempt: job.attempts }, { error: errorText(error), now, retryAt });
    const about = { err: error, job: job.id, kind: job.kind, key: job.key, attempt: job.attempts, max_attempts: job.max_attempts };
    if (state === 'failed') this.log.error(about, 'job failed on its last attempt; giving up');
    else if (state === 'pending') this.log.warn({ ...about, retry_at: new Date(retryAt).toISOString() }, 'job failed; will retry');
    else this.log.warn(about, 'job failed after it was cancelled or taken over; not retried by this worker');
  }
}

/** Kept in last_error; long enough for a stack's first lines, short enough for a list. */
const LAST_ERROR_MAX_LENGTH = 2_000;

function errorText(error: unknown): string {
  const text = error instanceof Error ? (error.name === 'Error' ? error.message : `${error.name}: ${error.message}`) : String(error);
  // PostgreSQL's text cannot hold U+0000.
  return text.replaceAll('\0', '').slice(0, LAST_ERROR_MAX_LENGTH);
}
