/** What a job is, and the checks a new one passes before it is stored. */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type JobState = 'pending' | 'running' | 'done' | 'failed' | 'cancelled';

/** A job to enqueue. */
export interface NewJob {
  /** What to do, naming the handler that does it: `page.deliver`, `escalation.step`. */
  kind: string;
  /** The handler's input: plain JSON (objects, arrays, strings, finite numbers, booleans, null). */
  payload: unknown;
  /** When it is due, ms since the epoch on the queue's clock; now when absent. */
  runAt?: number | undefined;
  /** Idempotency key: while a job with this key exists, in any state, enqueueing another does nothing. */
  key?: string | undefined;
  /** Runs before it is given up as failed; the queue's default when absent. */
  maxAttempts?: number | undefined;
}

/** A job as the table keeps it; times are ms since the epoch. */
export interface JobRecord {
  id: number;
  kind: string;
  key: string | null;
  payload: JsonValue;
  state: JobState;
  run_at: number;
  attempts: number;
  max_attempts: number;
  /** The worker that claimed it last. */
  locked_by: string | null;
  /** Until when that claim holds, while it runs. */
  locked_until: number | null;
  last_error: string | null;
  created_at: number;
  finished_at: number | null;
}

export class InvalidJobError extends Error {
  override name = 'InvalidJobError';
  constructor(
    /** The field at fault: `kind`, `key`, `runAt`, `maxAttempts`, or a path into the payload. */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Dotted names with a few separators, as log lines and metrics can carry them unquoted. */
const KIND = /^[a-z][a-z0-9_]*([.:-][a-z0-9_]+)*$/;
const KIND_MAX_LENGTH = 100;
const KEY_MAX_LENGTH = 500;

export function checkKind(kind: unknown): asserts kind is string {
  if (typeof kind !== 'string' || kind.length > KIND_MAX_LENGTH || !KIND.test(kind)) {
    throw new InvalidJobError('kind', `job kind ${JSON.stringify(kind)} is not a lower-case dotted name such as "page.deliver"`);
  }
}

/** A new job that passed its checks, its defaults filled in. */
export interface CheckedJob {
  kind: string;
  payload: unknown;
  runAt: number;
  key: string | null;
  maxAttempts: number;
}

/** A new job made ready to store, or an `InvalidJobError` naming what is wrong with it. */
export function checkNewJob(job: NewJob, defaults: { now: number; maxAttempts: number }): CheckedJob {
  const { kind, key, runAt = defaults.now, maxAttempts = defaults.maxAttempts } = job;
  checkKind(kind);
  if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > KEY_MAX_LENGTH || key.includes('\0'))) {
    throw new InvalidJobError('key', `job key ${JSON.stringify(key)} of a ${kind} job must be 1 to ${KEY_MAX_LENGTH} characters without NUL`);
  }
  if (typeof runAt !== 'number' || !Number.isFinite(runAt)) {
    throw new InvalidJobError('runAt', `runAt of a ${kind} job must be ms since the epoch, not ${String(runAt)}`);
  }
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new InvalidJobError('maxAttempts', `maxAttempts of a ${kind} job must be a whole number of at least 1, not ${String(maxAttempts)}`);
  }
  checkJson(job.payload, 'payload', kind, new Set());
  return { kind, payload: job.payload, runAt, key: key ?? null, maxAttempts };
}

/**
 * Refuses what JSON.stringify would silently change or drop: the handler must get back exactly
 * what was enqueued. An object property that is undefined is the one exception, as it means
 * "absent" either way.
 */
function checkJson(value: unknown, path: string, kind: string, ancestors: Set<object>): void {
  const refuse = (what: string) => {
    throw new InvalidJobError(path, `${path} of a ${kind} job is ${what}, which is not JSON`);
  };
  switch (typeof value) {
    case 'boolean':
      return;
    case 'string':
      // PostgreSQL's jsonb cannot hold U+0000.
      if (value.includes('\0')) refuse('a string with a NUL character');
      return;
    case 'number':
      if (!Number.isFinite(value)) refuse(String(value));
      return;
    case 'object':
      break;
    default:
      return refuse(typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`);
  }
  if (value === null) return;
  if (ancestors.has(value)) refuse('a reference to itself');
  ancestors.add(value);
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkJson(item, `${path}[${index}]`, kind, ancestors));
  } else {
    const prototype: unknown = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) refuse(`a ${value.constructor.name}`);
    for (const [name, item] of Object.entries(value)) {
      if (item !== undefined) checkJson(item, `${path}.${name}`, kind, ancestors);
    }
  }
  ancestors.delete(value);
}
