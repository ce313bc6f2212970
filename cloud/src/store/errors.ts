/**
 * What a store operation can fail with. Callers act on the code: ingestion holds the broker and
 * retries while a store is `unavailable` or `unauthorized` (backpressure), and dead-letters what
 * a store `rejected`, because sending it again would be refused again.
 */
export type StoreErrorCode =
  /** The store cannot be reached or is not answering: retry later. */
  | 'unavailable'
  /** The store refused our credentials: a person must fix the settings; retrying is harmless. */
  | 'unauthorized'
  /** The store refused this data or query as it stands: retrying will not help. */
  | 'rejected';

export type StoreName = 'pglite' | 'postgresql' | 'influxdb';

export class StoreError extends Error {
  override name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    /** Which store failed, for the person reading the message. */
    readonly store: StoreName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const isStoreError = (error: unknown): error is StoreError => error instanceof StoreError;
