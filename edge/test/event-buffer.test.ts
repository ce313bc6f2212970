import { afterEach, describe, expect, it, vi } from 'vitest';
import { ModbusClient, type GatehouseEvent } from '@gatehouse/protocols';
import type { EventRecord } from '@gatehouse/devices';
import { BusPoller, beforeOverwrite, cursorKey, EventBufferPoller, EventBufferReader, LearnedGaps, Outbox, parseConfig } from '../src/index.js';
import type { EventBus } from '../src/events/event-buffer-reader.js';
import { directBus, outboxStore, profileOf, queuedEvents, silent, simulatorOf, tempDirs } from './site-support.js';

const dirs = tempDirs('gatehouse-event-buffer-');
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  dirs.cleanup();
});

const DOOR = profileOf('reference-door-controller');
const UNIT = 11;
const WRITE_INDEX = 0x0100;

async function doorRig() {
  const { sim, port, clock } = await simulatorOf('reference-door-controller', [UNIT]);
  const client = new ModbusClient({ transport: { kind: 'tcp', host: '127.0.0.1', port }, timeoutMs: 500 });
  closers.push(() => sim.stop(), () => client.close());
  // 200 ms per swipe: the simulated door's first visitor of its own comes after 22 s.
  const swipe = (card: number, granted = true) => {
    clock.now += 200;
    sim.control(UNIT, 'swipe', { card, granted });
  };
  const indices = async () => {
    const words = await client.read(UNIT, 'holding', WRITE_INDEX, 2);
    if (!words.ok) throw new Error(words.failure.message);
    return { write: words.value[0] as number, read: words.value[1] as number };
  };
  return { sim, client, clock, swipe, indices };
}

function reader(dir: string, bus: EventBus, onLost?: (count: number, total: number) => void) {
  const outbox = Outbox.open({ dir, quotaBytes: 1e9 });
  const instance = new EventBufferReader({ device: 'door-1', unit: UNIT, profile: DOOR, bus, store: outboxStore(outbox), log: silent, ...(onLost ? { onLost } : {}) });
  return { outbox, reader: instance };
}

const ids = (events: readonly GatehouseEvent[]) => events.map((event) => event.data.id);

const record = (slot: number, sequence: number): EventRecord => ({ slot, sequence, timestamp: 0, card: 0, code: 1, type: 'access.granted' });

describe('records overwritten while the buffer was being read', () => {
  it('are left for the next cycle instead of making the events before them count as lost', () => {
    // A full ring: slot 5 was overwritten by event 40 after the header was read.
    const records = [record(5, 40), record(6, 10), record(7, 11), record(8, 12)];
    expect(beforeOverwrite(records).map((r) => r.sequence)).toEqual([10, 11, 12]);
  });

  it('and empty slots are not records', () => {
    expect(beforeOverwrite([record(0, 0), record(1, 1)]).map((r) => r.sequence)).toEqual([1]);
  });
});

