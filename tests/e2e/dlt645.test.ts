import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlt645, type Reading } from '@gatehouse/protocols';
import { builtInAnyProfile, startDlt645Simulator, startPtyPair, type Dlt645Profile, type Dlt645Simulator, type PtyPair } from '@gatehouse/devices';
import { Dlt645BusPoller, parseConfig, type Dlt645BusConfig, type PollSink } from '@gatehouse/edge';
import { capturedLogger } from '../support/log-capture.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { EDGE_CLI, SIM_CLI } from '../support/paths.js';
import { eventually, startNode, type Proc } from '../support/processes.js';

/**
 * DL/T 645-2007 end to end: simulated meters on one end of a socat serial pair at 2400 baud 8E1,
 * the agent's DL/T 645 master on the other, and what arrives is checked against what the
 * meters hold. (Linux ptys carry bytes, not parity; the parity is set on both ends all the same.)
 */
const PROFILE = builtInAnyProfile('chint-ddsu666-dlt645') as Dlt645Profile;
const FLAT_1201 = '000012345678';
const FLAT_1202 = '000012345679';

/** What each meter holds, and what the master must make of the BCD on the wire. */
const HELD = {
  [FLAT_1201]: {
    energy_import_kwh: 45678.91,
    energy_export_kwh: 12.04,
    voltage_l1_v: 227.6,
    current_l1_a: 10.42,
    active_power_kw: 2.2468,
    power_factor: 0.947,
    frequency_hz: 50.01,
  },
  [FLAT_1202]: {
    energy_import_kwh: 8.01,
    energy_export_kwh: 0,
    voltage_l1_v: 231.4,
    current_l1_a: 0.125,
    active_power_kw: -0.0275, // exporting: the sign bit of XX.XXXX
    power_factor: -0.99,
    frequency_hz: 49.98,
  },
} as const;

function edgeConfig(path: string, extra: string[] = []) {
  return parseConfig(
    [
      'site: tower-a',
      'gateway: gw-e2e',
      'uplink: { url: "mqtt://127.0.0.1:1" }',
      `buses: [{ id: riser-c, transport: dlt645, path: ${path}, timeout_ms: 700 }]`,
      'devices:',
      `  - { id: flat-1201, bus: riser-c, address: "${FLAT_1201}", profile: chint-ddsu666-dlt645, poll_interval_ms: 0 }`,
      `  - { id: flat-1202, bus: riser-c, address: "${FLAT_1202}", profile: chint-ddsu666-dlt645, poll_interval_ms: 0 }`,
      ...extra,
    ].join('\n'),
    'edge.yaml',
    {},
  );
}

describe("DL/T 645 meters on a socat serial pair, polled by the agent's DL/T 645 poller", () => {
  let pair: PtyPair;
  let simulator: Dlt645Simulator;
  let poller: Dlt645BusPoller;
  const readings: Reading[] = [];
  const offline: string[] = [];
  const capture = capturedLogger();

  beforeAll(async () => {
    pair = await startPtyPair();
    simulator = await startDlt645Simulator({
      path: pair.b,
      profile: PROFILE,
      meters: ([FLAT_1201, FLAT_1202] as const).map((address) => ({ address, fixed: HELD[address] })),
      hold: true,
    });
    const loaded = edgeConfig(pair.a);
    const sink: PollSink = {
      readings: (batch) => readings.push(...batch),
      commChanged: (device, change) => {
        if (change.to === 'offline') offline.push(device);
      },
    };
    poller = new Dlt645BusPoller({
      bus: loaded.config.buses[0] as Dlt645BusConfig,
      devices: loaded.config.devices.map((config) => ({ config, profile: PROFILE })),
      sink,
      log: capture.log,
    });
    poller.start();
  });

  afterAll(async () => {
    await poller?.stop();
    await simulator?.close();
    await pair?.close();
  });

  const latest = (device: string, since = 0) =>
    Object.fromEntries(readings.filter((r) => r.device === device && r.ts >= since).map((r) => [r.point, r]));

  it('decodes and scales every point of both meters as the meters hold them', async () => {
    await eventually(async () => (Object.keys(latest('flat-1202')).length === 7 ? true : undefined), 'a full cycle of both meters');
    for (const [device, address] of [['flat-1201', FLAT_1201], ['flat-1202', FLAT_1202]] as const) {
      const got = latest(device);
      for (const [point, value] of Object.entries(HELD[address])) {
        expect(got[point], `${device} ${point}`).toMatchObject({ value, quality: 'good' });
      }
    }
    expect(poller.commSnapshot('flat-1201')).toMatchObject({ status: 'online', total_errors: 0 });
  });

  it.each([
    ['a bad checksum', () => simulator.setFaults({ 1: { kind: 'crc', count: 1 } }), 1],
    ['a missing end byte', () => simulator.setFaults({ 1: { kind: 'truncate', count: 1 } }), 1],
    [
      'noise and a frame whose length byte lies',
      () => {
        const lying = dlt645.encodeFrame(dlt645.dataAnswer(FLAT_1201, 0x00010000, Buffer.from([0x99, 0x99, 0x99, 0x99])));
        lying[9] = 0x07; // says seven data bytes; eight follow
        simulator.injectBeforeNextAnswer(Buffer.concat([Buffer.from([0x00, 0x5a, 0xff]), lying]));
      },
      0,
    ],
  ] as const)('a malformed reply (%s) loses neither that meter nor the next meter’s reading', async (_what, inject, faulted) => {
    const before = simulator.stats();
    const since = Date.now();
    inject();
    await eventually(
      async () => (Object.keys(latest('flat-1201', since)).length === 7 && Object.keys(latest('flat-1202', since)).length === 7 ? true : undefined),
      'a full cycle of both meters after the malformed reply',
    );
    for (const [device, address] of [['flat-1201', FLAT_1201], ['flat-1202', FLAT_1202]] as const) {
      const got = latest(device, since);
      for (const [point, value] of Object.entries(HELD[address])) {
        expect(got[point], `${device} ${point}`).toMatchObject({ value, quality: 'good' });
      }
    }
    expect(readings.filter((r) => r.ts >= since && r.quality !== 'good')).toEqual([]);
    expect(offline).toEqual([]);
    expect(simulator.stats().faulted - before.faulted).toBe(faulted);
  });
});

