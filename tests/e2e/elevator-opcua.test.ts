import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestHub, type TestHub } from '../support/hub.js';
import { EDGE_CLI, SIM_CLI } from '../support/paths.js';
import { eventually, freePort, startNode, type Proc } from '../support/processes.js';

/**
 * Lifts over OPC UA, end to end: the simulated lift controller (an OPC UA server, node-opcua) →
 * the agent's subscription (monitored items; nothing is polled) → MQTT → the hub. A change made
 * in the controller is timed from the moment it is made to its arrival at the hub's live feed;
 * then the controller's process is killed and started again on the same port, and the agent —
 * the same process — comes back to it by itself.
 */

interface LiveReading {
  device: string;
  point: string;
  value: unknown;
  quality: string;
  ts: number;
}

interface LatestBody {
  kind: string | null;
  readings: Array<{ point: string; value: unknown; unit: string | null; quality: string }>;
}

const SITE = 'tower-a';
const GATEWAY = 'gw-lifts';
const hubId = (device: string) => `${SITE}.${GATEWAY}.${device}`;
/** What the Done-when line asks: a change reaches the hub within one second. */
const WITHIN_MS = 1000;

describe('lift controller over OPC UA → gatehouse-edge (subscription) → hub', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-opcua-e2e-'));
  const simPki = join(dataDir, 'simulator-pki');
  let hub: TestHub;
  let sim: Proc;
  let agent: Proc;
  let opcuaPort: number;
  let controlUrl: string;
  let socket: WebSocket;
  /** Every reading the live feed pushed, with when it arrived here. */
  const arrived: Array<{ at: number; reading: LiveReading }> = [];
  const latencies: Array<{ change: string; edgeMs: number; hubMs: number }> = [];
  /** After the controller's restart: from its "ready" to the first good value at the hub. */
  let recoveryMs: number | undefined;

  const api = (path: string) => hub.api(path);

  /** Starts the OPC UA lift controller with two cars, frozen but for what the test tells it. */
  async function startController(): Promise<void> {
    sim = startNode('opcua-simulator', SIM_CLI, [
      'device',
      '--model',
      'reference-elevator-opcua',
      '--port',
      String(opcuaPort),
      '--units',
      '1,2',
      '--hold',
      '--control-port',
      '0',
      '--pki',
      simPki,
    ]);
    const ready = await sim.waitForLog('simulator ready');
    expect(ready).toMatchObject({ protocol: 'opcua', endpoint_url: `opc.tcp://127.0.0.1:${opcuaPort}`, nodes: ['Lifts/Car1', 'Lifts/Car2'] });
    controlUrl = `http://127.0.0.1:${String(ready.control_port)}`;
  }

  /** Makes a change in the controller and times it to the live feed; returns when it has arrived. */
  async function timed(change: string, car: number, action: string, args: object, device: string, point: string, value: unknown) {
    const from = arrived.length;
    const madeAt = Date.now();
    const response = await fetch(`${controlUrl}/units/${car}/${action}`, { method: 'POST', body: JSON.stringify(args) });
    expect(response.status).toBe(200);
    const hit = await eventually(
      async () => arrived.slice(from).find(({ reading }) => reading.device === hubId(device) && reading.point === point && reading.value === value),
      `${device} ${point} = ${String(value)} on the live feed`,
      10_000,
    );
    latencies.push({ change, edgeMs: hit.reading.ts - madeAt, hubMs: hit.at - madeAt });
    return hit;
  }

  beforeAll(async () => {
    // As in the walking skeleton: the administrator creates the gateway, the installer enrols it.
    hub = await startTestHub(dataDir);
    const enrolled = await hub.enrolGateway(SITE, GATEWAY);

    opcuaPort = await freePort();
    await startController();

    socket = new WebSocket(`${hub.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${hub.session}` } });
    socket.on('message', (data: Buffer) => {
      const at = Date.now();
      const message = JSON.parse(data.toString('utf8')) as { type: string; readings?: LiveReading[] };
      for (const reading of message.readings ?? []) arrived.push({ at, reading });
    });
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    const config = join(dataDir, 'edge.yaml');
    writeFileSync(
      config,
      [
        `site: ${SITE}`,
        `gateway: ${GATEWAY}`,
        `data_dir: ${join(dataDir, 'edge')}`,
        `uplink: { url: "${enrolled.credentials.mqtt.url}", credentials_file: "${enrolled.file}" }`,
        'metrics: { port: 0 }',
        'buses:',
        `  - { id: lift-controller, transport: opcua, endpoint: "opc.tcp://127.0.0.1:${opcuaPort}", reconnect_max_ms: 1000 }`,
        'devices:',
        '  - { id: lift-1, bus: lift-controller, node: Lifts/Car1, profile: reference-elevator-opcua }',
        '  - { id: lift-2, bus: lift-controller, node: Lifts/Car2, profile: reference-elevator-opcua }',
      ].join('\n'),
    );
    agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
    await agent.waitForLog('agent started');
  });

  afterAll(async () => {
    socket?.close();
    await Promise.all([agent?.stop(), sim?.stop()]);
    await hub?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (latencies.length > 0) {
      // The measured figures, for the record (CI output and the report).
      process.stdout.write(`opcua change → hub latencies: ${JSON.stringify(latencies)}; controller ready → values at the hub again: ${recoveryMs} ms\n`);
    }
  });

  it('serves every point of both cars from GET /api/v1/devices/:id/latest', async () => {
    for (const device of ['lift-1', 'lift-2']) {
      const latest = await eventually(async () => {
        const response = await api(`/api/v1/devices/${hubId(device)}/latest`);
        if (response.status !== 200) return undefined;
        const body = (await response.json()) as LatestBody;
        return body.readings.length >= 7 ? body : undefined;
      }, `${device}'s readings in the hub`);
      expect(latest.kind).toBe('elevator');
      expect(Object.fromEntries(latest.readings.map((reading) => [reading.point, reading.value]))).toEqual({
        floor: 0,
        direction: 'stopped',
        moving: false,
        door_open: false,
        in_service: true,
        fault_code: 0,
        passenger_trapped: false,
      });
      expect(latest.readings.every((reading) => reading.quality === 'good')).toBe(true);
    }
    expect(agent.logs().find((line) => line.msg === 'opcua subscription created')).toMatchObject({ monitored_items: 14, unresolved: 0 });
  });

  it('brings a change in the controller to the hub within a second, without polling', async () => {
    await timed('car 1 called to floor 7', 1, 'call', { floor: 7 }, 'lift-1', 'direction', 'up');
    await timed('a passenger trapped in car 2', 2, 'trap', {}, 'lift-2', 'passenger_trapped', true);
    await timed('car 1 faulted', 1, 'fault', { code: 21 }, 'lift-1', 'fault_code', 21);
    await timed('car 2 rescue under way', 2, 'release', {}, 'lift-2', 'moving', true);
    await timed('car 1 fault cleared', 1, 'clear', {}, 'lift-1', 'fault_code', 0);
    for (const { change, hubMs } of latencies) expect(hubMs, change).toBeLessThan(WITHIN_MS);
    // Subscribed, not polled: the controller created the agent's 14 monitored items and was never
    // asked to read a variable.
    expect(sim.logs().filter((line) => line.msg === 'opcua monitored items created').map((line) => line.monitored_items)).toEqual([14]);
    expect(sim.logs().filter((line) => line.msg === 'opcua variables read')).toEqual([]);

    // The hub's latest has it too.
    const latest = (await (await api(`/api/v1/devices/${hubId('lift-2')}/latest`)).json()) as LatestBody;
    expect(latest.readings.find((reading) => reading.point === 'passenger_trapped')).toMatchObject({ value: true, quality: 'good' });
  });

  it('comes back by itself to a controller killed and started again on the same port', async () => {
    const agentPid = agent.child.pid;
    await sim.stop('SIGKILL');
    // The agent notices at once: the cars go offline with the reason, their points bad.
    const offline = await eventually(async () => {
      const { devices } = (await (await api('/api/v1/devices')).json()) as { devices: Array<{ id: string; comm: { status: string; reason: string | null } }> };
      const car = devices.find((device) => device.id === hubId('lift-1'));
      return car?.comm.status === 'offline' ? car : undefined;
    }, 'lift-1 offline in the hub');
    expect(offline.comm.reason).toMatch(/connection to opc\.tcp:\/\/127\.0\.0\.1:\d+ lost|cannot connect/);
    await eventually(async () => {
      const latest = (await (await api(`/api/v1/devices/${hubId('lift-1')}/latest`)).json()) as LatestBody;
      return latest.readings.every((reading) => reading.quality === 'bad' && reading.value === null) ? true : undefined;
    }, 'every point of lift-1 marked bad');

    const sinceRestart = arrived.length;
    await startController();
    const readyAt = Date.now();
    // A fresh controller: its cars are at floor 0 again; then a passenger is trapped in car 1.
    const back = await eventually(
      async () =>
        arrived
          .slice(sinceRestart)
          .find(({ reading }) => reading.device === hubId('lift-1') && reading.point === 'floor' && reading.quality === 'good' && reading.value === 0),
      'lift-1 back with good values',
    );
    recoveryMs = back.at - readyAt;
    await timed('a passenger trapped in car 1, after the restart', 1, 'trap', {}, 'lift-1', 'passenger_trapped', true);
    expect(latencies.at(-1)!.hubMs).toBeLessThan(WITHIN_MS);
    const { devices } = (await (await api('/api/v1/devices')).json()) as { devices: Array<{ id: string; comm: { status: string } }> };
    expect(devices.find((device) => device.id === hubId('lift-1'))?.comm.status).toBe('online');
    // The same agent process all along.
    expect(agent.child.exitCode).toBeNull();
    expect(agent.child.pid).toBe(agentPid);
    expect(agent.logs().some((line) => line.msg === 'opcua connection restored')).toBe(true);
  });
});
