import { afterEach, describe, expect, it } from 'vitest';
import { ModbusClient, type CommandPayload, type CommandResultPayload, type ModbusWrite } from '@gatehouse/protocols';
import { builtInAnyProfile } from '@gatehouse/devices';
import { CommandExecutor, commandKey, Outbox, planCommand, type CommandTarget } from '../src/index.js';
import type { EventBus } from '../src/events/event-buffer-reader.js';
import { directBus, profileOf, silent, simulatorOf, tempDirs } from './site-support.js';

const dirs = tempDirs('gatehouse-commands-');
const closers: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  dirs.cleanup();
});

const NOW = Date.UTC(2026, 4, 1, 8, 0, 0);
const GATE = profileOf('reference-barrier-gate');
const DOOR = profileOf('reference-door-controller');
const METER = profileOf('reference-3ph-meter');

const TARGETS: Record<string, CommandTarget> = {
  'gate-1': { kind: 'modbus', device: 'gate-1', unit: 5, profile: GATE },
  'door-1': { kind: 'modbus', device: 'door-1', unit: 11, profile: DOOR },
  'meter-1': { kind: 'modbus', device: 'meter-1', unit: 1, profile: METER },
  'door-east': { kind: 'gpio-door', device: 'door-east', hasLockRelay: true },
  'dlt-1': { kind: 'other', device: 'dlt-1', profile: builtInAnyProfile('chint-ddsu666-dlt645')! },
};

let nextId = 0;
const command = (device: string, action: CommandPayload['action'], params: Record<string, unknown> = {}, extra: Partial<CommandPayload> = {}): CommandPayload => ({
  v: 1,
  id: `cmd-${String(++nextId).padStart(6, '0')}`,
  ts: NOW,
  device,
  action,
  params,
  timeout_ms: 10_000,
  ...extra,
});

describe('planning a command against the device profile', () => {
  const plan = (cmd: CommandPayload) => planCommand(cmd, TARGETS[cmd.device]);
  const refusal = (cmd: CommandPayload) => {
    const planned = plan(cmd);
    return planned.ok ? undefined : planned.error.code;
  };

  it('opens a barrier with FC 5 on its open coil', () => {
    expect(plan(command('gate-1', 'open_barrier'))).toEqual({
      ok: true,
      plan: { kind: 'modbus-write', device: 'gate-1', unit: 5, point: 'open_command', value: true, write: { fc: 5, address: 0, value: true } },
    });
  });

  it('unlocks a door controller for N seconds with FC 6, and a gateway door by its relay', () => {
    expect(plan(command('door-1', 'unlock_door', { seconds: 8 }))).toMatchObject({ ok: true, plan: { write: { fc: 6, address: 1, value: 8 } } });
    expect(plan(command('door-1', 'unlock_door'))).toMatchObject({ ok: true, plan: { value: 5 } });
    expect(plan(command('door-east', 'unlock_door', { seconds: 3 }))).toEqual({ ok: true, plan: { kind: 'gpio-unlock', device: 'door-east', seconds: 3 } });
  });

  it('writes a writable register by its point name, encoded by the profile', () => {
    expect(plan(command('door-1', 'write_register', { point: 'unlock_s', value: 2 }))).toMatchObject({ ok: true, plan: { write: { fc: 6, address: 1, value: 2 } } });
  });

  it('refuses, with a named code, what the device cannot take', () => {
    expect(refusal(command('lift-9', 'open_barrier'))).toBe('unknown_device');
    expect(refusal(command('door-1', 'open_barrier'))).toBe('action_not_supported');
    expect(refusal(command('gate-1', 'unlock_door'))).toBe('action_not_supported');
    expect(refusal(command('door-east', 'write_register', { point: 'door_open', value: true }))).toBe('action_not_supported');
    expect(refusal(command('dlt-1', 'write_register', { point: 'energy_import_kwh', value: 0 }))).toBe('action_not_supported');
    expect(refusal(command('meter-1', 'write_register', { point: 'energy_import_kwh', value: 0 }))).toBe('not_writable');
    expect(refusal(command('gate-1', 'write_register', { point: 'barrier_open', value: true }))).toBe('not_writable');
    expect(refusal(command('gate-1', 'write_register', { point: 'floor', value: 3 }))).toBe('unknown_point');
    expect(refusal(command('door-1', 'write_register', { point: 'unlock_s', value: true }))).toBe('invalid_value');
    expect(refusal(command('door-1', 'write_register', { point: 'unlock_s', value: 70_000 }))).toBe('value_out_of_range');
    expect(refusal(command('door-1', 'write_register', { point: 'unlock_s', value: 2.5 }))).toBe('value_out_of_range');
    expect(refusal(command('door-1', 'unlock_door', { seconds: 0 }))).toBe('invalid_value');
    expect(refusal(command('gate-1', 'open_barrier', { force: true }))).toBe('invalid_value');
  });

  it('names the parameter at fault', () => {
    const planned = plan(command('door-1', 'unlock_door', { seconds: 'ten' }));
    expect(planned.ok ? '' : planned.error.message).toMatch(/^params\.seconds: /);
  });
});

