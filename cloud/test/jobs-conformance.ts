import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../tests/support/processes.js';
import type { SqlClient } from '../src/index.js';
import { InvalidJobError, JobQueue, type JobHandler, type JobQueueOptions, type JobRecord, type NewJob } from '../src/jobs/queue.js';
import { silentLog } from './support.js';

/** A migrated database under test. */
export interface JobsHarness {
  /**
   * A client of it: on a server a new pool of connections each time, as another hub replica
   * has; in-process the one database.
   */
  connect(): Promise<SqlClient>;
  /** Closes every client and removes what the harness started. */
  close(): Promise<void>;
}

const T0 = Date.UTC(2026, 10, 22, 8, 0, 0);
const SECOND = 1_000;

/** A promise and the means to settle it: a handler that holds its job until the test lets go. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * The job queue's conformance suite: it runs on every SQL store the hub runs on. Time is a fake
 * clock the tests move; the queues see nothing else.
 */
export function jobQueueConformance(name: string, open: () => Promise<JobsHarness>): void {
  describe(`job queue conformance: ${name}`, () => {
    let harness: JobsHarness;
    let db: SqlClient;
    const clock = { now: T0 };
    const queues: JobQueue[] = [];

    /** A queue on the fake clock, stopped after the test. */
    function newQueue(options: Partial<JobQueueOptions> & { db?: SqlClient } = {}): JobQueue {
      const queue = new JobQueue(options.db ?? db, { log: silentLog, now: () => clock.now, ...options });
      queues.push(queue);
      return queue;
    }

    /** A handler that counts its runs per job id. */
    function counting(runs = new Map<number, number>()) {
      const handler: JobHandler = async (job) => {
        runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
      };
      return { runs, handler };
    }

    beforeAll(async () => {
      harness = await open();
      db = await harness.connect();
    });
    afterAll(() => harness?.close());
    beforeEach(async () => {
      clock.now = T0;
      await db.query('delete from jobs');
    });
    afterEach(async () => {
      await Promise.all(queues.splice(0).map((queue) => queue.stop()));
    });

    it('runs a due job once, and keeps it as history with its payload as enqueued', async () => {
      const queue = newQueue();
      const seen: JobRecord[] = [];
      queue.handle('page.deliver', async (job) => {
        seen.push(job);
      });
      const payload = { page: 17, to: ['+86 138 0000 0000'], text: '电梯困人 tower-a lift 2', urgent: true, note: null };
      const { id, created } = await queue.enqueue({ kind: 'page.deliver', payload, runAt: T0 });

      expect(created).toBe(true);
      expect(await queue.runDue()).toBe(1);
      expect(await queue.runDue()).toBe(0);
      expect(seen.map((job) => [job.id, job.payload, job.attempts])).toEqual([[id, payload, 1]]);
      expect(await queue.get(id)).toMatchObject({
        state: 'done',
        attempts: 1,
        run_at: T0,
        created_at: T0,
        finished_at: T0,
        locked_by: queue.workerId,
        locked_until: null,
        last_error: null,
      });
    });

    it('leaves a future job alone until the clock reaches its time', async () => {
      const queue = newQueue();
      const { runs, handler } = counting();
      queue.handle('escalation.step', handler);
      const { id } = await queue.enqueue({ kind: 'escalation.step', payload: { step: 2 }, runAt: T0 + 5 * 60 * SECOND });

      expect(await queue.runDue()).toBe(0);
      clock.now = T0 + 5 * 60 * SECOND - 1;
      expect(await queue.runDue()).toBe(0);
      expect(await queue.get(id)).toMatchObject({ state: 'pending', attempts: 0 });
      clock.now = T0 + 5 * 60 * SECOND;
      expect(await queue.runDue()).toBe(1);
      expect(runs.get(id)).toBe(1);
    });

    it('creates one job for a key however many enqueue it at once, and never another while it exists', async () => {
      const [first, second] = [newQueue({ db: await harness.connect() }), newQueue({ db: await harness.connect() })];
      const attempts = Array.from({ length: 10 }, (_, n) =>
        (n % 2 ? first : second).enqueue({ kind: 'escalation.step', payload: { n }, key: 'escalate:wo:123:step:1', runAt: T0 + 60 * SECOND }),
      );
      const results = await Promise.all(attempts);

      expect(results.filter((result) => result.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result.id)).size).toBe(1);
      expect(await first.list({ keyPrefix: 'escalate:wo:123:' })).toHaveLength(1);

      first.handle('escalation.step', counting().handler);
      clock.now = T0 + 60 * SECOND;
      expect(await first.runDue()).toBe(1);
      const again = await second.enqueue({ kind: 'escalation.step', payload: { n: 99 }, key: 'escalate:wo:123:step:1' });
      expect(again).toMatchObject({ id: results[0]!.id, created: false, job: { state: 'done' } });
      expect(again.job.payload).toEqual(results[0]!.job.payload);
    });

    it('retries a failing job after growing delays, then fails it with the last error', async () => {
      const queue = newQueue({ firstRetryMs: 10 * SECOND, maxRetryMs: 15 * SECOND });
      let failures = 0;
      queue.handle('page.deliver', async () => {
        throw new Error(`SMTP 451 greylisted (${++failures})`);
      });
      const { id } = await queue.enqueue({ kind: 'page.deliver', payload: { page: 1 }, maxAttempts: 3 });

      expect(await queue.runDue()).toBe(1);
      expect(await queue.get(id)).toMatchObject({ state: 'pending', attempts: 1, run_at: T0 + 10 * SECOND, last_error: 'SMTP 451 greylisted (1)' });
      clock.now = T0 + 10 * SECOND - 1;
      expect(await queue.runDue()).toBe(0);
      clock.now = T0 + 10 * SECOND;
      expect(await queue.runDue()).toBe(1);
      // 20 s would be next; maxRetryMs caps it.
      expect(await queue.get(id)).toMatchObject({ state: 'pending', attempts: 2, run_at: T0 + 25 * SECOND, last_error: 'SMTP 451 greylisted (2)' });
      clock.now = T0 + 25 * SECOND;
      expect(await queue.runDue()).toBe(1);
      expect(await queue.get(id)).toMatchObject({
        state: 'failed',
        attempts: 3,
        finished_at: T0 + 25 * SECOND,
        last_error: 'SMTP 451 greylisted (3)',
      });
      clock.now = T0 + 60 * 60 * SECOND;
      expect(await queue.runDue()).toBe(0);
      expect(failures).toBe(3);
    });

    it('cancels the unfinished jobs by key and by key prefix, taking % and _ in a prefix literally', async () => {
      const queue = newQueue();
      const { runs, handler } = counting();
      queue.handle('escalation.step', handler);
      const enqueue = (key: string, runAt = T0 + 60 * SECOND) => queue.enqueue({ kind: 'escalation.step', payload: { key }, key, runAt });
      const done = await enqueue('escalate:wo:123:step:1', T0);
      expect(await queue.runDue()).toBe(1);
      for (const key of ['escalate:wo:123:step:2', 'escalate:wo:123:step:3', 'escalate:wo:1234:step:1', 'escalate:wo:1_3:step:1', 'page:77']) {
        await enqueue(key);
      }

      expect(await queue.cancel({ keyPrefix: 'escalate:wo:123:' })).toBe(2);
      expect(await queue.cancel({ keyPrefix: 'escalate:wo:1_3:' })).toBe(1);
      expect(await queue.cancel({ keyPrefix: 'escalate:wo:1%' })).toBe(0);
      expect(await queue.cancel({ key: 'page:77' })).toBe(1);
      expect(await queue.cancel({ key: 'page:77' })).toBe(0);
      await expect(queue.cancel({ keyPrefix: '' })).rejects.toThrow(InvalidJobError);

      const states = (await queue.list({ keyPrefix: 'escalate:wo:' })).map((job) => [job.key, job.state]);
      expect(Object.fromEntries(states)).toEqual({
        'escalate:wo:123:step:1': 'done',
        'escalate:wo:123:step:2': 'cancelled',
        'escalate:wo:123:step:3': 'cancelled',
        'escalate:wo:1234:step:1': 'pending',
        'escalate:wo:1_3:step:1': 'cancelled',
      });
      clock.now = T0 + 60 * SECOND;
      expect(await queue.runDue()).toBe(1);
      expect([...runs.keys()]).toHaveLength(2);
      expect(runs.has(done.id)).toBe(true);
    });

    it('does not retry a job that was cancelled while it ran and then failed', async () => {
      const queue = newQueue();
      const entered = deferred();
      const release = deferred();
      queue.handle('escalation.step', async () => {
        entered.resolve();
        await release.promise;
        throw new Error('the technician could not be reached');
      });
      const { id } = await queue.enqueue({ kind: 'escalation.step', payload: {}, key: 'escalate:wo:9:step:1' });
      const running = queue.runDue();
      await entered.promise;

      expect(await queue.cancel({ keyPrefix: 'escalate:wo:9:' })).toBe(1);
      release.resolve();
      expect(await running).toBe(1);
      expect(await queue.get(id)).toMatchObject({ state: 'cancelled', attempts: 1 });
      clock.now = T0 + 60 * 60 * SECOND;
      expect(await queue.runDue()).toBe(0);
    });

    it('refuses a job that is not valid, naming the field, and stores nothing', async () => {
      const queue = newQueue();
      const circular: Record<string, unknown> = {};
      circular.self = circular;
      const bad: Array<[Partial<NewJob>, string, RegExp]> = [
        [{ kind: '' }, 'kind', /job kind "" is not a lower-case dotted name/],
        [{ kind: 'Page Deliver' }, 'kind', /"Page Deliver"/],
        [{ payload: undefined }, 'payload', /payload of a page.deliver job is undefined, which is not JSON/],
        [{ payload: { at: new Date(T0) } }, 'payload.at', /payload.at .* is a Date/],
        [{ payload: { steps: [1, Number.NaN] } }, 'payload.steps[1]', /is NaN/],
        [{ payload: { count: 10n } }, 'payload.count', /is a bigint/],
        [{ payload: { send: () => undefined } }, 'payload.send', /is a function/],
        [{ payload: { text: 'a\0b' } }, 'payload.text', /NUL/],
        [{ payload: circular }, 'payload.self', /reference to itself/],
        [{ runAt: Number.NaN }, 'runAt', /ms since the epoch/],
        [{ key: '' }, 'key', /job key ""/],
        [{ maxAttempts: 0 }, 'maxAttempts', /at least 1/],
      ];
      for (const [change, field, message] of bad) {
        const attempt = queue.enqueue({ kind: 'page.deliver', payload: { page: 1 }, ...change });
        await expect(attempt, field).rejects.toThrow(message);
        await expect(attempt, field).rejects.toMatchObject({ name: 'InvalidJobError', field });
      }
      expect(await queue.list()).toEqual([]);
      expect(() => queue.handle('Bad Kind', counting().handler)).toThrow(InvalidJobError);
    });

    it('enqueues follow-up jobs in the same transaction that records the job done, and runs those due', async () => {
      const queue = newQueue();
      const { runs, handler } = counting();
      queue.handle('alarm.raised', async (job) => ({
        followUps: [
          { kind: 'page.deliver', payload: { alarm: job.id }, key: `page:alarm:${job.id}` },
          { kind: 'escalation.step', payload: { alarm: job.id, step: 2 }, key: `escalate:alarm:${job.id}:step:2`, runAt: T0 + 5 * 60 * SECOND },
        ],
      }));
      queue.handle('page.deliver', handler);
      queue.handle('alarm.broken', async () => ({ followUps: [{ kind: 'page.deliver', payload: { at: new Date(T0) } }] }));

      const { id } = await queue.enqueue({ kind: 'alarm.raised', payload: {} });
      const broken = await queue.enqueue({ kind: 'alarm.broken', payload: {}, maxAttempts: 1 });
      expect(await queue.runDue()).toBe(3);

      expect((await queue.list({ kind: 'page.deliver' })).map((job) => [job.key, job.state])).toEqual([[`page:alarm:${id}`, 'done']]);
      expect(await queue.list({ kind: 'escalation.step' })).toMatchObject([{ key: `escalate:alarm:${id}:step:2`, state: 'pending' }]);
      expect(runs.size).toBe(1);
      expect(await queue.get(broken.id)).toMatchObject({ state: 'failed', last_error: expect.stringMatching(/payload.at .* is a Date/) as unknown });
    });

    it('runs a job enqueued for now at once, not at the next poll', async () => {
      const queue = newQueue({ pollMs: 60 * 60 * SECOND });
      const { runs, handler } = counting();
      queue.handle('page.deliver', handler);
      queue.start();
      for (const page of [1, 2, 3]) {
        const { id } = await queue.enqueue({ kind: 'page.deliver', payload: { page } });
        await eventually(async () => ((await queue.get(id))?.state === 'done' ? true : undefined), `page ${page} delivered`, 5 * SECOND);
      }
      expect([...runs.values()]).toEqual([1, 1, 1]);
    });

    it('waits in stop() for the handlers running to finish and their outcome to be recorded', async () => {
      const queue = newQueue();
      const entered = deferred();
      const release = deferred();
      queue.handle('page.deliver', async () => {
        entered.resolve();
        await release.promise;
      });
      queue.start();
      const { id } = await queue.enqueue({ kind: 'page.deliver', payload: {} });
      await entered.promise;

      const stopped = queue.stop().then(() => 'stopped');
      const stillRunning = new Promise((resolve) => setTimeout(() => resolve('running'), 100));
      expect(await Promise.race([stopped, stillRunning])).toBe('running');
      release.resolve();
      expect(await stopped).toBe('stopped');
      expect(await queue.get(id)).toMatchObject({ state: 'done' });
    });

    it('runs each of 200 jobs exactly once with two workers on their own connections claiming side by side', async () => {
      const producer = newQueue({ db: await harness.connect() });
      const workers = [await harness.connect(), await harness.connect()].map((client) => newQueue({ db: client, pollMs: 10 }));
      const runs = new Map<number, number>();
      const ranBy = new Map<string, number>();
      for (const worker of workers) {
        worker.handle(
          'page.deliver',
          async (job) => {
            runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
            ranBy.set(worker.workerId, (ranBy.get(worker.workerId) ?? 0) + 1);
            // The work a delivery takes, so that the two workers overlap.
            await new Promise((resolve) => setTimeout(resolve, 2));
          },
          { concurrency: 4 },
        );
        worker.start();
      }
      const ids = await Promise.all(Array.from({ length: 200 }, (_, n) => producer.enqueue({ kind: 'page.deliver', payload: { n } }).then((job) => job.id)));

      await eventually(async () => (runs.size === 200 ? true : undefined), 'every job to have run', 30 * SECOND);
      await Promise.all(workers.map((worker) => worker.stop()));

      expect(ids.map((id) => runs.get(id))).toEqual(ids.map(() => 1));
      expect(await producer.list({ state: 'done', limit: 1_000 })).toHaveLength(200);
      expect([...ranBy.values()].every((count) => count > 0)).toBe(true);
      expect([...ranBy.values()].reduce((sum, count) => sum + count)).toBe(200);
    });

    it('runs a job again on another worker once the lease of the worker that died in it runs out; the late finish changes nothing', async () => {
      const [dying, healthy] = [newQueue({ db: await harness.connect() }), newQueue({ db: await harness.connect() })];
      const entered = deferred();
      const release = deferred();
      // Concurrency 1 keeps the dying worker from claiming the job back once its own lease ran out.
      dying.handle(
        'escalation.step',
        async () => {
          entered.resolve();
          await release.promise;
        },
        { concurrency: 1, leaseMs: 30 * SECOND },
      );
      const { runs, handler } = counting();
      healthy.handle('escalation.step', handler);
      dying.start();
      const { id } = await dying.enqueue({ kind: 'escalation.step', payload: { step: 1 } });
      await entered.promise;

      expect(await dying.get(id)).toMatchObject({ state: 'running', attempts: 1, locked_by: dying.workerId, locked_until: T0 + 30 * SECOND });
      clock.now = T0 + 30 * SECOND - 1;
      expect(await healthy.runDue()).toBe(0);
      clock.now = T0 + 30 * SECOND;
      expect(await healthy.runDue()).toBe(1);
      const takenOver = { state: 'done', attempts: 2, locked_by: healthy.workerId, finished_at: T0 + 30 * SECOND };
      expect(await healthy.get(id)).toMatchObject(takenOver);

      clock.now = T0 + 40 * SECOND;
      release.resolve();
      await dying.stop();
      expect(await healthy.get(id)).toMatchObject(takenOver);
      expect(runs.get(id)).toBe(1);
    });

    it('gives a job up as failed when its lease runs out on its last attempt, rather than run it for ever', async () => {
      const [dying, healthy] = [newQueue({ db: await harness.connect() }), newQueue({ db: await harness.connect() })];
      const entered = deferred();
      const release = deferred();
      dying.handle(
        'escalation.step',
        async () => {
          entered.resolve();
          await release.promise;
        },
        { concurrency: 1, leaseMs: 30 * SECOND },
      );
      const { runs, handler } = counting();
      healthy.handle('escalation.step', handler);
      dying.start();
      const { id } = await dying.enqueue({ kind: 'escalation.step', payload: {}, maxAttempts: 1 });
      await entered.promise;

      clock.now = T0 + 30 * SECOND;
      expect(await healthy.runDue()).toBe(0);
      expect(await healthy.get(id)).toMatchObject({
        state: 'failed',
        attempts: 1,
        finished_at: T0 + 30 * SECOND,
        last_error: `its lease ran out on its last attempt: ${dying.workerId} stopped or took too long`,
      });
      expect(runs.size).toBe(0);

      // It did finish after all, late: the record says so.
      release.resolve();
      await dying.stop();
      expect(await healthy.get(id)).toMatchObject({ state: 'done', attempts: 1 });
    });
  });
}
