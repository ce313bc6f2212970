import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describeIssues } from '@gatehouse/protocols';
import {
  builtInAnyProfiles,
  builtInProfile,
  loadAnyProfileFile,
  loadProfileFile,
  parseAnyProfile,
  parseProfile,
  planProfileReads,
  ProfileError,
} from '../src/index.js';

const base = {
  id: 'test-meter',
  kind: 'electric_meter',
  vendor: 'Acme',
  model: 'M1',
  protocol: 'modbus',
  points: [{ point: 'voltage_l1_v', address: 0, type: 'float32' }],
};

function issuePaths(document: unknown): string[] {
  try {
    parseProfile(document, 'test');
  } catch (error) {
    if (error instanceof ProfileError) return error.issues.map((issue) => issue.path);
    throw error;
  }
  return [];
}

describe('device profiles', () => {
  it('ships the reference meter with its defaults applied', () => {
    const profile = builtInProfile('reference-3ph-meter');
    expect(profile?.kind).toBe('electric_meter');
    expect(profile?.defaults).toEqual({ table: 'holding', order: 'CDAB' });
    expect(profile?.points.map((p) => p.point)).toContain('energy_import_kwh');
  });

  it('accepts a minimal profile and fills the defaults', () => {
    const profile = parseProfile(base, 'test');
    expect(profile.limits).toEqual({ max_registers_per_request: 125, max_bits_per_request: 2000 });
    expect(profile.points[0]).toMatchObject({ scale: 1, offset: 0 });
  });

  it.each([
    ['a point the kind does not have', { point: 'floor', address: 0 }, 'points[0].point'],
    ['a number read as a bool', { point: 'voltage_l1_v', address: 0, type: 'bool' }, 'points[0].type'],
    ['a coil read as a float', { point: 'voltage_l1_v', address: 0, table: 'coil', type: 'float32' }, 'points[0].type'],
    ['an address past the end of the table', { point: 'voltage_l1_v', address: 65535, type: 'float32' }, 'points[0].address'],
    ['a scale of zero', { point: 'voltage_l1_v', address: 0, scale: 0 }, 'points[0].scale'],
  ])('rejects %s, naming the field', (_what, point, path) => {
    expect(issuePaths({ ...base, points: [point] })).toContain(path);
  });

  it('rejects a point mapped twice', () => {
    const twice = [base.points[0], { point: 'voltage_l1_v', address: 2, type: 'float32' }];
    expect(issuePaths({ ...base, points: twice })).toEqual(['points[1].point']);
  });

  it('names the file of a profile that does not parse', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-profile-'));
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'id: [unclosed');
    expect(() => loadProfileFile(file)).toThrow(ProfileError);
    expect(() => loadProfileFile(file)).toThrow(file);
  });
});

/** The loader's whole message for a document, `path: message; …`, or "" when it loads. */
function problems(document: unknown): string {
  try {
    parseAnyProfile(document, 'test');
  } catch (error) {
    if (error instanceof ProfileError) return describeIssues(error.issues);
    throw error;
  }
  return '';
}

const modbus = (extra: Record<string, unknown>, point: Record<string, unknown> = {}) => ({
  ...base,
  ...extra,
  points: [{ ...base.points[0], ...point }],
});

const doorController = (extra: Record<string, unknown>, buffer: Record<string, unknown> = {}) => ({
  id: 'test-door',
  kind: 'access_controller',
  vendor: 'Acme',
  model: 'D1',
  protocol: 'modbus',
  ...extra,
  points: [{ point: 'unlock_s', address: 1, writable: true }],
  event_buffer: {
    write_index: 0x0100,
    read_index: 0x0101,
    records: 0x0110,
    capacity: 32,
    record_registers: 8,
    fields: { sequence: 0, timestamp: 2, card: 4, code: 6 },
    codes: { 1: 'access.granted' },
    ...buffer,
  },
});

const dlt645 = (extra: Record<string, unknown>, point: Record<string, unknown> = {}) => ({
  id: 'test-dlt',
  kind: 'electric_meter',
  vendor: 'Acme',
  model: 'D1',
  protocol: 'dlt645',
  ...extra,
  points: [{ point: 'voltage_l1_v', di: '02010100', ...point }],
});

