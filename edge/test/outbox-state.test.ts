import { afterEach, describe, expect, it } from 'vitest';
import { Outbox } from '../src/index.js';
import { tempDirs } from './site-support.js';

const dirs = tempDirs('gatehouse-outbox-state-');
afterEach(dirs.cleanup);

describe("the outbox's state beside its messages", () => {
  it('commits state with a message in one transaction, and keeps both across a restart', async () => {
    const dir = dirs.make();
    const first = Outbox.open({ dir, quotaBytes: 1e9 });
    await first.append('events', (seq) => JSON.stringify({ seq }), { state: { 'event-cursor/door-1': { lastSequence: 7 } } });
    // Readable at once, in the same run, though lmdb-js renews its read snapshot only later.
    expect(first.getState('event-cursor/door-1')).toEqual({ lastSequence: 7 });
    await first.close();

    const second = Outbox.open({ dir, quotaBytes: 1e9 });
    expect(second.getState('event-cursor/door-1')).toEqual({ lastSequence: 7 });
    expect(second.stats().depth.events).toBe(1);
    await second.close();
  });

  it('writes nothing when the message cannot be built', async () => {
    const outbox = Outbox.open({ dir: dirs.make(), quotaBytes: 1e9 });
    await expect(
      outbox.append(
        'events',
        () => {
          throw new Error('no payload');
        },
        { state: { cursor: 1 } },
      ),
    ).rejects.toThrow('no payload');
    expect(outbox.getState('cursor')).toBeUndefined();
    await outbox.close();
  });

  it("keeps a message's own channel across a restart", async () => {
    const dir = dirs.make();
    const first = Outbox.open({ dir, quotaBytes: 1e9 });
    await first.append('events', () => '{"id":"c1"}', { channel: 'cmd/result' });
    await first.append('events', () => '{"events":[]}');
    expect(first.sendable('events')?.channel).toBe('cmd/result');
    await first.close();
    const second = Outbox.open({ dir, quotaBytes: 1e9 });
    const result = second.sendable('events')!;
    expect(result.channel).toBe('cmd/result');
    result.inFlight = true;
    const event = second.sendable('events')!;
    expect(event.seq).toBe(result.seq + 1);
    expect(event.channel).toBeUndefined();
    await second.close();
  });

  it('puts, removes and lists state entries by prefix', async () => {
    const outbox = Outbox.open({ dir: dirs.make(), quotaBytes: 1e9 });
    await outbox.putState({ 'command/a1': { n: 1 }, 'command/b2': { n: 2 }, 'event-cursor/x': { n: 3 } });
    expect([...outbox.stateEntries('command/')].map((entry) => entry.key)).toEqual(['command/a1', 'command/b2']);
    await outbox.putState({ 'command/a1': undefined });
    expect(outbox.getState('command/a1')).toBeUndefined();
    expect([...outbox.stateEntries<{ n: number }>('command/')].map((entry) => entry.value.n)).toEqual([2]);
    await outbox.close();
  });
});