describe("reading a door controller's event buffer", () => {
  it('takes each event once, in order, with its id, and then frees the slots', async () => {
    const rig = await doorRig();
    const { outbox, reader: events } = reader(dirs.make(), directBus(rig.client));
    closers.push(() => outbox.close());
    rig.swipe(2_753_512);
    rig.swipe(7 * 65_536 + 1, false);
    expect(await events.cycle()).toEqual({ ok: true, taken: 2, replayed: 0, lost: 0 });
    expect(await events.cycle()).toEqual({ ok: true, taken: 0, replayed: 0, lost: 0 });
    const queued = queuedEvents(outbox);
    expect(queued.map((event) => [event.type, event.data.card])).toEqual([
      ['access.granted', 2_753_512],
      ['access.denied', 7 * 65_536 + 1],
    ]);
    expect(ids(queued)).toEqual(['door-1:1', 'door-1:2']);
    expect(queued[0]!.ts).toBe(Date.UTC(2026, 4, 1, 8, 0, 0)); // the controller stamps whole seconds
    expect(await rig.indices()).toEqual({ write: 2, read: 2 });
    expect(outbox.getState(cursorKey('door-1'))).toEqual({ lastSequence: 2, lost: 0 });
  });

  it('loses and repeats nothing when the agent dies between the commit and the read-index write', async () => {
    const rig = await doorRig();
    const dir = dirs.make();
    // The first run dies right after its commit: its read-index write never happens.
    const dying: EventBus = {
      enqueue: (unit, job) =>
        directBus(rig.client).enqueue(unit, (io) =>
          job({ read: (table, address, count) => io.read(table, address, count), write: () => Promise.reject(new Error('killed')) }),
        ),
    };
    const first = reader(dir, dying);
    for (const card of [101, 102, 103]) rig.swipe(card);
    expect(await first.reader.cycle()).toMatchObject({ ok: false, stage: 'error' });
    expect(ids(queuedEvents(first.outbox))).toEqual(['door-1:1', 'door-1:2', 'door-1:3']);
    await first.outbox.close();
    expect((await rig.indices()).read).toBe(0); // the controller still holds them

    rig.swipe(104);
    const second = reader(dir, directBus(rig.client));
    closers.push(() => second.outbox.close());
    expect(await second.reader.cycle()).toEqual({ ok: true, taken: 1, replayed: 3, lost: 0 });
    // Only the new event was queued; the three from before are still the first run's messages.
    expect(ids(queuedEvents(second.outbox))).toEqual(['door-1:1', 'door-1:2', 'door-1:3', 'door-1:4']);
    expect(await rig.indices()).toEqual({ write: 4, read: 4 });
  });

  it('loses nothing when the agent dies before the commit', async () => {
    const rig = await doorRig();
    const dir = dirs.make();
    const outbox = Outbox.open({ dir, quotaBytes: 1e9 });
    const failing = new EventBufferReader({
      device: 'door-1',
      unit: UNIT,
      profile: DOOR,
      bus: directBus(rig.client),
      store: { ...outboxStore(outbox), addEvents: () => Promise.reject(new Error('disk gone')) },
      log: silent,
    });
    rig.swipe(201);
    expect(await failing.cycle()).toMatchObject({ ok: false, stage: 'error' });
    await outbox.close();
    expect((await rig.indices()).read).toBe(0);

    const second = reader(dir, directBus(rig.client));
    closers.push(() => second.outbox.close());
    expect(await second.reader.cycle()).toMatchObject({ ok: true, taken: 1 });
    expect(ids(queuedEvents(second.outbox))).toEqual(['door-1:1']);
  });

  it('counts what the controller overwrote before it was read, and reports it', async () => {
    const rig = await doorRig();
    const losses: Array<[number, number]> = [];
    const { outbox, reader: events } = reader(dirs.make(), directBus(rig.client), (count, total) => losses.push([count, total]));
    closers.push(() => outbox.close());
    rig.swipe(1);
    await events.cycle();
    // 40 more events into a ring that holds 31: the 9 oldest of them are overwritten.
    for (let card = 2; card <= 41; card++) rig.swipe(card);
    expect(await events.cycle()).toEqual({ ok: true, taken: 31, replayed: 0, lost: 9 });
    expect(losses).toEqual([[9, 9]]);
    expect(events.lost).toBe(9);
    expect(ids(queuedEvents(outbox)).at(-1)).toBe('door-1:41');
    expect(rig.sim.values(UNIT)?.events_lost).toBe(9);
  });

  it('reads nothing and commits nothing when the controller does not answer', async () => {
    const rig = await doorRig();
    const { outbox, reader: events } = reader(dirs.make(), directBus(rig.client));
    closers.push(() => outbox.close());
    rig.swipe(1);
    const deaf: EventBus = { enqueue: (unit, job) => job({ read: async () => ({ ok: false, failure: { kind: 'timeout', message: 'no answer' } }), write: async () => ({ ok: true, value: undefined }) }) };
    const offline = new EventBufferReader({ device: 'door-1', unit: UNIT, profile: DOOR, bus: deaf, store: outboxStore(outbox), log: silent });
    expect(await offline.cycle()).toEqual({ ok: false, stage: 'header', message: 'no answer' });
    expect(queuedEvents(outbox)).toEqual([]);
    expect(await events.cycle()).toMatchObject({ ok: true, taken: 1 });
  });
});

describe('jobs on a polled bus', () => {
  it('run between polls, through the bus poller that polls the device', async () => {
    const rig = await doorRig();
    const port = rig.sim.tcp!.address().port;
    const { config, profiles } = parseConfig(
      JSON.stringify({
        site: 's',
        gateway: 'g',
        uplink: { url: 'mqtt://127.0.0.1:1' },
        buses: [{ id: 'security', transport: 'tcp', host: '127.0.0.1', port, timeout_ms: 500 }],
        devices: [{ id: 'door-1', bus: 'security', unit: UNIT, profile: 'reference-door-controller', poll_interval_ms: 50 }],
      }),
      'edge.yaml',
      {},
    );
    const readings: number[] = [];
    const poller = new BusPoller({
      bus: config.buses[0] as ConstructorParameters<typeof BusPoller>[0]['bus'],
      devices: [{ config: config.devices[0]!, profile: DOOR }],
      sink: { readings: (batch) => readings.push(batch.length), commChanged: () => undefined },
      log: silent,
      learned: new LearnedGaps(`${dirs.make()}/learned-gaps.json`),
    });
    expect(profiles.get('reference-door-controller')?.id).toBe(DOOR.id);
    poller.start();
    const { outbox, reader: events } = reader(dirs.make(), poller);
    closers.push(() => outbox.close());
    rig.swipe(301);
    rig.swipe(302);
    expect(await events.cycle()).toMatchObject({ ok: true, taken: 2 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(readings.length).toBeGreaterThan(0); // polling went on beside the job
    await poller.stop();
    await expect(poller.enqueue(UNIT, async () => 1)).rejects.toThrow('stopped');
    expect(ids(queuedEvents(outbox))).toEqual(['door-1:1', 'door-1:2']);
  });
});

describe('the event buffer poller', () => {
  it('runs a cycle about every interval, one at a time, and none while the device is offline', async () => {
    vi.useFakeTimers();
    try {
      let cycles = 0;
      let offline = false;
      const reader = { cycle: async () => void cycles++ } as unknown as EventBufferReader;
      const poller = new EventBufferPoller(reader, 1000, () => offline);
      poller.start();
      await vi.advanceTimersByTimeAsync(3000);
      expect(cycles).toBe(3);
      offline = true;
      await vi.advanceTimersByTimeAsync(5000);
      expect(cycles).toBe(3);
      offline = false;
      await vi.advanceTimersByTimeAsync(1000);
      expect(cycles).toBe(4);
      await poller.stop();
      await vi.advanceTimersByTimeAsync(5000);
      expect(cycles).toBe(4);
    } finally {
      vi.useRealTimers();
    }
  });
});
