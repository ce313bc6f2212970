import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CommState, nextSlot, PersistentSequence } from '../src/index.js';

describe('poll cycles', () => {
  it('stay on their grid however long a poll took', () => {
    expect(nextSlot(10_000, 1000, 10_350)).toBe(11_000);
  });
  it('skip the slots a busy bus missed instead of queueing them', () => {
    expect(nextSlot(10_000, 1000, 13_400)).toBe(14_000);
    expect(nextSlot(10_000, 1000, 11_000)).toBe(12_000);
  });
});

describe('device comm state', () => {
  it('goes offline only after the configured run of failures, and says so once', () => {
    const comm = new CommState(3);
    expect(comm.succeeded(1000)).toEqual({ to: 'online', outageMs: undefined });
    expect(comm.failed(2000, 'timeout')).toBeUndefined();
    expect(comm.failed(3000, 'timeout')).toBeUndefined();
    expect(comm.failed(4000, 'timeout')).toEqual({ to: 'offline', reason: 'timeout', since: 2000 });
    expect(comm.failed(5000, 'timeout')).toBeUndefined();
    expect(comm.snapshot()).toMatchObject({ status: 'offline', consecutive_failures: 4, total_errors: 4, last_good_read: 1000 });
    expect(comm.succeeded(9000)).toEqual({ to: 'online', outageMs: 7000 });
    expect(comm.snapshot()).toMatchObject({ status: 'online', consecutive_failures: 0, total_errors: 4 });
  });

  it('does not report a single lost answer', () => {
    const comm = new CommState(3);
    comm.succeeded(1000);
    comm.failed(2000, 'timeout');
    expect(comm.succeeded(3000)).toBeUndefined();
  });
});

describe('the gateway sequence number', () => {
  it('keeps rising across restarts', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'gatehouse-seq-')), 'sequence');
    const first = new PersistentSequence(file, 10);
    const seen = Array.from({ length: 25 }, () => first.next());
    expect(seen).toEqual([...seen].sort((a, b) => a - b));
    // A restart (even after a crash) continues above everything handed out before.
    const second = new PersistentSequence(file, 10);
    expect(second.next()).toBeGreaterThan(seen.at(-1)!);
  });
});