interface Rig {
  executor: CommandExecutor;
  outbox: Outbox;
  results: CommandResultPayload[];
  writes: ModbusWrite[];
  unlocks: Array<[string, number]>;
}

function rig(dir: string, bus?: EventBus, now: () => number = () => NOW + 50): Rig {
  const outbox = Outbox.open({ dir, quotaBytes: 1e9 });
  closers.push(() => outbox.close());
  const results: CommandResultPayload[] = [];
  const writes: ModbusWrite[] = [];
  const unlocks: Array<[string, number]> = [];
  const recording: EventBus = {
    enqueue: (_unit, job) => job({ read: async () => ({ ok: true, value: [] }), write: async (write) => (writes.push(write), { ok: true, value: undefined }) }),
  };
  const executor = new CommandExecutor({
    targetOf: (device) => TARGETS[device],
    busOf: () => bus ?? recording,
    unlockDoor: (device, seconds) => unlocks.push([device, seconds]),
    store: outbox,
    publish: async (result, state) => {
      await outbox.append('events', () => JSON.stringify(result), { channel: 'cmd/result', ...(state ? { state } : {}) });
      results.push(result);
    },
    log: silent,
    now,
  });
  return { executor, outbox, results, writes, unlocks };
}

const send = (executor: CommandExecutor, payload: unknown) => executor.handle(JSON.stringify(payload));

