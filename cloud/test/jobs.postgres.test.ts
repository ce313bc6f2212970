import { describe, expect, it } from 'vitest';
import { capturedLogger } from '../../tests/support/log-capture.js';
import { PostgresServer } from '../../tests/support/postgres.js';
import { eventually } from '../../tests/support/processes.js';
import { migrate, openPostgresDatabase, type SqlClient } from '../src/index.js';
import { JobQueue } from '../src/jobs/queue.js';
import { jobQueueConformance } from './jobs-conformance.js';

// Each client is a pool of its own, as each hub replica has against the shared server.
jobQueueConformance('a PostgreSQL server', async () => {
  const server = await PostgresServer.create();
  const clients: SqlClient[] = [];
  const connect = async () => {
    const client = openPostgresDatabase(server.url);
    clients.push(client);
    return client;
  };
  await migrate(await connect());
  return {
    connect,
    close: async () => {
      await Promise.all(clients.map((client) => client.close()));
      server.remove();
    },
  };
});

describe('job queue on a PostgreSQL server that goes away', () => {
  it('keeps polling through the outage, logs it once when it starts and once when it ends, and then runs what is due', async () => {
    const server = await PostgresServer.create();
    const db = openPostgresDatabase(server.url);
    const clock = { now: Date.UTC(2026, 10, 22, 8, 0, 0) };
    const { log, lines } = capturedLogger();
    const queue = new JobQueue(db, { log, now: () => clock.now, pollMs: 20 });
    try {
      await migrate(db);
      const ran: number[] = [];
      queue.handle('escalation.step', async (job) => {
        ran.push(job.id);
      });
      const { id } = await queue.enqueue({ kind: 'escalation.step', payload: { step: 2 }, runAt: clock.now + 60_000 });
      queue.start();

      server.stop();
      const messages = () => lines.map((line) => line.msg);
      await eventually(async () => (messages().includes('job queue cannot claim jobs; trying again every poll') ? true : undefined), 'the outage logged');
      clock.now += 60_000;
      server.start();

      await eventually(async () => (ran.length > 0 ? true : undefined), 'the due job run after the outage');
      expect(ran).toEqual([id]);
      expect(messages().filter((msg) => typeof msg === 'string' && msg.startsWith('job queue'))).toEqual([
        'job queue cannot claim jobs; trying again every poll',
        'job queue claims jobs again',
      ]);
      expect(lines.find((line) => line.msg === 'job queue claims jobs again')).toMatchObject({ outage_ms: expect.any(Number) as unknown });
    } finally {
      await queue.stop();
      await db.close();
      server.remove();
    }
  });
});
