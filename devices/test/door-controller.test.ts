import { afterEach, describe, expect, it } from 'vitest';
import { ModbusClient } from '@gatehouse/protocols';
import {
  builtInProfile,
  decodeHeader,
  decodeRecords,
  DEFAULT_DOOR_CONTROLLER,
  DoorControllerBehaviour,
  eventBufferOf,
  headerSpan,
  recordReads,
  startControlServer,
  startDeviceSimulator,
  takeNew,
  type AccessEvent,
  type DeviceProfile,
  type DeviceSimulator,
  type EventRecord,
} from '../src/index.js';

const door = builtInProfile('reference-door-controller')!;
const gate = builtInProfile('reference-barrier-gate')!;
const buffer = eventBufferOf(door);
const START = Date.UTC(2026, 10, 22, 8, 0, 0);

/** A simulator on a fake clock, and a Modbus TCP client to it; both closed after each test. */
let open: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of open.reverse()) await close();
  open = [];
});

async function simulate(profile: DeviceProfile) {
  const clock = { now: START };
  const simulator = await startDeviceSimulator({ profile, host: '127.0.0.1', port: 0, units: [1], tickMs: 1000, hold: true, now: () => clock.now });
  const client = new ModbusClient({ transport: { kind: 'tcp', host: '127.0.0.1', port: simulator.tcp!.address().port }, timeoutMs: 2000 });
  open.push(() => simulator.stop(), () => client.close());
  const later = (ms: number) => {
    clock.now += ms;
    simulator.tick();
  };
  return { simulator, client, later };
}

async function read(client: ModbusClient, address: number, count: number): Promise<number[]> {
  const result = await client.read(1, 'holding', address, count);
  if (!result.ok) throw new Error(`holding ${address}+${count}: ${result.failure.message}`);
  return result.value as number[];
}

/**
 * One poll of the event buffer as the edge agent does it: header, pending records, the new ones
 * by sequence number, then the read index forward — unless the agent "crashes" first.
 */
async function poll(client: ModbusClient, lastSequence: number, crashBeforeAck = false) {
  const span = headerSpan(buffer);
  const header = decodeHeader(buffer, await read(client, span.address, span.count));
  const records: EventRecord[] = [];
  for (const plan of recordReads(buffer, header, 120)) {
    records.push(...decodeRecords(buffer, door.defaults.order, plan, await read(client, plan.address, plan.count)));
  }
  const taken = takeNew(records, lastSequence);
  if (!crashBeforeAck) {
    const ack = await client.write(1, { fc: 6, address: buffer.read_index, value: header.writeIndex });
    if (!ack.ok) throw new Error(ack.failure.message);
  }
  return { ...taken, header };
}

const asEvent = (record: EventRecord): AccessEvent => ({ type: record.type!, timestamp: record.timestamp, card: record.card });

function raisedBy(simulator: DeviceSimulator): AccessEvent[] {
  return (simulator.behaviour(1) as DoorControllerBehaviour).raised;
}

