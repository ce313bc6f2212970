import { mkdirSync } from 'node:fs';
import { PGlite, type Transaction } from '@electric-sql/pglite';
import { StoreError } from './errors.js';
import type { SqlClient, SqlTransaction } from './sql.js';

/**
 * PGlite's errors as store errors. In-process there is no network to lose: the database is
 * gone only when it was closed (the hub stopping) and anything else is our SQL or our data.
 */
function storeError(db: PGlite, error: unknown): StoreError {
  const message = error instanceof Error ? error.message : String(error);
  if (db.closed) return new StoreError('unavailable', 'pglite', `the embedded database is closed: ${message}`, { cause: error });
  return new StoreError('rejected', 'pglite', `the embedded database refused the statement: ${message}`, { cause: error });
}

function over(db: PGlite, target: PGlite | Transaction): SqlTransaction {
  return {
    query: async <Row>(sql: string, params?: unknown[]) => {
      try {
        return (await target.query<Row>(sql, params)).rows;
      } catch (error) {
        throw storeError(db, error);
      }
    },
    exec: async (sql) => {
      try {
        await target.exec(sql);
      } catch (error) {
        throw storeError(db, error);
      }
    },
  };
}

/** PGlite: PostgreSQL compiled to WebAssembly, in-process, its files under `dataDir` (memory when undefined). */
export async function openEmbeddedDatabase(dataDir: string | undefined): Promise<SqlClient> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ? { dataDir } : {});
  return {
    ...over(db, db),
    transaction: async (work) => {
      // What `work` throws passes through as it is: its statements' errors are store errors
      // already, and anything else is the caller's own (a refusal, say). Only what PGlite
      // throws around it (BEGIN, COMMIT, ROLLBACK, a closed database) is wrapped here.
      let thrownByWork: { error: unknown } | undefined;
      try {
        return await db.transaction(async (tx) => {
          try {
            return await work(over(db, tx));
          } catch (error) {
            thrownByWork = { error };
            throw error;
          }
        });
      } catch (error) {
        if (thrownByWork?.error === error) throw error;
        throw storeError(db, error);
      }
    },
    close: () => db.close(),
  };
}
