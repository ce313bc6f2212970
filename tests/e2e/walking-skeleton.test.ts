import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { ModbusRTU as ModbusRTUClass } from 'modbus-serial/ModbusRTU.js';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EDGE_CLI, HUB_CLI, SIM_CLI } from '../support/paths.js';
import { eventually, freePort, startNode, type Proc } from '../support/processes.js';

// modbus-serial is CommonJS; this test reads the simulator's raw registers with it, as a client
// that is not ours, to check the simulator's encoding independently of our codec.
const ModbusRTU = createRequire(import.meta.url)('modbus-serial') as typeof ModbusRTUClass;

interface LatestBody {
  device: string;
  kind: string | null;
  readings: Array<{ point: string; value: unknown; unit: string | null; quality: string; ts: number }>;
}

const DEVICE_ID = 'tower-a.gw-e2e.meter-main';

/** The values the simulator holds, and what the profile stores them as (worked out by hand). */
const PINNED = {
  voltage_l1_v: 231.7, // float32 0x4367B333, low word first
  current_l2_a: 12.25, // float32 0x41440000
  active_power_kw: 18.432, // int32 18432 W
  power_factor: 0.938, // int16 938 thousandths
  frequency_hz: 49.97, // uint16 4997 hundredths of a hertz
  energy_import_kwh: 45_678.91, // uint32 4567891 hundredths of a kWh, low word first
};

