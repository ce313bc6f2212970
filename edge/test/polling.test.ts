import { describe, expect, it } from 'vitest';
import { CommState, nextSlot, TokenBucket } from '../src/index.js';

describe('poll cycles', () => {
  it('stay on their grid however long a poll took', () => {
    expect(nextSlot(10_000, 1000, 10_350)).toBe(11_000);
  });
  it('skip the slots a busy bus missed instead of queueing them', () => {
    expect(nextSlot(10_000, 1000, 13_400)).toBe(14_000);
    expect(nextSlot(10_000, 1000, 11_000)).toBe(12_000);
  });
  it('with an interval of 0, come round again as soon as the bus is free', () => {
    expect(nextSlot(10_000, 0, 10_350)).toBe(10_350);
  });
});

describe('the token bucket that bounds probing (and backlog draining)', () => {
  it('lets probes take at most its share of the bus time, however many devices are dead', () => {
    const budget = new TokenBucket(0.02, 2000, 0);
    let probes = 0;
    // Probes that all time out (1 s each), asked for as often as possible, for an hour.
    for (let now = 0; now < 3_600_000; now += 100) {
      if (budget.take(1000, now).granted) probes++;
    }
    // 2 % of an hour is 72 s of probing, plus the two probes the full bucket starts with.
    expect(probes).toBeLessThanOrEqual(74);
    expect(probes).toBeGreaterThanOrEqual(70);
  });

  it('says how long until a probe fits, and takes back what a quick answer did not use', () => {
    const budget = new TokenBucket(0.1, 1000, 0);
    expect(budget.take(1000, 0)).toEqual({ granted: true });
    expect(budget.take(1000, 0)).toEqual({ granted: false, waitMs: 10_000 });
    budget.refund(900);
    expect(budget.take(1000, 1000)).toEqual({ granted: true });
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
