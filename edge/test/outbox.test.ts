import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Outbox, type Lane } from '../src/index.js';

const dirs: string[] = [];
function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-outbox-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const payload = (size: number) => (seq: number) => JSON.stringify({ seq, pad: 'x'.repeat(size) });

describe('the durable outbox', () => {
  it('keeps unsent messages and their sequence across a restart', async () => {
    const dir = freshDir();
    const first = Outbox.open({ dir, quotaBytes: 1e9 });
    const seqs = [await first.append('telemetry', payload(10)), await first.append('alarms', payload(10)), await first.append('telemetry', payload(10))];
    expect(seqs).toEqual([0, 1, 2]);
    first.acknowledge(first.sendable('telemetry')!);
    await first.close();

    const second = Outbox.open({ dir, quotaBytes: 1e9 });
    expect(second.stats().depth).toEqual({ alarms: 1, events: 0, telemetry: 1 });
    const left = second.sendable('telemetry')!;
    expect(left.seq).toBe(2);
    expect(JSON.parse(second.payloadOf(left))).toMatchObject({ seq: 2 });
    // Numbers are never reused, not even those of messages already sent.
    expect(await second.append('events', payload(1))).toBe(3);
    await second.close();
  });

  it('offers a message only once it is on disk, and each lane oldest first', async () => {
    const outbox = Outbox.open({ dir: freshDir(), quotaBytes: 1e9 });
    const pending = outbox.append('events', payload(5));
    expect(outbox.sendable('events')).toBeUndefined();
    await pending;
    await outbox.append('events', payload(5));
    const oldest = outbox.sendable('events')!;
    expect(oldest.seq).toBe(0);
    oldest.inFlight = true;
    expect(outbox.sendable('events')!.seq).toBe(1);
    await outbox.close();
  });

  it('finds the first message created since a time without scanning the backlog', async () => {
    let now = 1000;
    const outbox = Outbox.open({ dir: freshDir(), quotaBytes: 1e9, now: () => now });
    for (let i = 0; i < 50; i++) {
      now += 10;
      await outbox.append('telemetry', payload(1));
    }
    expect(outbox.sendable('telemetry', 1255)?.seq).toBe(25);
    expect(outbox.sendable('telemetry', 10_000)).toBeUndefined();
    await outbox.close();
  });

  it('under its quota drops the oldest telemetry first, then events, alarms last, and counts every drop', async () => {
    const dir = freshDir();
    const drops: Array<{ lane: Lane; seq: number }> = [];
    const size = Buffer.byteLength(payload(90)(0));
    const outbox = Outbox.open({ dir, quotaBytes: size * 4 + 4 });
    outbox.onDrop = ({ lane, seq }) => drops.push({ lane, seq });
    await outbox.append('alarms', payload(90)); // 0
    await outbox.append('telemetry', payload(90)); // 1
    await outbox.append('events', payload(90)); // 2
    await outbox.append('telemetry', payload(90)); // 3
    await outbox.append('telemetry', payload(90)); // 4: drops telemetry 1
    await outbox.append('alarms', payload(90)); // 5: drops telemetry 3
    expect(drops).toEqual([
      { lane: 'telemetry', seq: 1 },
      { lane: 'telemetry', seq: 3 },
    ]);
    await outbox.append('alarms', payload(90)); // 6: drops telemetry 4
    await outbox.append('alarms', payload(90)); // 7: no telemetry left: drops event 2
    await outbox.append('alarms', payload(90)); // 8: only alarms left: drops alarm 0
    expect(drops.slice(2)).toEqual([
      { lane: 'telemetry', seq: 4 },
      { lane: 'events', seq: 2 },
      { lane: 'alarms', seq: 0 },
    ]);
    expect(outbox.stats()).toMatchObject({ depth: { alarms: 4, events: 0, telemetry: 0 }, dropped: { alarms: 1, events: 1, telemetry: 3 } });
    await outbox.close();
    // The counts are kept with the messages.
    const reopened = Outbox.open({ dir, quotaBytes: size * 4 + 4 });
    expect(reopened.stats().dropped).toEqual({ alarms: 1, events: 1, telemetry: 3 });
    await reopened.close();
  });
});
