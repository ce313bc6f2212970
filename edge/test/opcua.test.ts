import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reading } from '@gatehouse/protocols';
import { builtInAnyProfile, opcuaPointsOf, startOpcuaSimulator, type OpcuaProfile, type OpcuaSimulator } from '@gatehouse/devices';
import { ConfigError, OBJECTS_FOLDER, OpcuaBusClient, describeTarget, parseConfig, resolveNodeId, targetOf, type OpcuaBusConfig } from '../src/index.js';
import type { CommChange } from '../src/poll/comm-state.js';

const PROFILE = builtInAnyProfile('reference-elevator-opcua') as OpcuaProfile;
const NAMESPACE = PROFILE.namespace;
const [floor, direction] = opcuaPointsOf(PROFILE) as [ReturnType<typeof opcuaPointsOf>[number], ReturnType<typeof opcuaPointsOf>[number]];
const silent = pino({ level: 'silent' });

describe('where an OPC UA device’s variables are', () => {
  const namespaces = ['http://opcfoundation.org/UA/', 'urn:some-server', NAMESPACE];

  it('follows the device’s browse path from Objects, then the point’s, in the profile’s namespace', () => {
    const target = targetOf(floor, 'Lifts/Car1', NAMESPACE, namespaces);
    expect(target).toEqual({
      kind: 'path',
      startingNode: OBJECTS_FOLDER,
      path: [
        { namespaceIndex: 2, name: 'Lifts' },
        { namespaceIndex: 2, name: 'Car1' },
        { namespaceIndex: 2, name: 'Floor' },
      ],
    });
    expect(describeTarget(target as never)).toBe('Objects/2:Lifts/2:Car1/2:Floor');
  });

  it('starts from the device’s NodeId, its namespace URI looked up on this server', () => {
    expect(targetOf(direction, 'nsu=urn:some-server;s=Car1', NAMESPACE, namespaces)).toEqual({
      kind: 'path',
      startingNode: 'ns=1;s=Car1',
      path: [{ namespaceIndex: 2, name: 'Direction' }],
    });
  });

  it('takes a point’s own NodeId as it is, once its namespace is known', () => {
    expect(targetOf({ ...floor, browsePath: undefined, nodeId: 'nsu=urn:some-server;i=1042' }, undefined, NAMESPACE, namespaces)).toEqual({
      kind: 'node',
      nodeId: 'ns=1;i=1042',
    });
    expect(resolveNodeId('ns=4;s=x', namespaces)).toEqual({ nodeId: 'ns=4;s=x' });
  });

  it('says so when the server does not have the namespace', () => {
    expect(targetOf(floor, 'Lifts/Car1', 'urn:elsewhere', namespaces)).toEqual({ error: 'the server has no namespace urn:elsewhere' });
    expect(resolveNodeId('nsu=urn:elsewhere;i=1', namespaces)).toEqual({ error: 'the server has no namespace urn:elsewhere' });
  });
});