describe('executing commands', () => {
  it('writes, answers ok through the outbox, and keeps the result for the id', async () => {
    const { executor, outbox, results, writes } = rig(dirs.make());
    const cmd = command('gate-1', 'open_barrier');
    const result = await send(executor, cmd);
    expect(result).toEqual({ v: 1, id: cmd.id, ts: NOW + 50, status: 'ok', data: { device: 'gate-1', action: 'open_barrier', point: 'open_command', value: true } });
    expect(writes).toEqual([{ fc: 5, address: 0, value: true }]);
    expect(results).toEqual([result]);
    expect(outbox.sendable('events')?.channel).toBe('cmd/result');
    expect(outbox.getState(commandKey(cmd.id))).toMatchObject({ status: 'ok' });
  });

  it('answers a repeated id with duplicate and the first result, without running it again, across a restart', async () => {
    const dir = dirs.make();
    const first = rig(dir);
    const cmd = command('door-east', 'unlock_door', { seconds: 4 });
    const [a, b] = await Promise.all([send(first.executor, cmd), send(first.executor, cmd)]);
    expect(a?.status).toBe('ok');
    expect(b).toMatchObject({ status: 'duplicate', error: { code: 'duplicate_id' }, data: { first: { status: 'ok' } } });
    expect(first.unlocks).toEqual([['door-east', 4]]);
    await first.outbox.close();
    closers.pop();

    const second = rig(dir);
    const again = await send(second.executor, cmd);
    expect(again).toMatchObject({ status: 'duplicate', error: { code: 'duplicate_id' }, data: { first: { status: 'ok', data: { seconds: 4 } } } });
    expect(second.unlocks).toEqual([]);
  });

  it('says the outcome is unknown for an id whose execution a restart cut short', async () => {
    const dir = dirs.make();
    const first = rig(dir);
    const cmd = command('gate-1', 'open_barrier');
    await first.outbox.putState({ [commandKey(cmd.id)]: { status: 'started', received: NOW } });
    const result = await send(first.executor, cmd);
    expect(result).toMatchObject({ status: 'duplicate', error: { code: 'outcome_unknown' }, data: { first: { status: 'started' } } });
    expect(first.writes).toEqual([]);
  });

  it('refuses an unknown device, a point that is not writable and a bad payload with named codes', async () => {
    const { executor, writes } = rig(dirs.make());
    expect(await send(executor, command('lift-9', 'open_barrier'))).toMatchObject({ status: 'rejected', error: { code: 'unknown_device' } });
    expect(await send(executor, command('gate-1', 'write_register', { point: 'fault_code', value: 0 }))).toMatchObject({
      status: 'rejected',
      error: { code: 'not_writable' },
    });
    const invalid = await send(executor, { v: 1, id: 'bad-command-1', device: 'gate-1', action: 'launch' });
    expect(invalid).toMatchObject({ status: 'rejected', error: { code: 'invalid_command' } });
    expect(invalid?.error?.message).toMatch(/ts: .*action: /);
    expect(await executor.handle('not json')).toBeUndefined();
    expect(executor.counters).toMatchObject({ rejected: 3, unanswerable: 1 });
    expect(writes).toEqual([]);
  });

  it('does not execute a command that arrives after its timeout', async () => {
    const { executor, writes } = rig(dirs.make(), undefined, () => NOW + 60_000);
    expect(await send(executor, command('gate-1', 'open_barrier'))).toMatchObject({ status: 'timeout', error: { code: 'expired' } });
    expect(writes).toEqual([]);
  });

  it('times out when the bus does not get to the write in time, and never writes late', async () => {
    let release: (() => void) | undefined;
    const writes: ModbusWrite[] = [];
    const slowBus: EventBus = {
      enqueue: (_unit, job) =>
        new Promise((resolve, reject) => {
          release = () => void job({ read: async () => ({ ok: true, value: [] }), write: async (write) => (writes.push(write), { ok: true, value: undefined }) }).then(resolve, reject);
        }),
    };
    const { executor } = rig(dirs.make(), slowBus, Date.now);
    const result = await send(executor, command('gate-1', 'open_barrier', {}, { ts: Date.now(), timeout_ms: 100 }));
    expect(result).toMatchObject({ status: 'timeout', error: { code: 'timeout', message: expect.stringContaining('not sent') as unknown } });
    release?.();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(writes).toEqual([]);
  });

  it('reports a refusal by the device as failed', async () => {
    const refusing: EventBus = {
      enqueue: (_unit, job) =>
        job({ read: async () => ({ ok: true, value: [] }), write: async () => ({ ok: false, failure: { kind: 'exception', exception: 2, message: 'illegal data address' } }) }),
    };
    const { executor } = rig(dirs.make(), refusing);
    expect(await send(executor, command('door-1', 'unlock_door'))).toMatchObject({ status: 'failed', error: { code: 'device_exception', message: 'door-1 unlock_s: illegal data address' } });
  });

  it('forgets ids past their retention', async () => {
    const dir = dirs.make();
    const outbox = Outbox.open({ dir, quotaBytes: 1e9 });
    closers.push(() => outbox.close());
    await outbox.putState({ [commandKey('old-command')]: { status: 'ok', received: NOW - 8 * 86_400_000, ts: NOW }, [commandKey('new-command')]: { status: 'ok', received: NOW, ts: NOW } });
    const executor = new CommandExecutor({ targetOf: () => undefined, busOf: () => undefined, unlockDoor: () => undefined, store: outbox, publish: async () => undefined, log: silent, now: () => NOW });
    expect(await executor.prune()).toBe(1);
    expect(outbox.getState(commandKey('old-command'))).toBeUndefined();
    expect(outbox.getState(commandKey('new-command'))).toBeDefined();
  });
});

describe('a command against a simulated barrier gate', () => {
  it('raises the arm', async () => {
    const { sim, port, clock } = await simulatorOf('reference-barrier-gate', [5]);
    const client = new ModbusClient({ transport: { kind: 'tcp', host: '127.0.0.1', port }, timeoutMs: 500 });
    closers.push(() => sim.stop(), () => client.close());
    const { executor } = rig(dirs.make(), directBus(client), Date.now);
    const result = await send(executor, command('gate-1', 'open_barrier', {}, { ts: Date.now() }));
    expect(result?.status).toBe('ok');
    sim.tick(); // the controller's scan takes the command
    expect(sim.values(5)).toMatchObject({ barrier_open: false, open_command: false });
    clock.now += 2_000; // the arm takes 1.5 s to rise
    sim.tick();
    expect(sim.values(5)).toMatchObject({ barrier_open: true });
  });
});