const opcua = (extra: Record<string, unknown>, point: Record<string, unknown> = {}) => ({
  id: 'test-lift',
  kind: 'elevator',
  vendor: 'Acme',
  model: 'L1',
  protocol: 'opcua',
  namespace: 'urn:test',
  ...extra,
  points: [{ point: 'floor', browse_path: 'Floor', type: 'Int32', ...point }],
});

describe('every profile Gatehouse ships', () => {
  const models = fileURLToPath(new URL('../models', import.meta.url));
  it.each(readdirSync(models))('%s loads with the strict loader and plans its reads', (model) => {
    const profile = loadAnyProfileFile(join(models, model, 'profile.yaml'));
    if (profile.protocol === 'modbus') expect(planProfileReads(profile).length).toBeGreaterThan(0);
  });

  it('are all in the registry', () => {
    expect(builtInAnyProfiles().size).toBe(readdirSync(models).length);
  });
});

describe('a key the loader does not know', () => {
  it.each([
    ['at the top of a Modbus profile', modbus({ tabel: 'input' }), '(root): Unrecognized key: "tabel"'],
    ['in defaults', modbus({ defaults: { tabel: 'input' } }), 'defaults: Unrecognized key: "tabel" (did you mean "table"?)'],
    ['in limits', modbus({ limits: { max_register_per_request: 40 } }), 'limits: Unrecognized key: "max_register_per_request" (did you mean "max_registers_per_request"?)'],
    ['in a point', modbus({}, { scal: 0.1 }), 'points[0]: Unrecognized key: "scal" (did you mean "scale"?)'],
    ['in a point, several', modbus({}, { writeable: true, lenght: 2, colour: 'red' }), 'points[0]: Unrecognized keys: "writeable" (did you mean "writable"?), "lenght" (did you mean "length"?), "colour"'],
    ['in an event buffer', doorController({}, { capcity: 16 }), 'event_buffer: Unrecognized key: "capcity" (did you mean "capacity"?)'],
    ['in its fields', doorController({}, { fields: { sequence: 0, timestamp: 2, card: 4, code: 6, door: 7 } }), 'event_buffer.fields: Unrecognized key: "door"'],
    ['at the top of a DL/T 645 profile', dlt645({ limits: {} }), '(root): Unrecognized key: "limits"'],
    ['in a DL/T 645 point', dlt645({}, { fromat: 'XXX.X' }), 'points[0]: Unrecognized key: "fromat" (did you mean "format"?)'],
    ['at the top of an OPC UA profile', opcua({ namespce: 'urn:x' }), '(root): Unrecognized key: "namespce" (did you mean "namespace"?)'],
    ['in an OPC UA point', opcua({}, { ofset: 1 }), 'points[0]: Unrecognized key: "ofset" (did you mean "offset"?)'],
  ])('is refused %s, naming the key and where it is', (_where, document, message) => {
    expect(problems(document)).toBe(message);
  });

  it('is not "corrected" into a field it is far from', () => {
    expect(problems(modbus({}, { x: 1 }))).toBe('points[0]: Unrecognized key: "x"');
    expect(problems(modbus({}, { unit: 'V' }))).toBe('points[0]: Unrecognized key: "unit"');
  });
});