describe('an opcua bus in the agent configuration', () => {
  const config = (bus: Record<string, unknown>, device: Record<string, unknown>, extra: unknown[] = []) => ({
    site: 'tower-a',
    gateway: 'gw-01',
    uplink: { url: 'mqtt://127.0.0.1:1883' },
    buses: [{ id: 'lifts', transport: 'opcua', endpoint: 'opc.tcp://10.20.0.50:4840', ...bus }, ...extra],
    devices: [{ id: 'lift-a1', bus: 'lifts', node: 'Lifts/Car1', profile: 'reference-elevator-opcua', ...device }],
  });
  const problems = (document: unknown) => {
    try {
      parseConfig(JSON.stringify(document), 'edge.yaml', {});
      return [];
    } catch (error) {
      if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
      throw error;
    }
  };

  it('takes a subscription’s settings with defaults an installer would pick', () => {
    const { config: loaded } = parseConfig(JSON.stringify(config({}, {})), 'edge.yaml', {});
    expect(loaded.buses[0]).toEqual({
      id: 'lifts',
      transport: 'opcua',
      endpoint: 'opc.tcp://10.20.0.50:4840',
      security_mode: 'none',
      security_policy: 'none',
      accept_unknown_certificate: false,
      publishing_interval_ms: 250,
      sampling_interval_ms: 100,
      queue_size: 10,
      keepalive_count: 10,
      session_timeout_ms: 60_000,
      timeout_ms: 10_000,
      reconnect_max_ms: 10_000,
    });
  });

  it.each([
    ['a URL that is not opc.tcp', config({ endpoint: 'http://10.20.0.50' }, {}), 'buses[0].endpoint: an opc.tcp:// URL'],
    ['signing without a policy', config({ security_mode: 'sign' }, {}), 'buses[0].security_policy: security_mode sign needs a policy'],
    ['a policy without signing', config({ security_policy: 'Basic256Sha256' }, {}), 'buses[0].security_policy: security_mode none takes security_policy none'],
    ['a unit id', config({}, { unit: 1 }), 'devices[0].unit: a device on an opcua bus has a node, not a unit id'],
    ['a node that is neither a path nor a NodeId', config({}, { node: 'Lifts//Car1' }), 'devices[0].node: a browse path'],
    ['a Modbus profile', config({}, { profile: 'reference-elevator' }), 'devices[0].profile: a modbus profile cannot serve a device on opcua bus "lifts"'],
    [
      'an OPC UA profile on a Modbus bus',
      { ...config({}, {}), devices: [{ id: 'lift-a1', bus: 'riser', unit: 1, profile: 'reference-elevator-opcua' }] },
      'devices[0].profile: a opcua profile cannot serve a device on tcp bus "riser"',
      [{ id: 'riser', transport: 'tcp', host: '10.0.0.5' }],
    ],
    ['a node on a Modbus bus', { ...config({}, {}), devices: [{ id: 'm', bus: 'riser', unit: 1, node: 'Lifts/Car1', profile: 'reference-elevator' }] }, 'devices[0].node: only a device on an opcua bus has a node', [{ id: 'riser', transport: 'tcp', host: '10.0.0.5' }]],
  ])('refuses %s, naming the field', (_what, document, expected, extraBuses = []) => {
    const withBuses = extraBuses.length > 0 ? { ...document, buses: [...document.buses, ...extraBuses] } : document;
    expect(problems(withBuses).some((problem) => problem.startsWith(expected))).toBe(true);
  });

  it('takes the sample configuration of the model’s README as it is written', () => {
    const readme = readFileSync(fileURLToPath(new URL('../../devices/models/reference-elevator-opcua/README.md', import.meta.url)), 'utf8');
    const sample = /## Sample edge configuration\s+```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const { config: loaded } = parseConfig(`site: tower-a\ngateway: gw-01\nuplink: { url: "mqtt://127.0.0.1:1883" }\n${sample}`, 'README.md', {});
    expect(loaded.devices.map((device) => device.node)).toEqual(['Lifts/Car1', 'Lifts/Car2']);
  });

  it('refuses two devices on one node', () => {
    const document = config({}, {});
    document.devices.push({ ...document.devices[0]!, id: 'lift-a2' });
    expect(problems(document)).toEqual(['devices[1].node: node "Lifts/Car1" is already a device on bus "lifts"']);
  });
});

/** An OPC UA client of the agent's, watching cars of the simulator, with what it hands the agent. */
function watch(endpoint: string, cars: Record<string, string>, bus: Partial<OpcuaBusConfig> = {}) {
  const pkiDir = mkdtempSync(join(tmpdir(), 'gatehouse-opcua-edge-'));
  const { config } = parseConfig(
    JSON.stringify({
      site: 'tower-a',
      gateway: 'gw-01',
      uplink: { url: 'mqtt://127.0.0.1:1' },
      buses: [{ id: 'lifts', transport: 'opcua', endpoint, reconnect_max_ms: 500, ...bus }],
      devices: Object.entries(cars).map(([id, node]) => ({ id, bus: 'lifts', node, profile: 'reference-elevator-opcua' })),
    }),
    'edge.yaml',
    {},
  );
  const readings: Reading[] = [];
  const changes: Array<{ device: string; change: CommChange }> = [];
  const logs: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) });
  const client = new OpcuaBusClient({
    bus: config.buses[0] as OpcuaBusConfig,
    devices: config.devices.map((device) => ({ config: device, profile: PROFILE })),
    sink: { readings: (batch) => readings.push(...batch), commChanged: (device, change) => changes.push({ device, change }) },
    log,
    pkiDir,
  });
  client.start();
  const latest = (device: string, point: string, since = 0) => readings.filter((r) => r.device === device && r.point === point && r.ts >= since).at(-1);
  return {
    client,
    readings,
    changes,
    logs,
    latest,
    /** Waits until `device`'s `point` has been reported as `value` (after `since`). */
    until: (device: string, point: string, expected: Partial<Reading>, since = 0) =>
      eventually(() => {
        const reading = latest(device, point, since);
        return reading && Object.entries(expected).every(([key, value]) => reading[key as keyof Reading] === value) ? reading : undefined;
      }, `${device} ${point} ${JSON.stringify(expected)}`),
    stop: async () => {
      await client.stop();
      rmSync(pkiDir, { recursive: true, force: true });
    },
  };
}

