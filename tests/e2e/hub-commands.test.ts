import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { eventually, type Proc } from '../support/processes.js';
import { startAgent, startDeviceSim, valuesOf } from './site-support.js';

const GATE = 'tower-a.gw-gate.gate-in';

interface CommandView {
  id: string;
  status: string;
  error: { code: string; message: string } | null;
  data: Record<string, unknown> | null;
}

/**
 * Commands as people send them: through the hub's API, over the embedded broker to an enrolled
 * agent, into a simulated barrier gate, and back with the gateway's result, which the hub keeps
 * by command id. Plate reads pushed to the same agent reach the hub's event log.
 */
describe('commands from the hub to a device and back', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hub-commands-'));
  let hub: TestHub;
  let gate: Awaited<ReturnType<typeof startDeviceSim>>;
  let agent: Proc | undefined;
  let config: string;
  let lprUrl: string;

  const post = (path: string, body: unknown) =>
    fetch(`${hub.httpUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${hub.session}` },
      body: JSON.stringify(body),
    });
  const send = async (body: Record<string, unknown>, device = GATE) => post(`/api/v1/devices/${device}/commands`, body);
  /** Sends a command and waits until the hub has settled it. */
  const settled = async (body: Record<string, unknown>, device = GATE): Promise<CommandView> => {
    const response = await send(body, device);
    expect(response.status).toBe(202);
    const { command } = (await response.json()) as { command: CommandView };
    expect(command.status).toBe('pending');
    return eventually(async () => {
      const view = ((await (await hub.api(`/api/v1/devices/${device}/commands/${command.id}`)).json()) as { command: CommandView }).command;
      return view.status === 'pending' ? undefined : view;
    }, `the result of command ${command.id}`, 20_000);
  };
  const startSiteAgent = async () => {
    agent = startAgent(config);
    lprUrl = String((await agent.waitForLog('agent started')).lpr_url);
    await agent.waitForLog('taking commands');
  };

  beforeAll(async () => {
    hub = await startTestHub(join(dir, 'hub'));
    gate = await startDeviceSim('reference-barrier-gate', [5]);
    const { file } = await hub.enrolGateway('tower-a', 'gw-gate');
    config = join(dir, 'gw-gate.yaml');
    writeFileSync(
      config,
      [
        'site: tower-a',
        'gateway: gw-gate',
        `data_dir: ${join(dir, 'gw-gate')}`,
        `uplink: { url: "${hub.mqttUrl}", credentials_file: "${file}", reconnect_max_ms: 500 }`,
        'lpr: { port: 0, cameras: [cam-north-in] }',
        'gpio:',
        '  driver: simulated',
        '  doors: [{ device: door-side, contact: { line: 17 }, lock_relay: { line: 22 } }]',
        'buses:',
        `  - { id: car-park, transport: tcp, host: 127.0.0.1, port: ${gate.port}, timeout_ms: 500 }`,
        'devices:',
        '  - { id: gate-in, bus: car-park, unit: 5, profile: reference-barrier-gate, poll_interval_ms: 500 }',
      ].join('\n'),
    );
    await startSiteAgent();
    // The hub knows the gate once the agent's inventory has arrived.
    await eventually(async () => ((await hub.api(`/api/v1/devices/${GATE}/latest`)).ok ? true : undefined), 'the gate known to the hub');
  });

  afterAll(async () => {
    await agent?.stop();
    await gate?.proc.stop();
    await hub?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('opens the barrier: the command reaches the gate and the hub records its result', async () => {
    const command = await settled({ action: 'open_barrier' });
    expect(command).toMatchObject({ status: 'ok', error: null, data: { point: 'open_command', value: true } });
    await eventually(async () => ((await valuesOf(gate.control, 5)).barrier_open === true ? true : undefined), 'the arm up');
    const audit = (await (await hub.api('/api/v1/audit?action=device.command')).json()) as { entries: Array<{ actor: string; target: string; after: Record<string, unknown> }> };
    expect(audit.entries[0]).toMatchObject({ actor: 'admin', target: GATE, after: { id: command.id, action: 'open_barrier', result: 'sent' } });
  });

  it("unlocks a door on the gateway's own relay, which the hub knows from the gateway's inventory", async () => {
    const devices = (await (await hub.api('/api/v1/sites/tower-a/devices')).json()) as { devices: Array<{ id: string; kind: string | null }> };
    expect(devices.devices).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ id: 'tower-a.gw-gate.door-side', kind: 'access_controller' }),
        expect.objectContaining({ id: 'tower-a.gw-gate.cam-north-in', kind: 'lpr_camera' }),
      ]),
    );
    const command = await settled({ action: 'unlock_door', params: { seconds: 3 } }, 'tower-a.gw-gate.door-side');
    expect(command).toMatchObject({ status: 'ok', data: { seconds: 3 } });
  });

  it('answers what cannot be done with a clear result: not writable, wrong kind, unknown device, a repeated id', async () => {
    expect(await settled({ action: 'write_register', params: { point: 'fault_code', value: 0 } })).toMatchObject({
      status: 'rejected',
      error: { code: 'not_writable' },
    });

    const wrongKind = await send({ action: 'unlock_door', params: { seconds: 5 } });
    expect(wrongKind.status).toBe(400);
    expect(await wrongKind.json()).toMatchObject({ error: { code: 'action_not_supported', fields: [{ field: 'body.action' }] } });

    const unknown = await send({ action: 'open_barrier' }, 'tower-a.gw-gate.gate-9');
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'device_not_found' } });

    const id = randomUUID();
    expect((await settled({ id, action: 'open_barrier' })).status).toBe('ok');
    const again = await send({ id, action: 'open_barrier' });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ error: { code: 'duplicate_command_id', message: expect.stringContaining('ok') as unknown } });

    const bad = await send({ action: 'open_barrier', timeout_ms: 'soon' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { fields: [{ field: 'body.timeout_ms' }] } });
  });

  it('keeps plate reads pushed to the agent as events, once each', async () => {
    const plate = `粤B${String(Date.now()).slice(-5)}`;
    const pushed = await fetch(`${lprUrl}/lpr/plates`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ camera: 'cam-north-in', plate, colour: 'blue', confidence: 0.97, lane: 1, direction: 'in' }),
    });
    expect(pushed.status).toBe(200);
    const events = await eventually(async () => {
      const body = (await (await hub.api('/api/v1/events?type=plate.read')).json()) as { events: Array<{ device: string; data: Record<string, unknown> }> };
      const ours = body.events.filter((event) => event.data.plate === plate);
      return ours.length > 0 ? ours : undefined;
    }, 'the plate read at the hub');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ device: 'tower-a.gw-gate.cam-north-in', data: { colour: 'blue', lane: 1, direction: 'in' } });
    const ofCamera = (await (await hub.api('/api/v1/devices/tower-a.gw-gate.cam-north-in/events')).json()) as { events: unknown[] };
    expect(ofCamera.events).toHaveLength(events.length);
  });

  it('settles a command as timeout when its gateway is gone, and takes the next one when it is back', async () => {
    await agent?.stop();
    agent = undefined;
    const lost = await settled({ action: 'open_barrier', timeout_ms: 1000 });
    expect(lost).toMatchObject({ status: 'timeout', error: { code: 'no_result' } });
    await startSiteAgent();
    expect((await settled({ action: 'open_barrier' })).status).toBe('ok');
  });
});
