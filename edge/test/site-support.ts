import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { ModbusClient, GatehouseEvent } from '@gatehouse/protocols';
import { builtInProfile, startDeviceSimulator, type DeviceProfile, type DeviceSimulator } from '@gatehouse/devices';
import type { Outbox, BusTransactions } from '../src/index.js';
import type { EventBus, EventStore } from '../src/events/event-buffer-reader.js';

export const silent = pino({ level: 'silent' });

/** Temporary folders, removed by `cleanup` (call it in afterEach). */
export function tempDirs(prefix: string) {
  const dirs: string[] = [];
  return {
    make: () => {
      const dir = mkdtempSync(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    cleanup: () => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function profileOf(id: string): DeviceProfile {
  const profile = builtInProfile(id);
  if (!profile) throw new Error(`no profile ${id}`);
  return profile;
}

/** A simulator of one model on a free port, whose clock moves only when the test moves it. */
export async function simulatorOf(model: string, units: number[]): Promise<{ sim: DeviceSimulator; port: number; clock: { now: number } }> {
  const clock = { now: Date.UTC(2026, 4, 1, 8, 0, 0) };
  const sim = await startDeviceSimulator({
    profile: profileOf(model),
    host: '127.0.0.1',
    port: 0,
    units,
    hold: true,
    tickMs: 1000,
    now: () => clock.now,
  });
  return { sim, port: sim.tcp!.address().port, clock };
}

/** A bus of one Modbus TCP connection that runs each job at once (the BusPoller queues them instead). */
export function directBus(client: ModbusClient): EventBus {
  return {
    enqueue: <T>(unit: number, job: (bus: BusTransactions) => Promise<T>) =>
      job({ read: (table, address, count) => client.read(unit, table, address, count), write: (write) => client.write(unit, write) }),
  };
}

/** An event store over a real outbox, as the uplink's addEvents writes it. */
export function outboxStore(outbox: Outbox): EventStore {
  return {
    getState: (key) => outbox.getState(key),
    putState: (state) => outbox.putState(state),
    addEvents: async (events, state) => {
      await outbox.append('events', (seq) => JSON.stringify({ v: 1, seq, events }), { state });
    },
  };
}

/** Every event waiting in the outbox's events lane, oldest first. */
export function queuedEvents(outbox: Outbox): GatehouseEvent[] {
  const events: GatehouseEvent[] = [];
  for (;;) {
    const message = outbox.sendable('events');
    if (!message) return events;
    message.inFlight = true;
    events.push(...(JSON.parse(outbox.payloadOf(message)) as { events: GatehouseEvent[] }).events);
  }
}