async function eventually<T>(probe: () => T | undefined, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the OPC UA client against the simulated lift controller', () => {
  const pkiDir = mkdtempSync(join(tmpdir(), 'gatehouse-opcua-server-'));
  const start = (port: number, namespacesBefore: string[] = []) =>
    startOpcuaSimulator({ profile: PROFILE, units: [1, 2], port, pkiDir, hold: true, log: silent, namespacesBefore });
  let simulator: OpcuaSimulator;
  let port: number;
  const watchers: Array<ReturnType<typeof watch>> = [];
  const watching = (cars: Record<string, string>, bus?: Partial<OpcuaBusConfig>) => {
    const watcher = watch(simulator.endpointUrl, cars, bus);
    watchers.push(watcher);
    return watcher;
  };

  beforeAll(async () => {
    simulator = await start(0);
    port = Number(/:(\d+)$/.exec(simulator.endpointUrl)![1]);
  });

  afterEach(async () => {
    await Promise.all(watchers.splice(0).map((watcher) => watcher.stop()));
  });

  afterAll(async () => {
    await simulator?.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  });

  it('subscribes to every variable of every car — one subscription, no reads — and hands on each change', async () => {
    const before = simulator.stats();
    const lifts = watching({ 'lift-1': 'Lifts/Car1', 'lift-2': 'Lifts/Car2' });
    await lifts.until('lift-2', 'passenger_trapped', { value: false, quality: 'good' });
    expect(Object.fromEntries(lifts.readings.filter((r) => r.device === 'lift-1').map((r) => [r.point, r.value]))).toEqual({
      floor: 0,
      direction: 'stopped',
      moving: false,
      door_open: false,
      in_service: true,
      fault_code: 0,
      passenger_trapped: false,
    });
    expect(lifts.changes).toEqual([
      { device: 'lift-1', change: { to: 'online', outageMs: undefined } },
      { device: 'lift-2', change: { to: 'online', outageMs: undefined } },
    ]);

    const since = Date.now();
    simulator.control(2, 'trap', {});
    await lifts.until('lift-2', 'passenger_trapped', { value: true, quality: 'good' }, since);
    expect(lifts.latest('lift-2', 'fault_code', since)).toMatchObject({ value: 30 });
    expect(lifts.latest('lift-1', 'passenger_trapped', since)).toBeUndefined(); // only what changed
    const after = simulator.stats();
    expect(after.subscriptions).toBe(1);
    expect(after.monitoredItemsCreated - before.monitoredItemsCreated).toBe(14);
    expect(after.variableReads - before.variableReads).toBe(0);
  });

  it('reports a variable whose StatusCode is bad as bad, and its value again once it is good', async () => {
    const lifts = watching({ 'lift-1': 'Lifts/Car1' });
    await lifts.until('lift-1', 'floor', { quality: 'good' });
    const since = Date.now();
    simulator.setStatus(1, 'door_open', 'BadSensorFailure');
    await lifts.until('lift-1', 'door_open', { quality: 'bad', value: null }, since);
    simulator.setStatus(1, 'door_open', 'UncertainLastUsableValue');
    await lifts.until('lift-1', 'door_open', { quality: 'uncertain', value: false }, since);
    simulator.setStatus(1, 'door_open', 'Good');
    await lifts.until('lift-1', 'door_open', { quality: 'good', value: false }, since);
  });

  it('puts a car the server does not have offline, naming what is missing, and serves the others', async () => {
    const lifts = watching({ 'lift-1': 'Lifts/Car1', 'lift-9': 'Lifts/Car9' });
    await lifts.until('lift-1', 'floor', { quality: 'good' });
    const offline = lifts.changes.find((c) => c.device === 'lift-9')?.change;
    expect(offline).toMatchObject({ to: 'offline', reason: expect.stringContaining('floor: Objects/2:Lifts/2:Car9/2:Floor: BadNoMatch') as unknown });
    expect(lifts.latest('lift-9', 'floor')).toMatchObject({ quality: 'bad', value: null });
    expect(lifts.logs.filter((line) => line.msg === 'opcua variables not read')).toHaveLength(1);
  });

  it('comes back by itself from a restarted server on the same port, and from one that renumbered its namespaces', async () => {
    const lifts = watching({ 'lift-1': 'Lifts/Car1', 'lift-2': 'Lifts/Car2' });
    await lifts.until('lift-2', 'floor', { quality: 'good' });

    // A plain restart: node-opcua re-creates the session and the subscription on the new server.
    await simulator.stop();
    await eventually(() => lifts.changes.find((c) => c.change.to === 'offline'), 'the cars going offline');
    expect(lifts.changes.filter((c) => c.change.to === 'offline').map((c) => c.change)).toEqual([
      expect.objectContaining({ reason: `connection to ${simulator.endpointUrl} lost` }),
      expect.objectContaining({ reason: `connection to ${simulator.endpointUrl} lost` }),
    ]);
    await lifts.until('lift-1', 'floor', { quality: 'bad', value: null });
    simulator = await start(port);
    let since = Date.now();
    simulator.control(1, 'trap', {});
    await lifts.until('lift-1', 'passenger_trapped', { value: true, quality: 'good' }, since);
    expect(lifts.changes.filter((c) => c.change.to === 'online')).toHaveLength(4);

    // The next start registers another namespace first: the old NodeIds now name nothing (or
    // something else), which node-opcua's repair does not know; the client resolves them again.
    await simulator.stop();
    simulator = await start(port, ['urn:another:model']);
    since = Date.now();
    simulator.control(2, 'call', { floor: 5 });
    await lifts.until('lift-2', 'direction', { value: 'up', quality: 'good' }, since);
    await lifts.until('lift-1', 'passenger_trapped', { value: false, quality: 'good' }, since);
    expect(lifts.logs.find((line) => line.msg === 'opcua session dropped, to be made anew')?.reason).toBe(
      'lift-1 floor is now at ns=3;s=Car1.Floor on the restarted server',
    );
  });

  it('signs and encrypts when the bus says so, trusting the server’s certificate only when told to', async () => {
    await simulator.stop();
    simulator = await startOpcuaSimulator({ profile: PROFILE, units: [1], port, pkiDir, hold: true, log: silent, secure: true });
    const secure = { security_mode: 'sign_and_encrypt', security_policy: 'Basic256Sha256' } as const;
    const untrusting = watching({ 'lift-1': 'Lifts/Car1' }, secure);
    const refused = await eventually(() => untrusting.changes.find((c) => c.change.to === 'offline'), 'the car offline: the server’s certificate is not trusted');
    expect(refused.change).toMatchObject({ reason: expect.stringContaining('BadCertificateUntrusted') as unknown });
    expect(untrusting.readings.filter((r) => r.quality === 'good')).toEqual([]);
    const trusting = watching({ 'lift-1': 'Lifts/Car1' }, { ...secure, accept_unknown_certificate: true });
    await trusting.until('lift-1', 'floor', { quality: 'good', value: 0 });
    expect(trusting.logs.find((line) => line.msg === 'opcua subscription created')).toMatchObject({ monitored_items: 7 });
  });

  it('waits for a server that is not there yet, offline with the reason, and connects when it comes', async () => {
    await simulator.stop();
    const lifts = watching({ 'lift-1': 'Lifts/Car1' });
    await eventually(() => lifts.changes.find((c) => c.change.to === 'offline'), 'the car going offline');
    expect(lifts.changes[0]?.change).toMatchObject({ to: 'offline', reason: `cannot connect to ${simulator.endpointUrl}` });
    simulator = await start(port);
    await lifts.until('lift-1', 'floor', { quality: 'good', value: 0 });
    expect(lifts.changes.at(-1)?.change).toMatchObject({ to: 'online' });
  });
});
