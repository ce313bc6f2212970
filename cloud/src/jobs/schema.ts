import type { Migration } from '../store/migrations.js';

/** The durable job queue's table (see queue.ts). */
export const JOBS_MIGRATION: Migration = {
  version: 4,
  name: 'durable jobs',
  sql: `
      -- One row per job, kept after it ends as its history. Times are the hub's clock (which a
      -- drill may run fast), passed in by the hub, never the database's now().
      create table jobs (
        id bigserial primary key,
        kind text not null,
        payload jsonb not null,
        -- The idempotency key: a second enqueue with the same key, in whatever state the first
        -- job is, creates nothing. NULL keys never conflict.
        key text,
        state text not null default 'pending'
          check (state in ('pending', 'running', 'done', 'failed', 'cancelled')),
        -- When the job is due; after a failure, when it is retried.
        run_at timestamptz not null,
        -- Claims so far. The attempt number is also the claim's fencing token: a worker records
        -- the outcome only of the attempt it claimed, so a run whose lease was taken over cannot.
        attempts integer not null default 0,
        max_attempts integer not null check (max_attempts >= 1),
        -- The worker that claimed it last, and until when its claim holds.
        locked_by text,
        locked_until timestamptz,
        last_error text,
        created_at timestamptz not null,
        finished_at timestamptz
      );
      -- text_pattern_ops so that cancelling by key prefix (LIKE 'escalate:wo:123:%') uses it.
      create unique index jobs_by_key on jobs (key text_pattern_ops);
      -- What a worker polls: the due jobs of a kind, and the running ones whose lease may have
      -- run out. Finished jobs, the bulk of the table, are not in it.
      create index jobs_to_claim on jobs (kind, run_at) where state in ('pending', 'running');
    `,
};
