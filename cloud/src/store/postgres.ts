import pg from 'pg';
import { StoreError, type StoreErrorCode } from './errors.js';
import type { SqlClient, SqlTransaction } from './sql.js';

/** Socket errors that mean the server is not there (yet, or any more). */
const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * SQLSTATEs (PostgreSQL manual, appendix A) that say the server went away or is not taking
 * connections: class 08 connection exceptions, 57P01-57P03 shutting down or starting up, 53300
 * too many connections.
 */
function codeOf(error: unknown): StoreErrorCode {
  const { code, message } = error as { code?: string; message?: string };
  if (code && (NETWORK_ERRORS.has(code) || code.startsWith('08') || /^57P0[123]$/.test(code) || code === '53300')) return 'unavailable';
  if (code === '28P01' || code === '28000') return 'unauthorized';
  // node-postgres reports a connection cut mid-query or a connect timeout without a code.
  if (!code && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message ?? '')) {
    return 'unavailable';
  }
  return 'rejected';
}

function storeError(where: string, error: unknown): StoreError {
  const code = codeOf(error);
  const detail = error instanceof Error ? error.message || String((error as { code?: string }).code) : String(error);
  const what = {
    unavailable: `PostgreSQL at ${where} is unreachable (${detail}); check that the server is running and GATEHOUSE_DATABASE_URL`,
    unauthorized: `PostgreSQL at ${where} refused the credentials in GATEHOUSE_DATABASE_URL (${detail})`,
    rejected: `PostgreSQL at ${where} refused the statement: ${detail}`,
  }[code];
  return new StoreError(code, 'postgresql', what, { cause: error });
}

/** `host:port/database` of a connection URL, never its password. */
function describe(url: string): string {
  const parsed = new URL(url);
  return `${parsed.hostname}:${parsed.port || '5432'}${parsed.pathname}`;
}

/** int8 (count(*), bigserial) as a JS number, as PGlite gives it: the hub's counts stay far below 2^53. */
function getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
  if (oid === (pg.types.builtins.INT8 as number)) return Number;
  // pg-types declares its parsers as returning `any`; each is a function of the column's text.
  const parser: unknown = pg.types.getTypeParser(oid, format);
  return parser as (value: string) => unknown;
}
const types = { getTypeParser };

/**
 * A PostgreSQL server through a connection pool. The pool reconnects by itself, so a server
 * that restarts costs the queries made while it was down (each fails `unavailable`), no more.
 */
export function openPostgresDatabase(url: string, maxConnections = 10): SqlClient {
  const where = describe(url);
  const pool = new pg.Pool({ connectionString: url, max: maxConnections, types, connectionTimeoutMillis: 5_000 });
  // A connection that the server drops is reported as an 'error' event, on the pool while the
  // connection is idle and on the connection itself when the drop races a query's end; without
  // a listener node would crash the hub. The query in flight, or the next one, fails with it and
  // reports it as `unavailable`.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));

  const run = async <Row>(client: pg.Pool | pg.PoolClient, sql: string, params?: unknown[]): Promise<Row[]> => {
    try {
      return (await client.query(sql, params)).rows as Row[];
    } catch (error) {
      throw storeError(where, error);
    }
  };
  const over = (client: pg.Pool | pg.PoolClient): SqlTransaction => ({
    query: (sql, params) => run(client, sql, params),
    exec: async (sql) => {
      await run(client, sql);
    },
  });

  return {
    ...over(pool),
    transaction: async (work) => {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (error) {
        throw storeError(where, error);
      }
      let broken: Error | undefined;
      try {
        await run(client, 'begin');
        const result = await work(over(client));
        const committed = await client.query('commit').catch((error: unknown) => {
          throw storeError(where, error);
        });
        // A transaction one of whose statements failed is rolled back at COMMIT, which PostgreSQL
        // answers with ROLLBACK rather than an error: the work swallowed that failure.
        if (committed.command === 'ROLLBACK') {
          throw new StoreError('rejected', 'postgresql', `PostgreSQL at ${where} rolled the transaction back at COMMIT: one of its statements had failed`);
        }
        return result;
      } catch (error) {
        await client.query('rollback').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        // As it was thrown: BEGIN's and COMMIT's errors are store errors already (`run`), as are
        // those of the work's statements, and anything else the work threw is the caller's own.
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroy it, do not reuse it.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
