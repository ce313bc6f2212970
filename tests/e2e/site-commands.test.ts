import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandResultPayload } from '@gatehouse/protocols';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { eventually, type Proc } from '../support/processes.js';
import { HubSide, startAgent, startDeviceSim, valuesOf, writeAgentConfig } from './site-support.js';

/**
 * The hub's commands travel broker → agent → simulated device, and their results come back on
 * `…/cmd/result`; plate reads pushed to the agent over HTTP reach the broker as plate.read events.
 * The hub's side is played by a test client (the hub itself does not send commands yet).
 */
describe('commands and plate reads through a running agent', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-commands-'));
  let broker: Mosquitto;
  let gate: Awaited<ReturnType<typeof startDeviceSim>>;
  let door: Awaited<ReturnType<typeof startDeviceSim>>;
  let hub: HubSide;
  let agent: Proc;
  let config: string;
  let lprUrl: string;

  const start = async () => {
    agent = startAgent(config);
    lprUrl = String((await agent.waitForLog('agent started')).lpr_url);
    // The session is clean: a command sent before the agent's subscription is granted is not kept.
    await agent.waitForLog('taking commands');
  };

  beforeAll(async () => {
    broker = await startMosquitto();
    [gate, door] = await Promise.all([startDeviceSim('reference-barrier-gate', [5]), startDeviceSim('reference-door-controller', [11])]);
    hub = await HubSide.connect(broker.url, 'tower-a', 'gw-site');
    config = writeAgentConfig(dir, 'gw-site', broker.url, [
      'lpr: { port: 0, cameras: [cam-north-in] }',
      'gpio:',
      '  driver: simulated',
      '  doors: [{ device: door-side, contact: { line: 17 }, lock_relay: { line: 22 } }]',
      'buses:',
      `  - { id: car-park, transport: tcp, host: 127.0.0.1, port: ${gate.port}, timeout_ms: 500 }`,
      `  - { id: security, transport: tcp, host: 127.0.0.1, port: ${door.port}, timeout_ms: 500 }`,
      'devices:',
      '  - { id: gate-in, bus: car-park, unit: 5, profile: reference-barrier-gate, poll_interval_ms: 500 }',
      '  - { id: door-lobby, bus: security, unit: 11, profile: reference-door-controller, poll_interval_ms: 1000 }',
    ]);
    await start();
  });

  afterAll(async () => {
    await agent?.stop();
    await hub?.close();
    await Promise.all([gate?.proc.stop(), door?.proc.stop()]);
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends a command as the hub would and waits for its (next) result. */
  async function command(device: string, action: string, params: Record<string, unknown> = {}, id = randomUUID()): Promise<CommandResultPayload> {
    const before = hub.results.filter((result) => result.id === id).length;
    await hub.command({ v: 1, id, ts: Date.now(), device, action, params, timeout_ms: 10_000 });
    return eventually(async () => hub.results.filter((result) => result.id === id)[before], `the result of ${action} ${device}`, 20_000);
  }

  it('opens a barrier: the command reaches the gate, and its result comes back', async () => {
    const result = await command('gate-in', 'open_barrier');
    expect(result).toMatchObject({ status: 'ok', data: { device: 'gate-in', action: 'open_barrier', point: 'open_command', value: true } });
    await eventually(async () => ((await valuesOf(gate.control, 5)).barrier_open === true ? true : undefined), 'the arm up');
  });

  it('unlocks a door for N seconds, on a controller and on the gateway’s own relay', async () => {
    expect(await command('door-lobby', 'unlock_door', { seconds: 7 })).toMatchObject({ status: 'ok', data: { point: 'unlock_s', value: 7 } });
    // The simulator shows what was written at its next tick.
    await eventually(async () => (Number((await valuesOf(door.control, 11)).unlock_s) > 4 ? true : undefined), 'the lock released');
    expect(await command('door-side', 'unlock_door', { seconds: 3 })).toMatchObject({ status: 'ok', data: { seconds: 3 } });
  });

  it('answers an unknown device, a point that is not writable and a bad command with named errors', async () => {
    expect(await command('lift-9', 'open_barrier')).toMatchObject({ status: 'rejected', error: { code: 'unknown_device' } });
    expect(await command('gate-in', 'write_register', { point: 'fault_code', value: 0 })).toMatchObject({
      status: 'rejected',
      error: { code: 'not_writable' },
    });
    expect(await command('door-lobby', 'open_barrier')).toMatchObject({ status: 'rejected', error: { code: 'action_not_supported' } });
    const id = randomUUID();
    await hub.command({ v: 1, id, device: 'gate-in', action: 'open_barrier' });
    const invalid = await eventually(async () => hub.results.find((result) => result.id === id), 'the invalid command result');
    expect(invalid).toMatchObject({ status: 'rejected', error: { code: 'invalid_command', message: expect.stringContaining('ts') as unknown } });
  });

  it('executes an id once: a repeat gets duplicate with the first result, also after a kill -9 of the agent', async () => {
    const id = randomUUID();
    const first = await command('gate-in', 'open_barrier', {}, id);
    expect(first.status).toBe('ok');
    expect(await command('gate-in', 'open_barrier', {}, id)).toMatchObject({
      status: 'duplicate',
      error: { code: 'duplicate_id' },
      data: { first: { status: 'ok' } },
    });
    agent.child.kill('SIGKILL');
    await agent.exited;
    await start();
    expect(await command('gate-in', 'open_barrier', {}, id)).toMatchObject({ status: 'duplicate', data: { first: { status: 'ok', ts: first.ts } } });
    expect(hub.invalid).toEqual([]);
  });

  it('turns plate reads pushed over HTTP into plate.read events, and refuses a bad one naming the field', async () => {
    const post = (path: string, body: string, type: string) => fetch(`${lprUrl}${path}`, { method: 'POST', body, headers: { 'content-type': type } });
    const generic = await post('/lpr/plates', JSON.stringify({ camera: 'cam-north-in', plate: '粤B12345', colour: 'blue', confidence: 0.96, lane: 1, direction: 'in' }), 'application/json');
    expect(generic.status).toBe(200);
    const xml = `<EventNotificationAlert version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema"><ipAddress>192.168.1.64</ipAddress>
      <dateTime>${new Date().toISOString()}</dateTime><activePostCount>1</activePostCount><eventType>ANPR</eventType><eventState>active</eventState>
      <ANPR><licensePlate>粤B67890</licensePlate><line>2</line><direction>forward</direction><confidenceLevel>88</confidenceLevel><plateColor>yellow</plateColor></ANPR>
      </EventNotificationAlert>`;
    expect((await post('/lpr/hikvision/cam-north-in', xml, 'application/xml')).status).toBe(200);
    const bad = await post('/lpr/plates', JSON.stringify({ camera: 'cam-north-in', plate: 'A1', confidence: 'high' }), 'application/json');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { issues: [{ path: 'confidence' }] } });

    const plates = await eventually(async () => {
      const reads = hub.events.filter((event) => event.type === 'plate.read');
      return reads.length >= 2 ? reads : undefined;
    }, 'two plate.read events');
    expect(plates.map((event) => [event.device, event.data.plate, event.data.colour, event.data.lane, event.data.direction])).toEqual([
      ['cam-north-in', '粤B12345', 'blue', 1, 'in'],
      ['cam-north-in', '粤B67890', 'yellow', 2, 'in'],
    ]);
    // The agent's log reaches its stdout a moment after the answer: wait for it, then count.
    await agent.waitForLine((line) => (line.includes('plate read refused') ? true : undefined));
    expect(agent.logs().filter((line) => String(line.msg).startsWith('plate read refused'))).toHaveLength(1);
  });
});