describe('the door controller simulator', () => {
  it('raises granted, denied, forced and held-open events as a controller would', () => {
    const controller = new DoorControllerBehaviour({ ...DEFAULT_DOOR_CONTROLLER, meanSwipeIntervalMs: 0 }, START);
    controller.control('swipe', { card: 2_753_512 });
    expect(controller.values()).toMatchObject({ door_locked: false, door_open: false });
    expect(controller.advance(START + 1_500)).toMatchObject({ door_locked: false, door_open: true });
    expect(controller.advance(START + 10_000)).toMatchObject({ door_locked: true, door_open: false });
    controller.control('swipe', { card: 77, granted: false });
    expect(controller.values()).toMatchObject({ door_locked: true, door_open: false });
    controller.control('force', {});
    expect(controller.values()).toMatchObject({ door_locked: true, door_open: true });
    controller.advance(START + 20_000);
    controller.control('hold-open', {});
    controller.advance(START + 80_000);
    expect(controller.raised.map((event) => [event.type, event.card])).toEqual([
      ['access.granted', 2_753_512],
      ['access.denied', 77],
      ['door.forced', 0],
      ['access.granted', expect.any(Number)],
      ['door.held_open', 0],
    ]);
    expect(controller.raised.at(-1)!.timestamp).toBe(Math.floor((START + 20_000 + 1_000 + 30_000) / 1000));
    expect(controller.values().door_open).toBe(false);
  });

  it('produces every kind of event at random over a day', () => {
    const controller = new DoorControllerBehaviour({ ...DEFAULT_DOOR_CONTROLLER, seed: 3 }, START);
    for (let t = START; t <= START + 24 * 3600_000; t += 1000) controller.advance(t);
    const kinds = new Set(controller.raised.map((event) => event.type));
    expect([...kinds].sort()).toEqual(['access.denied', 'access.granted', 'door.forced', 'door.held_open']);
  });

  it('its event buffer yields every event exactly once across many wrap-arounds and a crash before the acknowledgement', async () => {
    const { simulator, client, later } = await simulate(door);
    const taken: AccessEvent[] = [];
    let lastSequence = 0;
    for (let round = 0; round < 12; round++) {
      for (let i = 0; i < 10 + (round % 3) * 5; i++) {
        // 10 to 20 events a round (and visitors at random) into 31 usable slots: the ring wraps
        // every other round. A round that crashes leaves its events for the next, smaller one.
        simulator.control(1, i % 3 === 2 ? 'force' : 'swipe', { card: 1000 + round * 100 + i, granted: i % 2 === 0 });
        later(3_000);
      }
      const crash = round % 3 === 0;
      const result = await poll(client, lastSequence, crash);
      expect(result.lost).toBe(0);
      taken.push(...result.events.map(asEvent));
      lastSequence = result.lastSequence; // persisted with the events before the acknowledgement
    }
    const final = await poll(client, lastSequence);
    taken.push(...final.events.map(asEvent));
    expect(taken.length).toBeGreaterThan(3 * 31);
    expect(taken).toEqual(raisedBy(simulator));
    expect(simulator.values(1)?.events_lost).toBe(0);
  });

  it('overwrites the oldest events when the gateway falls behind, and says how many', async () => {
    const { simulator, client, later } = await simulate(door);
    for (let i = 0; i < 40; i++) {
      simulator.control(1, 'swipe', { card: 5000 + i, granted: false });
      later(1_000);
    }
    const result = await poll(client, 0);
    // 31 usable slots: the last 31 events survive, those before them (40 and a visitor or two) were overwritten.
    const raised = raisedBy(simulator);
    const overwritten = raised.length - 31;
    expect(overwritten).toBeGreaterThanOrEqual(9);
    expect(result.events.map(asEvent)).toEqual(raised.slice(-31));
    expect(result.events[0]!.sequence).toBe(overwritten + 1);
    expect(simulator.values(1)?.events_lost).toBe(overwritten);
    const lost = (await read(client, door.points.find((p) => p.point === 'events_lost')!.address, 1))[0];
    expect(lost).toBe(overwritten);
    // A gateway that had taken events 1..3 before it fell behind counts the gap.
    expect(takeNew(result.events, 3).lost).toBe(overwritten - 3);
  });

  it('takes the unlock command and refuses writes to what is not writable', async () => {
    const { simulator, client, later } = await simulate(door);
    expect(simulator.values(1)).toMatchObject({ door_locked: true, unlock_s: 0 });
    expect((await client.write(1, { fc: 6, address: 0x0001, value: 5 })).ok).toBe(true);
    later(2_000);
    expect(simulator.values(1)).toMatchObject({ door_locked: false, unlock_s: 3 });
    later(4_000);
    expect(simulator.values(1)).toMatchObject({ door_locked: true, unlock_s: 0 });
    const refused = async (address: number, value: number) => {
      const result = await client.write(1, { fc: 6, address, value });
      return result.ok ? undefined : result.failure.exception;
    };
    expect(await refused(0x0000, 0)).toBe(0x02); // the door status word
    expect(await refused(buffer.write_index, 3)).toBe(0x02);
    expect(await refused(buffer.records + 4, 1)).toBe(0x02);
    expect(await refused(buffer.read_index, buffer.capacity)).toBe(0x03); // not a slot
    expect(await refused(buffer.read_index, 0)).toBeUndefined();
  });
});

describe('the barrier gate simulator over Modbus', () => {
  it('opens when the open coil is written, and reports the arm and the loop', async () => {
    const { simulator, client, later } = await simulate(gate);
    simulator.control(1, 'vehicle');
    const bits = async () => {
      const result = await client.read(1, 'discrete', 0, 2);
      if (!result.ok) throw new Error(result.failure.message);
      return result.value;
    };
    expect(await bits()).toEqual([false, true]);
    expect((await client.write(1, { fc: 5, address: 0, value: true })).ok).toBe(true);
    expect(simulator.values(1)?.open_command).toBe(false); // not yet taken: values are from the last scan
    later(100);
    expect(simulator.values(1)?.open_command).toBe(false);
    later(1_500);
    expect(await bits()).toEqual([true, true]);
    later(2_500);
    expect(await bits()).toEqual([true, false]);
    later(1_000);
    later(1_500);
    expect(await bits()).toEqual([false, false]);
  });

  it('is driven by its HTTP control endpoint', async () => {
    const { simulator } = await simulate(gate);
    const control = await startControlServer(simulator, '127.0.0.1', 0);
    open.push(() => control.close());
    const base = `http://127.0.0.1:${control.address().port}/units`;
    const post = (path: string, body?: unknown) =>
      fetch(`${base}/${path}`, { method: 'POST', ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    expect(await (await post('1/vehicle')).json()).toMatchObject({ vehicle_present: true, barrier_open: false });
    expect(await (await post('1/fault', { code: 7 })).json()).toMatchObject({ fault_code: 7 });
    expect(await (await fetch(`${base}/1`)).json()).toMatchObject({ fault_code: 7, vehicle_present: true });
    const bad = await post('1/fault', { code: 'x' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/code must be an integer/);
    expect((await post('1/dance')).status).toBe(400);
    expect((await fetch(`${base}/9`)).status).toBe(404);
  });
});