describe('a point a meter does not have', () => {
  it('arrives bad, with the abnormal answer named in the log, and the meter stays online', async () => {
    const pair = await startPtyPair();
    const simulator = await startDlt645Simulator({ path: pair.b, profile: PROFILE, meters: [{ address: FLAT_1201, fixed: HELD[FLAT_1201] }], hold: true });
    // The agent's profile asks for phase B voltage, which a single-phase meter does not have.
    const agentProfile: Dlt645Profile = { ...PROFILE, points: [...PROFILE.points, { point: 'voltage_l2_v', di: '02010200', scale: 1 }] };
    const loaded = edgeConfig(pair.a);
    const readings: Reading[] = [];
    const capture = capturedLogger();
    const poller = new Dlt645BusPoller({
      bus: loaded.config.buses[0] as Dlt645BusConfig,
      devices: [{ config: loaded.config.devices[0]!, profile: agentProfile }],
      sink: { readings: (batch) => readings.push(...batch), commChanged: () => undefined },
      log: capture.log,
    });
    poller.start();
    try {
      await eventually(async () => (readings.some((r) => r.point === 'voltage_l2_v') ? true : undefined), 'the refused point');
      expect(readings.find((r) => r.point === 'voltage_l2_v')).toMatchObject({ value: null, quality: 'bad' });
      expect(readings.find((r) => r.point === 'voltage_l1_v')).toMatchObject({ value: 227.6, quality: 'good' });
      expect(capture.lines.find((line) => line.msg === 'meter answered with errors')).toMatchObject({
        device: 'flat-1201',
        problems: 'voltage_l2_v: no data requested (error byte 0x02)',
      });
      expect(poller.commSnapshot('flat-1201')).toMatchObject({ status: 'online' });
    } finally {
      await poller.stop();
      await simulator.close();
      await pair.close();
    }
  });
});

interface LatestBody {
  kind: string | null;
  readings: Array<{ point: string; value: unknown; unit: string | null; quality: string }>;
}

describe('gatehouse-sim dlt645 → gatehouse-edge → hub', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-dlt645-'));
  let pair: PtyPair;
  let hub: TestHub;
  let sim: Proc;
  let agent: Proc;

  beforeAll(async () => {
    pair = await startPtyPair();
    hub = await startTestHub(dataDir);
    const enrolled = await hub.enrolGateway('tower-a', 'gw-dlt645');
    const pins = Object.entries(HELD[FLAT_1201]).flatMap(([point, value]) => ['--set', `${point}=${value}`]);
    sim = startNode('simulator', SIM_CLI, ['dlt645', '--serial', pair.b, '--addresses', `${FLAT_1201},${FLAT_1202}`, '--hold', ...pins]);
    await sim.waitForLog('simulator ready');
    const config = join(dataDir, 'edge.yaml');
    writeFileSync(
      config,
      [
        'site: tower-a',
        'gateway: gw-dlt645',
        `data_dir: ${join(dataDir, 'edge')}`,
        `uplink: { url: "${enrolled.credentials.mqtt.url}", credentials_file: "${enrolled.file}" }`,
        'metrics: { port: 0 }',
        `buses: [{ id: riser-c, transport: dlt645, path: ${pair.a} }]`,
        'devices:',
        // Unquoted, as an installer types it off the nameplate: YAML reads a number.
        `  - { id: flat-1201, bus: riser-c, address: ${FLAT_1201}, profile: chint-ddsu666-dlt645, poll_interval_ms: 1000 }`,
      ].join('\n'),
    );
    agent = startNode('agent', EDGE_CLI, ['run', '--config', config]);
    await agent.waitForLog('agent started');
  });

  afterAll(async () => {
    await Promise.all([agent?.stop(), sim?.stop()]);
    await hub?.stop();
    await pair?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the meter’s readings with their units from GET /api/v1/devices/:id/latest', async () => {
    const latest = await eventually(async () => {
      const response = await hub.api('/api/v1/devices/tower-a.gw-dlt645.flat-1201/latest');
      if (response.status !== 200) return undefined;
      const body = (await response.json()) as LatestBody;
      return body.readings.length >= 7 ? body : undefined;
    }, 'the meter’s readings in the hub');
    expect(latest.kind).toBe('electric_meter');
    const byPoint = Object.fromEntries(latest.readings.map((reading) => [reading.point, reading]));
    for (const [point, value] of Object.entries(HELD[FLAT_1201])) expect(byPoint[point], point).toMatchObject({ value, quality: 'good' });
    expect(byPoint.energy_import_kwh?.unit).toBe('kWh');
    expect(byPoint.voltage_l1_v?.unit).toBe('V');
    expect(byPoint.current_l1_a?.unit).toBe('A');
    expect(byPoint.active_power_kw?.unit).toBe('kW');
    expect(byPoint.frequency_hz?.unit).toBe('Hz');
  });
});
