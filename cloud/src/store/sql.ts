/**
 * The relational store's port: the little of PostgreSQL the hub uses. Two adapters speak the
 * same dialect: PGlite in-process (`pglite.ts`) and a PostgreSQL server (`postgres.ts`). Both
 * throw a `StoreError` whose code says whether to retry.
 */
export interface SqlClient {
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Runs one or more statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  transaction<T>(work: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export type SqlTransaction = Pick<SqlClient, 'query' | 'exec'>;
