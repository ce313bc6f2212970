import { setTimeout as sleep } from 'node:timers/promises';
import { StoreError } from '../../errors.js';
import type { LineChunk } from './line-encoder.js';

export interface WriteQueueOptions {
  /** The most lines in one request: InfluxDB's guidance is 5,000 to 10,000. */
  maxLines: number;
  /** The most requests in flight at once. */
  maxInFlight: number;
  /** Attempts per request while the store is unavailable, before the failure is handed back. */
  attempts: number;
  /** The first pause between attempts; it doubles each time. */
  backoffMs: number;
}

export const DEFAULT_WRITE_QUEUE_OPTIONS: WriteQueueOptions = { maxLines: 5_000, maxInFlight: 4, attempts: 3, backoffMs: 200 };

interface Pending {
  chunk: LineChunk;
  done: (error?: StoreError) => void;
}

/**
 * Batches chunks of lines into requests of at most `maxLines`, at most `maxInFlight` at a time (group
 * commit): a write goes out at once when a request slot is free, and otherwise joins the next
 * request, so that nothing waits longer than one request for company while a busy hub still
 * sends full batches. A request is retried with backoff while the store is `unavailable`, up to
 * `attempts`; then every write in it fails with that error and the caller decides (ingestion
 * holds the broker and retries later: backpressure). Other errors are not retried.
 */
export class WriteQueue {
  private readonly pending: Pending[] = [];
  private inFlight = 0;

  constructor(
    private readonly send: (body: string) => Promise<void>,
    private readonly options: WriteQueueOptions = DEFAULT_WRITE_QUEUE_OPTIONS,
  ) {}

  /** The most lines a chunk may hold: the encoder cuts chunks to this size. */
  get maxLines(): number {
    return this.options.maxLines;
  }

  /** Resolves when every chunk is written; rejects with a StoreError otherwise. */
  write(chunks: readonly LineChunk[]): Promise<void> {
    const written = chunks.map(
      (chunk) => new Promise<void>((resolve, reject) => this.pending.push({ chunk, done: (error) => (error ? reject(error) : resolve()) })),
    );
    this.pump();
    return Promise.all(written).then(() => undefined);
  }

  private pump(): void {
    while (this.inFlight < this.options.maxInFlight && this.pending.length > 0) {
      const batch: Pending[] = [];
      let count = 0;
      // Always at least one chunk: the encoder never makes one larger than a request.
      do {
        const next = this.pending.shift() as Pending;
        batch.push(next);
        count += next.chunk.lines;
      } while (this.pending.length > 0 && count + (this.pending[0]?.chunk.lines ?? 0) <= this.options.maxLines);
      this.inFlight++;
      void this.sendWithRetry(batch.map((entry) => entry.chunk.text).join('')).then((error) => {
        this.inFlight--;
        for (const entry of batch) entry.done(error);
        this.pump();
      });
    }
  }

  /** Sends one body; resolves with the error that ended the attempts, or undefined. */
  private async sendWithRetry(body: string): Promise<StoreError | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.send(body);
        return undefined;
      } catch (error) {
        const storeError =
          error instanceof StoreError ? error : new StoreError('unavailable', 'influxdb', `write failed: ${String(error)}`, { cause: error });
        if (storeError.code !== 'unavailable' || attempt >= this.options.attempts) return storeError;
        await sleep(this.options.backoffMs * 2 ** (attempt - 1));
      }
    }
  }
}
