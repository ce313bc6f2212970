import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  builtInAnyProfile,
  decodeOpcuaValue,
  encodeOpcuaValue,
  loadOpcuaStack,
  opcuaPointsOf,
  parseAnyProfile,
  parseBrowsePath,
  ProfileError,
  qualityOfStatus,
  startOpcuaSimulator,
  type OpcuaPoint,
  type OpcuaProfile,
  type OpcuaSimulator,
} from '../src/index.js';

const PROFILE = builtInAnyProfile('reference-elevator-opcua') as OpcuaProfile;

const base = {
  id: 'test-lift',
  kind: 'elevator',
  vendor: 'Acme',
  model: 'L1',
  protocol: 'opcua',
  namespace: 'urn:acme:lift',
  points: [{ point: 'floor', browse_path: 'Floor', type: 'Int32' }],
};

function issues(document: unknown): string[] {
  try {
    parseAnyProfile(document, 'test');
  } catch (error) {
    if (error instanceof ProfileError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  return [];
}

const point = (overrides: Partial<OpcuaPoint>): OpcuaPoint => ({
  point: 'floor',
  browsePath: [{ namespace: undefined, name: 'Floor' }],
  nodeId: undefined,
  type: 'Int32',
  scale: 1,
  offset: 0,
  codes: undefined,
  ...overrides,
});

describe('OPC UA profiles', () => {
  it('ships the reference lift with every catalogue point of an elevator', () => {
    expect(PROFILE).toMatchObject({ protocol: 'opcua', kind: 'elevator', namespace: 'urn:gatehouse:reference-elevator' });
    expect(PROFILE.points.map((p) => p.point).sort()).toEqual(
      ['direction', 'door_open', 'fault_code', 'floor', 'in_service', 'moving', 'passenger_trapped'].sort(),
    );
  });

  it.each([
    ['a point the kind does not have', { point: 'voltage_l1_v', browse_path: 'V', type: 'Double' }, 'points[0].point: elevator has no point "voltage_l1_v"'],
    ['a flag read from a number', { point: 'moving', browse_path: 'Moving', type: 'Int32' }, 'points[0].type: "moving" is a boolean point; a variable of type Int32 does not fit it'],
    ['a text read from a number without codes', { point: 'direction', browse_path: 'Direction', type: 'Int32' }, 'points[0].type: "direction" is a string point; a variable of type Int32 does not fit it without values'],
    ['codes on a number point', { point: 'floor', browse_path: 'Floor', type: 'Int32', values: { 0: 'ground' } }, 'points[0].values: codes map an integer variable onto a text point'],
    ['neither a browse path nor a NodeId', { point: 'floor', type: 'Int32' }, 'points[0].browse_path: give a browse_path or a node_id, one of them'],
    ['a malformed NodeId', { point: 'floor', node_id: 'Car1.Floor', type: 'Int32' }, 'points[0].node_id: a NodeId such as "nsu=urn:vendor:lift;s=Car1.Floor" or "ns=2;i=1042"'],
    ['an empty browse name', { point: 'floor', browse_path: 'Status//Floor', type: 'Int32' }, 'points[0].browse_path: browse names separated by "/", e.g. "Status/Floor"'],
    ['a type OPC UA does not have', { point: 'floor', browse_path: 'Floor', type: 'int32' }, 'points[0].type'],
  ])('rejects %s, naming the field', (_what, mapping, expected) => {
    expect(issues({ ...base, points: [mapping] }).some((issue) => issue.startsWith(expected))).toBe(true);
  });

  it('takes the profile format of the model’s README as it is written', () => {
    const readme = readFileSync(fileURLToPath(new URL('../models/reference-elevator-opcua/README.md', import.meta.url)), 'utf8');
    const example = /## The profile format for OPC UA\s+```yaml\n([\s\S]*?)```/.exec(readme)![1]!;
    const profile = parseAnyProfile(parseYaml(`id: readme-lift\nkind: elevator\nvendor: Acme\nmodel: L1\n${example}`), 'README.md');
    expect(profile.points).toHaveLength(5);
  });

  it('accepts NodeIds by namespace URI or index, and browse names with a namespace index', () => {
    const points = [
      { point: 'floor', node_id: 'nsu=urn:acme:lift;s=Car1.Floor', type: 'Int16' },
      { point: 'fault_code', node_id: 'ns=3;i=1042', type: 'UInt32' },
      { point: 'moving', browse_path: 'Status/0:Moving', type: 'Boolean' },
    ];
    expect(issues({ ...base, points })).toEqual([]);
    expect(parseBrowsePath('Status/0:Moving')).toEqual([
      { namespace: undefined, name: 'Status' },
      { namespace: 0, name: 'Moving' },
    ]);
  });
});

describe('OPC UA values', () => {
  it.each([
    ['Int32 as is', point({}), 'Int32', 7, { value: 7 }],
    ['a basement floor', point({}), 'Int32', -2, { value: -2 }],
    ['any number type for a number point', point({ type: 'Int32' }), 'UInt16', 12, { value: 12 }],
    ['scaled and offset', point({ type: 'UInt16', scale: 0.1, offset: -40 }), 'UInt16', 655, { value: 25.5 }],
    ['Int64 words', point({ type: 'Int64' }), 'Int64', [0xffffffff, 0xfffffffb], { value: -5 }],
    ['UInt64 words', point({ type: 'UInt64' }), 'UInt64', [1, 2], { value: 2 ** 32 + 2 }],
    ['a code as its text', point({ point: 'direction', codes: new Map([[0, 'stopped'], [1, 'up'], [2, 'down']]) }), 'Int32', 2, { value: 'down' }],
    ['a flag', point({ point: 'moving', type: 'Boolean' }), 'Boolean', true, { value: true }],
    ['a text', point({ point: 'direction', type: 'String' }), 'String', 'up', { value: 'up' }],
  ])('decodes %s', (_what, mapped, dataType, raw, expected) => {
    expect(decodeOpcuaValue(mapped, dataType, raw)).toEqual(expected);
  });

  it.each([
    ['a text for a number', point({}), 'String', 'seven', 'floor: expected Int32, got String'],
    ['no value', point({}), 'Null', null, 'floor: expected Int32, got no value'],
    ['a number for a flag', point({ point: 'moving', type: 'Boolean' }), 'Int32', 1, 'moving: expected Boolean, got Int32'],
    ['an unknown code', point({ point: 'direction', codes: new Map([[0, 'stopped']]) }), 'Int32', 9, 'direction: code 9 is not one the profile knows'],
    ['a NaN', point({ type: 'Double' }), 'Double', Number.NaN, 'floor: NaN is not a finite number'],
    ['a text too long for a reading', point({ point: 'direction', type: 'String' }), 'String', 'x'.repeat(300), 'direction: a text of 300 characters, more than 256'],
  ])('refuses %s with the reason', (_what, mapped, dataType, raw, error) => {
    expect(decodeOpcuaValue(mapped, dataType, raw)).toEqual({ error });
  });

  it('encodes what it decodes', () => {
    const direction = point({ point: 'direction', codes: new Map([[0, 'stopped'], [1, 'up'], [2, 'down']]) });
    expect(encodeOpcuaValue(direction, 'up')).toBe(1);
    expect(encodeOpcuaValue(point({ type: 'Int64' }), -5)).toEqual([0xffffffff, 0xfffffffb]);
    expect(encodeOpcuaValue(point({ type: 'UInt16', scale: 0.1, offset: -40 }), 25.5)).toBe(655);
    expect(() => encodeOpcuaValue(point({ type: 'Byte' }), 300)).toThrow(RangeError);
    expect(() => encodeOpcuaValue(direction, 'sideways')).toThrow(RangeError);
  });

  it('takes the quality from the StatusCode severity', () => {
    expect(qualityOfStatus(0)).toBe('good');
    expect(qualityOfStatus(0x40900000)).toBe('uncertain'); // UncertainLastUsableValue
    expect(qualityOfStatus(0x808b0000)).toBe('bad'); // BadSensorFailure
    expect(qualityOfStatus(0x80340000)).toBe('bad'); // BadNodeIdUnknown
  });

  it('resolves the reference profile for the wire', () => {
    const direction = opcuaPointsOf(PROFILE).find((p) => p.point === 'direction');
    expect(direction?.browsePath).toEqual([{ namespace: undefined, name: 'Direction' }]);
    expect(direction?.codes?.get(1)).toBe('up');
  });
});

describe('the OPC UA lift simulator, read by a plain node-opcua client', () => {
  const pkiDir = mkdtempSync(join(tmpdir(), 'gatehouse-opcua-sim-'));
  let simulator: OpcuaSimulator;
  let read: (unit: number, name: string) => Promise<{ status: string; type: number; value: unknown }>;
  let close: () => Promise<void>;

  beforeAll(async () => {
    simulator = await startOpcuaSimulator({ profile: PROFILE, units: [1, 2], port: 0, pkiDir, hold: true, log: pino({ level: 'silent' }) });
    const opcua = await loadOpcuaStack();
    const client = opcua.OPCUAClient.create({
      endpointMustExist: false,
      securityMode: opcua.MessageSecurityMode.None,
      securityPolicy: opcua.SecurityPolicy.None,
      connectionStrategy: { maxRetry: 0 },
      clientCertificateManager: new opcua.OPCUACertificateManager({ rootFolder: join(pkiDir, 'client') }),
    });
    await client.connect(simulator.endpointUrl);
    const session = await client.createSession();
    const namespace = (await session.readNamespaceArray()).indexOf(PROFILE.namespace);
    read = async (unit, name) => {
      const value = await session.read({ nodeId: `ns=${namespace};s=Car${unit}.${name}`, attributeId: opcua.AttributeIds.Value });
      return { status: value.statusCode.name, type: value.value.dataType, value: value.value.value as unknown };
    };
    close = async () => {
      await session.close();
      await client.disconnect();
    };
  });

  afterAll(async () => {
    await close?.();
    await simulator?.stop();
    rmSync(pkiDir, { recursive: true, force: true });
  });

  it('listens on the port it was given (0: a free one) and names each car', () => {
    expect(simulator.endpointUrl).toMatch(/^opc\.tcp:\/\/127\.0\.0\.1:\d+$/);
    expect(simulator.nodeOf(2)).toBe('Lifts/Car2');
  });

  it('serves each car’s variables with the profile’s data types', async () => {
    expect(await read(1, 'Floor')).toEqual({ status: 'Good', type: 6, value: 0 }); // 6: Int32
    expect(await read(1, 'Direction')).toEqual({ status: 'Good', type: 6, value: 0 });
    expect(await read(2, 'InService')).toEqual({ status: 'Good', type: 1, value: true }); // 1: Boolean
  });

  it('moves a car on a control, and writes the change at once', async () => {
    simulator.control(1, 'call', { floor: 7 });
    expect(await read(1, 'Direction')).toMatchObject({ value: 1 }); // up
    expect(await read(1, 'Moving')).toMatchObject({ value: true });
    simulator.control(2, 'trap', {});
    expect(await read(2, 'PassengerTrapped')).toMatchObject({ value: true });
    expect(await read(2, 'FaultCode')).toMatchObject({ value: 30 });
    expect(await read(1, 'PassengerTrapped')).toMatchObject({ value: false });
  });

  it('reports a lost signal with its StatusCode, and the value again once it is back', async () => {
    simulator.setStatus(1, 'floor', 'BadSensorFailure');
    expect(await read(1, 'Floor')).toMatchObject({ status: 'BadSensorFailure' });
    simulator.setStatus(1, 'floor', 'Good');
    expect(await read(1, 'Floor')).toMatchObject({ status: 'Good', value: 0 });
    expect(() => simulator.setStatus(1, 'floor', 'NoSuchStatus')).toThrow(/no StatusCode/);
  });

  it('counts the reads of its variables, so that a test can tell polling from subscribing', () => {
    expect(simulator.stats()).toMatchObject({ subscriptions: 0, monitoredItemsCreated: 0 });
    expect(simulator.stats().variableReads).toBeGreaterThan(5);
  });
});
