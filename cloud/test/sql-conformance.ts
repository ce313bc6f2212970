import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { PostgresServer } from '../../tests/support/postgres.js';
import { isStoreError, openEmbeddedDatabase, openPostgresDatabase, type SqlClient } from '../src/index.js';

/** A relational store under test: an empty database, and a way to remove it. */
export interface SqlHarness {
  db: SqlClient;
  close(): Promise<void>;
}

/** An empty PGlite in memory. */
export async function emptyEmbeddedDatabase(): Promise<SqlHarness> {
  const db = await openEmbeddedDatabase(undefined);
  return { db, close: () => db.close() };
}

/** An empty throw-away PostgreSQL server, removed on close. */
export async function emptyPostgresDatabase(): Promise<SqlHarness> {
  const server = await PostgresServer.create();
  const db = openPostgresDatabase(server.url);
  return {
    db,
    close: async () => {
      await db.close();
      server.remove();
    },
  };
}

/** An error of the caller's own, as a store's refusal is. */
class Refusal extends Error {
  override name = 'Refusal';
}

/**
 * The relational store port's conformance suite (sql.ts): every adapter, PGlite and a
 * PostgreSQL server, runs it. It covers what the stores above it rely on of `transaction()`.
 */
export function sqlStoreConformance(name: string, open: () => Promise<SqlHarness>): void {
  describe(`relational store conformance: ${name}`, () => {
    let harness: SqlHarness;
    let db: SqlClient;

    beforeAll(async () => {
      harness = await open();
      db = harness.db;
      // The unique note is checked at COMMIT, for a transaction the database refuses only there.
      await db.exec(`create table probe (id int primary key, note text, constraint probe_note unique (note) deferrable initially deferred)`);
    });
    afterAll(() => harness.close());
    beforeEach(() => db.query('delete from probe'));

    const count = async () => (await db.query<{ n: number }>('select count(*)::int as n from probe'))[0]?.n;

    it('commits what the work wrote and returns what it returned', async () => {
      const result = await db.transaction(async (tx) => {
        await tx.query('insert into probe (id, note) values ($1, $2)', [1, 'one']);
        return 'done';
      });
      expect(result).toBe('done');
      expect(await count()).toBe(1);
    });

    it('passes an error of the work that is not the database’s through unchanged, and rolls back', async () => {
      const refusal = new Refusal('no, and here is why');
      const outcome = db.transaction(async (tx) => {
        await tx.query('insert into probe (id, note) values ($1, $2)', [1, 'one']);
        throw refusal;
      });
      await expect(outcome).rejects.toBe(refusal);
      expect(await count()).toBe(0);
    });

    it('reports a statement the database refused in the work as a store error `rejected`, and rolls back', async () => {
      const outcome = db.transaction(async (tx) => {
        await tx.query('insert into probe (id, note) values ($1, $2)', [1, 'one']);
        await tx.query('insert into probe (id, note) values ($1, $2)', [1, 'again']);
      });
      const error: unknown = await outcome.catch((thrown: unknown) => thrown);
      expect(isStoreError(error) && error.code).toBe('rejected');
      expect(await count()).toBe(0);
    });

    it('reports a transaction whose work swallowed a failed statement as a store error `rejected`, not as written', async () => {
      const outcome = db.transaction(async (tx) => {
        await tx.query('insert into probe (id, note) values ($1, $2)', [1, 'one']);
        await tx.query('insert into probe (id, note) values ($1, $2)', [1, 'again']).catch(() => undefined);
        return 'done';
      });
      const error: unknown = await outcome.catch((thrown: unknown) => thrown);
      expect(isStoreError(error) && error.code).toBe('rejected');
      expect(await count()).toBe(0);
    });

    it('reports a COMMIT the database refused as a store error `rejected`', async () => {
      const outcome = db.transaction(async (tx) => {
        await tx.query('insert into probe (id, note) values ($1, $2), ($3, $2)', [1, 'same', 2]);
      });
      const error: unknown = await outcome.catch((thrown: unknown) => thrown);
      expect(isStoreError(error) && error.code).toBe('rejected');
      expect(await count()).toBe(0);
    });
  });
}
