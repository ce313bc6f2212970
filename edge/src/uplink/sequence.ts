import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The gateway's batch sequence number, monotonic across restarts, so that the hub can tell a
 * replayed batch from a new one. Numbers are reserved on disk a block at a time: a crash skips the
 * rest of a block (gaps are harmless) but never reuses a number, and the disk sees one write per
 * block rather than one per batch.
 */
export class PersistentSequence {
  private nextValue: number;
  private reservedUpTo: number;

  constructor(
    private readonly file: string,
    private readonly blockSize = 1000,
  ) {
    this.nextValue = PersistentSequence.readReserved(file);
    this.reservedUpTo = this.nextValue;
  }

  private static readReserved(file: string): number {
    try {
      const value = Number(readFileSync(file, 'utf8').trim());
      return Number.isSafeInteger(value) && value >= 0 ? value : 0;
    } catch {
      return 0;
    }
  }

  next(): number {
    if (this.nextValue >= this.reservedUpTo) {
      this.reservedUpTo = this.nextValue + this.blockSize;
      mkdirSync(dirname(this.file), { recursive: true });
      // Written to a temporary file and renamed, so that a crash leaves the old or the new value.
      writeFileSync(`${this.file}.tmp`, `${this.reservedUpTo}\n`);
      renameSync(`${this.file}.tmp`, this.file);
    }
    return this.nextValue++;
  }
}