describe('walking skeleton: simulated meter → edge agent → hub → API and live feed', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-e2e-'));
  let hub: Proc;
  let sim: Proc;
  let agent: Proc;
  let httpUrl: string;
  let mqttUrl: string;
  let simPort: number;
  const live: Array<{ type: string; readings?: Array<{ device: string; point: string; value: unknown }> }> = [];
  let socket: WebSocket;
  const ADMIN_PASSWORD = 'walking skeleton admin';
  let session: string;
  let credentialsFile: string;
  let credentials: { site: string; gateway: string; mqtt: { url: string; username: string; password: string } };
  /** The API as the administrator. */
  const api = (path: string) => fetch(`${httpUrl}${path}`, { headers: { authorization: `Bearer ${session}` } });

  beforeAll(async () => {
    const [httpPort, mqttPort] = [await freePort(), await freePort()];
    hub = startNode('hub', HUB_CLI, [], {
      GATEHOUSE_HTTP_PORT: String(httpPort),
      GATEHOUSE_MQTT_PORT: String(mqttPort),
      GATEHOUSE_DATA_DIR: dataDir,
      GATEHOUSE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    });
    const ready = await hub.waitForLog('hub ready');
    httpUrl = String(ready.http_url);
    mqttUrl = String(ready.mqtt_url);

    // The administrator creates the gateway; the installer enrols it with the one-time token.
    const login = await fetch(`${httpUrl}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
    });
    session = ((await login.json()) as { token: string }).token;
    const created = await fetch(`${httpUrl}/api/v1/sites/tower-a/gateways`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
      body: JSON.stringify({ gateway: 'gw-e2e' }),
    });
    const { enrolment_token: token } = (await created.json()) as { enrolment_token: string };
    credentialsFile = join(dataDir, 'gateway-credentials.json');
    execFileSync(process.execPath, [EDGE_CLI, 'enroll', '--hub', httpUrl, '--token', token, '--out', credentialsFile]);
    credentials = JSON.parse(readFileSync(credentialsFile, 'utf8')) as typeof credentials;

    simPort = await freePort();
    const pins = Object.entries(PINNED).flatMap(([point, value]) => ['--set', `${point}=${value}`]);
    sim = startNode('simulator', SIM_CLI, ['meter', '--port', String(simPort), '--units', '1', '--hold', ...pins]);
    await sim.waitForLog('simulator ready');

    socket = new WebSocket(`${httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${session}` } });
    socket.on('message', (data: Buffer) => live.push(JSON.parse(data.toString('utf8')) as (typeof live)[number]));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));

    const config = join(dataDir, 'edge.yaml');
    writeFileSync(
      config,
      [
        'site: tower-a',
        'gateway: gw-e2e',
        `data_dir: ${join(dataDir, 'edge')}`,
        `uplink: { url: "${credentials.mqtt.url}", username: "${credentials.mqtt.username}", password: "${credentials.mqtt.password}" }`,
        'metrics: { port: 0 }',
        `buses: [{ id: plant-room, transport: tcp, host: 127.0.0.1, port: ${simPort}, timeout_ms: 300 }]`,
        'devices:',
        '  - { id: meter-main, bus: plant-room, unit: 1, profile: reference-3ph-meter, poll_interval_ms: 500, offline_after_failures: 2 }',
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
  });

  it('enrols the gateway: its credentials are written with mode 0600, and the broker and API refuse strangers', async () => {
    expect(statSync(credentialsFile).mode & 0o777).toBe(0o600);
    expect(credentials).toMatchObject({ site: 'tower-a', gateway: 'gw-e2e', mqtt: { url: mqttUrl, username: 'tower-a.gw-e2e' } });
    await expect(mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 })).rejects.toThrow(/Bad username or password|Not authorized/i);
    expect((await fetch(`${httpUrl}/api/v1/devices`)).status).toBe(401);
  });

  it('the simulator holds the values in the registers its profile documents', async () => {
    const client = new ModbusRTU();
    await client.connectTCP('127.0.0.1', { port: simPort });
    client.setID(1);
    try {
      expect((await client.readHoldingRegisters(0x0000, 2)).data).toEqual([0xb333, 0x4367]);
      expect((await client.readHoldingRegisters(0x0008, 2)).data).toEqual([0x0000, 0x4144]);
      expect((await client.readHoldingRegisters(0x0010, 2)).data).toEqual([18432, 0]);
      expect((await client.readHoldingRegisters(0x0014, 1)).data).toEqual([938]);
      expect((await client.readHoldingRegisters(0x0020, 1)).data).toEqual([4997]);
      expect((await client.readHoldingRegisters(0x0100, 2)).data).toEqual([0xb353, 0x0045]);
    } finally {
      client.close(() => undefined);
    }
  });

  it('serves the decoded, scaled readings with their units from GET /api/v1/devices/:id/latest', async () => {
    const latest = await eventually(async () => {
      const response = await api(`/api/v1/devices/${DEVICE_ID}/latest`);
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as LatestBody;
      return body.readings.length >= 12 ? body : undefined;
    }, 'the meter’s readings in the hub');
    expect(latest.kind).toBe('electric_meter');
    const byPoint = Object.fromEntries(latest.readings.map((reading) => [reading.point, reading]));
    for (const [point, value] of Object.entries(PINNED)) {
      expect(byPoint[point], point).toMatchObject({ value, quality: 'good' });
    }
    expect(byPoint.voltage_l1_v?.unit).toBe('V');
    expect(byPoint.energy_import_kwh?.unit).toBe('kWh');
    expect(byPoint.active_power_kw?.unit).toBe('kW');
    expect(byPoint.frequency_hz?.unit).toBe('Hz');
  });

  it('lists the device with its kind, profile and an online gateway', async () => {
    const response = await api(`/api/v1/devices`);
    const { devices } = (await response.json()) as { devices: Array<Record<string, unknown>> };
    expect(devices).toContainEqual(
      expect.objectContaining({ id: DEVICE_ID, kind: 'electric_meter', profile: 'reference-3ph-meter', gateway_state: 'online' }),
    );
  });

  it('pushes the readings over /api/v1/live as they are stored', async () => {
    const pushed = await eventually(
      async () =>
        live
          .flatMap((message) => (message.type === 'readings' ? (message.readings ?? []) : []))
          .find((reading) => reading.device === DEVICE_ID && reading.point === 'energy_import_kwh'),
      'a live reading',
    );
    expect(pushed.value).toBe(PINNED.energy_import_kwh);
  });

  it('rejects and counts a malformed telemetry payload, and keeps running', async () => {
    const before = (await (await fetch(`${httpUrl}/api/v1/health`)).json()) as { ingestion: { rejected: number } };
    // The gateway's own credentials: a gateway sending garbage is refused by ingestion, not the broker.
    const client = await mqtt.connectAsync(mqttUrl, { username: credentials.mqtt.username, password: credentials.mqtt.password });
    await client.publishAsync('gatehouse/v1/tower-a/gw-e2e/telemetry', '{"v":1,"seq":"not a number","readings":[]}', { qos: 1 });
    await client.publishAsync('gatehouse/v1/tower-a/gw-e2e/telemetry', 'not json at all', { qos: 1 });
    await client.endAsync();
    const after = await eventually(async () => {
      const health = (await (await fetch(`${httpUrl}/api/v1/health`)).json()) as { status: string; ingestion: { rejected: number } };
      return health.ingestion.rejected >= before.ingestion.rejected + 2 ? health : undefined;
    }, 'the rejects to be counted');
    expect(after.status).toBe('ok');
    expect(hub.logs().filter((line) => line.msg === 'payload rejected').map((line) => line.reason)).toContainEqual(
      expect.stringContaining('seq'),
    );
    // Still ingesting: a reading newer than the rejects arrives.
    const since = Date.now();
    await eventually(async () => {
      const body = (await (await api(`/api/v1/devices/${DEVICE_ID}/latest`)).json()) as LatestBody;
      return body.readings.some((reading) => reading.ts > since) ? true : undefined;
    }, 'a reading after the rejects');
  });

  it('reports the meter offline, with the reason, when it stops answering', async () => {
    await sim.stop();
    const device = await eventually(async () => {
      const { devices } = (await (await api(`/api/v1/devices`)).json()) as {
        devices: Array<{ id: string; comm: { status: string; reason: string | null } }>;
      };
      return devices.find((d) => d.id === DEVICE_ID && d.comm.status === 'offline');
    }, 'the meter to be reported offline');
    expect(device.comm.reason).toMatch(/ECONNREFUSED|timeout|no answer/i);
    // The last good values are no longer true: every point is marked bad.
    await eventually(async () => {
      const latest = (await (await api(`/api/v1/devices/${DEVICE_ID}/latest`)).json()) as LatestBody;
      return latest.readings.every((reading) => reading.quality === 'bad' && reading.value === null) ? true : undefined;
    }, 'every point to be marked bad');
  });
});

describe('gatehouse-edge with a bad configuration', () => {
  it('exits non-zero and names the bad field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bad-config-'));
    const config = join(dir, 'edge.yaml');
    writeFileSync(
      config,
      [
        'site: tower-a',
        'gateway: gw-01',
        'uplink: { url: "mqtt://127.0.0.1:1" }',
        'buses: [{ id: plant-room, transport: tcp, host: 127.0.0.1 }]',
        'devices:',
        '  - { id: meter-1, bus: plant-room, unit: 300, profile: reference-3ph-meter }',
      ].join('\n'),
    );
    const agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
    const code = await agent.exited;
    rmSync(dir, { recursive: true, force: true });
    expect(code).toBe(2);
    expect(agent.stderr.join('\n')).toContain('devices[0].unit');
  });
});