describe("an address that looks like the manual's register number", () => {
  it.each([
    ['input', 30053, 'points[0].address: 30053 looks like the manual\'s register number (3xxxx = input register): the address is 52 (0x0034); if the device\'s address really is 30053, set raw_addresses: true'],
    ['input', 30001, 'points[0].address: 30001 looks like the manual\'s register number (3xxxx = input register): the address is 0 (0x0000); if the device\'s address really is 30001, set raw_addresses: true'],
    ['holding', 49999, 'points[0].address: 49999 looks like the manual\'s register number (4xxxx = holding register): the address is 9998 (0x270e); if the device\'s address really is 49999, set raw_addresses: true'],
  ])('is refused in its own table (%s %i), with the address it stands for', (table, address, message) => {
    expect(problems(modbus({ defaults: { table } }, { address }))).toBe(message);
  });

  it('is refused in a discrete table too (1xxxx)', () => {
    const document = { ...base, kind: 'water_meter', points: [{ point: 'leak', table: 'discrete', address: 10003, type: 'bool' }] };
    expect(problems(document)).toContain('points[0].address: 10003 looks like the manual\'s register number (1xxxx = discrete input): the address is 2 (0x0002)');
  });

  it.each([
    ['input', 30000],
    ['input', 40001],
    ['holding', 30053],
    ['holding', 40000],
    ['holding', 50000],
    ['holding', 0x4028],
  ])('is taken as it is outside its own table\'s range (%s %i)', (table, address) => {
    expect(problems(modbus({ defaults: { table } }, { address }))).toBe('');
  });

  it('is taken as it is with raw_addresses: true', () => {
    expect(problems(modbus({ raw_addresses: true, defaults: { table: 'input' } }, { address: 30053 }))).toBe('');
    expect(problems(doorController({ raw_addresses: true }, { write_index: 40257, read_index: 40258 }))).toBe('');
  });

  it('is refused in an event buffer, which is in holding registers', () => {
    expect(problems(doorController({}, { records: 40273 }))).toBe(
      "event_buffer.records: 40273 looks like the manual's register number (4xxxx = holding register): the address is 272 (0x0110); if the device's address really is 40273, set raw_addresses: true",
    );
  });

  it('is refused in six digits, with the address it stands for and nothing else', () => {
    expect(problems(modbus({}, { address: 300053 }))).toBe(
      "points[0].address: 300053 looks like the manual's six-digit register number (3xxxxx = input register): the address is 52 (0x0034)",
    );
    expect(problems(modbus({}, { address: 70000 }))).toBe('points[0].address: Too big: expected number to be <=65535');
  });
});

describe('a point wider than a request may read', () => {
  it('is refused, naming the point, its width and the limit', () => {
    expect(problems(modbus({ limits: { max_registers_per_request: 1 } }))).toBe(
      'points[0].type: "voltage_l1_v" is 2 registers wide (float32), more than the 1 a request may read (limits.max_registers_per_request)',
    );
  });

  it('is reported at the length of a string', () => {
    const document = {
      ...base,
      kind: 'elevator',
      limits: { max_registers_per_request: 8 },
      points: [{ point: 'direction', address: 0, type: 'string', length: 10 }],
    };
    expect(problems(document)).toBe(
      'points[0].length: "direction" is 10 registers wide (string), more than the 8 a request may read (limits.max_registers_per_request)',
    );
  });

  it('is accepted at the limit, and planned', () => {
    const profile = parseProfile(modbus({ limits: { max_registers_per_request: 2 } }), 'test');
    expect(planProfileReads(profile).map((read) => read.request.count)).toEqual([2]);
  });

  it('counts a record of an event buffer too', () => {
    expect(problems(doorController({ limits: { max_registers_per_request: 7 } }))).toBe(
      'event_buffer.record_registers: a record of 8 registers is wider than the 7 a request may read (limits.max_registers_per_request)',
    );
    expect(problems(doorController({ limits: { max_registers_per_request: 8 } }))).toBe('');
  });
});

describe('writable points', () => {
  const gate = (point: Record<string, unknown>) => ({ ...base, kind: 'barrier_gate', points: [{ point: 'open_command', type: 'bool', address: 0, writable: true, ...point }] });

  it.each([
    ['a coil', { table: 'coil' }],
    ['a not-writable flag in a holding register', { table: 'holding', writable: false }],
  ])('may be %s', (_what, point) => {
    expect(problems(gate(point))).toBe('');
  });

  it('may be whole holding registers, which the gateway writes with FC 6 or FC 16', () => {
    expect(problems(doorController({}))).toBe('');
  });

  it('must not be one bit of a holding register', () => {
    expect(problems(gate({ table: 'holding', bit: 3 }))).toBe(
      'points[0].writable: "open_command" is one bit of a holding register, which the gateway cannot write without changing the other bits: a writable flag must be a coil',
    );
  });

  it.each(['input', 'discrete'])('must not be in the read-only %s table, and the message says what is writable', (table) => {
    expect(problems(gate({ table }))).toBe(`points[0].writable: a ${table} table is read-only in Modbus: only coils and holding registers can be written`);
  });
});
