/**
 * devices/PROFILES.md, proved against the code: its example profiles load with the real loader,
 * its error examples fail with the messages it quotes, and its reference tables (fields and
 * defaults, catalogue, data types, byte orders, tables, DL/T 645 identifiers, OPC UA types, a
 * read plan) match the schema, the catalogue, the codec and the planner. See §12 of the document
 * for the markers it uses.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BYTE_ORDERS,
  decodeRegisters,
  describeIssues,
  dlt645,
  encodeRegisters,
  EVENT_TYPES,
  POINT_CATALOGUE,
  REGISTER_TYPES,
  registerCount,
  requestBusMs,
  type ByteOrder,
  type RegisterType,
  type SerialLine,
} from '@gatehouse/protocols';
import {
  builtInAnyProfile,
  DeviceProfile,
  Dlt645PointMapping,
  Dlt645Profile,
  dlt645PointsOf,
  EventBufferMapping,
  eventBufferOf,
  loadAnyProfileFile,
  MODBUS_TABLES,
  ModbusPointMapping,
  OPCUA_DATA_TYPES,
  OpcuaPointMapping,
  OpcuaProfile,
  opcuaPointsOf,
  planProfileReads,
  ProfileError,
  recordReads,
  type AnyDeviceProfile,
} from '../src/index.js';

const DOC_PATH = fileURLToPath(new URL('../PROFILES.md', import.meta.url));
const DOC = readFileSync(DOC_PATH, 'utf8');
const LINES = DOC.split('\n');

// ---------------------------------------------------------------------------------------------
// Reading the document: marker comments, and the fenced block or table each one precedes.

interface Fence {
  lang: string;
  /** 1-based line of the opening fence. */
  line: number;
  body: string;
  /** Index in LINES of the closing fence. */
  end: number;
  marker: string | undefined;
}

interface Table {
  marker: string;
  line: number;
  header: string[];
  rows: string[][];
}

const MARKER = /^<!--\s*(.*?)\s*-->\s*$/;

function markerBefore(index: number): string | undefined {
  const previous = LINES[index - 1];
  return previous === undefined ? undefined : MARKER.exec(previous)?.[1];
}

function fences(): Fence[] {
  const found: Fence[] = [];
  for (let i = 0; i < LINES.length; i++) {
    const open = /^```(\w*)\s*$/.exec(LINES[i]!);
    if (!open) continue;
    let end = i + 1;
    while (end < LINES.length && !/^```\s*$/.test(LINES[end]!)) end++;
    if (end >= LINES.length) throw new Error(`PROFILES.md:${i + 1}: a fence that is never closed`);
    found.push({ lang: open[1]!, line: i + 1, body: LINES.slice(i + 1, end).join('\n'), end, marker: markerBefore(i) });
    i = end;
  }
  return found;
}

function cellsOf(line: string): string[] {
  return line
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split('|')
    .map((cell) => cell.trim());
}

function tables(): Table[] {
  const found: Table[] = [];
  LINES.forEach((line, i) => {
    const marker = MARKER.exec(line)?.[1];
    if (marker === undefined || !LINES[i + 1]?.startsWith('|')) return;
    let end = i + 1;
    while (LINES[end]?.startsWith('|')) end++;
    const [header, separator, ...rows] = LINES.slice(i + 1, end).map(cellsOf);
    if (!header || !separator?.every((cell) => /^:?-+:?$/.test(cell))) throw new Error(`PROFILES.md:${i + 2}: not a table`);
    found.push({ marker, line: i + 2, header, rows });
  });
  return found;
}

const FENCES = fences();
const TABLES = tables();

function table(marker: string): Table {
  const matching = TABLES.filter((candidate) => candidate.marker === marker);
  if (matching.length !== 1) throw new Error(`PROFILES.md has ${matching.length} tables marked <!-- ${marker} -->, expected 1`);
  return matching[0]!;
}

/** The text of a cell without its code quotes: "`input`" → "input". */
function unquoted(cell: string): string {
  return cell.replace(/^`(.*)`$/, '$1');
}

// ---------------------------------------------------------------------------------------------
// Profiles in the document.

type Marked =
  | { kind: 'profile'; fence: Fence }
  | { kind: 'patch'; fence: Fence; base: string }
  | { kind: 'error'; fence: Fence; path: string; base: string | undefined; quoted: string }
  | { kind: 'config'; fence: Fence }
  | { kind: 'plan'; fence: Fence; params: Record<string, string> };

/** The first `…` on the first non-blank line after the fence: the loader's message as quoted. */
function quotedAfter(fence: Fence): string {
  let i = fence.end + 1;
  while (i < LINES.length && LINES[i]!.trim() === '') i++;
  const quoted = /`([^`]+)`/.exec(LINES[i] ?? '')?.[1];
  if (quoted === undefined) throw new Error(`PROFILES.md:${fence.line}: an error example must be followed by its message in \`…\``);
  return quoted;
}

function classify(fence: Fence): Marked | undefined {
  const marker = fence.marker;
  const where = `PROFILES.md:${fence.line}`;
  if (marker === undefined) {
    if (fence.lang === 'yaml') throw new Error(`${where}: a yaml block without a marker (profile, profile-patch, profile-error or config)`);
    return undefined;
  }
  if (marker === 'profile' && fence.lang === 'yaml') return { kind: 'profile', fence };
  if (marker === 'config' && fence.lang === 'yaml') return { kind: 'config', fence };
  const patch = /^profile-patch:\s*(\S+)$/.exec(marker);
  if (patch && fence.lang === 'yaml') return { kind: 'patch', fence, base: patch[1]! };
  const error = /^profile-error:\s*(\S+)(?:\s+on\s+(\S+))?$/.exec(marker);
  if (error && fence.lang === 'yaml') return { kind: 'error', fence, path: error[1]!, base: error[2], quoted: quotedAfter(fence) };
  const plan = /^plan:\s*(.*)$/.exec(marker);
  if (plan && fence.lang === 'text') {
    const params = Object.fromEntries(plan[1]!.split(/\s+/).map((pair) => pair.split('=') as [string, string]));
    return { kind: 'plan', fence, params };
  }
  throw new Error(`${where}: marker <!-- ${marker} --> does not fit a ${fence.lang || 'plain'} block`);
}

const MARKED = FENCES.map(classify).filter((marked): marked is Marked => marked !== undefined);
const of = <K extends Marked['kind']>(kind: K) => MARKED.filter((marked): marked is Extract<Marked, { kind: K }> => marked.kind === kind);

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A patch over a base: nested maps merged key by key, anything else (lists included) replaced. */
function patched(base: unknown, patch: unknown): unknown {
  if (!isRecord(base) || !isRecord(patch)) return patch;
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) out[key] = patched(base[key], value);
  return out;
}

/** The complete profiles of the document by id, parsed but not validated. */
const DOCUMENTS = new Map<string, { document: unknown; fence: Fence }>();
for (const { fence } of of('profile')) {
  const document: unknown = parseYaml(fence.body);
  const id = isRecord(document) ? document.id : undefined;
  if (typeof id !== 'string') throw new Error(`PROFILES.md:${fence.line}: a profile without an id`);
  if (DOCUMENTS.has(id)) throw new Error(`PROFILES.md:${fence.line}: profile ${id} is shown twice`);
  DOCUMENTS.set(id, { document, fence });
}

function baseDocument(id: string, line: number): unknown {
  const base = DOCUMENTS.get(id);
  if (base === undefined) throw new Error(`PROFILES.md:${line}: no profile "${id}" is shown in the document`);
  return base.document;
}

function patchedText(base: string, fence: Fence): string {
  const patch: unknown = parseYaml(fence.body);
  return JSON.stringify(patched(baseDocument(base, fence.line), patch));
}

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-profiles-doc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Loads a profile's text from a file with the loader gatehouse-edge uses. */
function load(text: string, line: number): AnyDeviceProfile {
  const file = join(dir, `line-${line}.yaml`);
  writeFileSync(file, text.endsWith('\n') ? text : `${text}\n`);
  return loadAnyProfileFile(file);
}

/** What the gateway does with a loaded profile before it polls: resolve and plan its reads. */
function prepare(profile: AnyDeviceProfile): void {
  if (profile.protocol === 'dlt645') {
    dlt645PointsOf(profile);
    return;
  }
  if (profile.protocol === 'opcua') {
    opcuaPointsOf(profile);
    return;
  }
  planProfileReads(profile);
  if (profile.event_buffer) {
    const buffer = eventBufferOf(profile);
    recordReads(buffer, { writeIndex: buffer.capacity - 1, readIndex: 0, overflow: 0 }, profile.limits.max_registers_per_request);
  }
}

/** A complete profile of the document, loaded. */
function docProfile(id: string): AnyDeviceProfile | undefined {
  const shown = DOCUMENTS.get(id);
  return shown && load(shown.fence.body, shown.fence.line);
}

describe('PROFILES.md', () => {
  // A yaml block without a marker, or a marker that fits no block, fails the file as it loads.
  it('uses each kind of marker', () => {
    expect(of('profile').length).toBeGreaterThan(0);
    expect(of('patch').length).toBeGreaterThan(0);
    expect(of('error').length).toBeGreaterThan(0);
    expect(of('config').length).toBeGreaterThan(0);
    expect(of('plan').length).toBeGreaterThan(0);
  });

  describe('example profiles load with the real loader', () => {
    it.each([...DOCUMENTS].map(([id, { fence }]) => [fence.line, id, fence] as const))('the profile at line %i (%s)', (_line, _id, fence) => {
      const profile = load(fence.body, fence.line);
      prepare(profile);
      const shipped = builtInAnyProfile(profile.id);
      if (shipped) expect(profile, `${profile.id} as the document shows it differs from the shipped profile`).toEqual(shipped);
    });

    it.each(of('patch').map((marked) => [marked.fence.line, marked.base, marked] as const))('the patch at line %i (on %s)', (_line, _base, marked) => {
      prepare(load(patchedText(marked.base, marked.fence), marked.fence.line));
    });
  });

  describe('error examples fail with the messages quoted', () => {
    it.each(of('error').map((marked) => [marked.fence.line, marked.path, marked] as const))('the example at line %i (%s)', (_line, path, marked) => {
      const text = marked.base === undefined ? marked.fence.body : patchedText(marked.base, marked.fence);
      let error: unknown;
      try {
        load(text, marked.fence.line);
      } catch (caught) {
        error = caught;
      }
      expect(error, 'the loader accepted it').toBeInstanceOf(ProfileError);
      const issues = (error as ProfileError).issues;
      expect(issues.map((issue) => issue.path)).toContain(path);
      const message = describeIssues(issues);
      if (marked.quoted.endsWith('…')) expect(message.startsWith(marked.quoted.slice(0, -1))).toBe(true);
      else expect(message).toBe(marked.quoted);
    });
  });

  it('names only shipped profiles, or files of profiles it shows, in its configurations', () => {
    for (const { fence } of of('config')) {
      const config: unknown = parseYaml(fence.body);
      const devices = isRecord(config) && Array.isArray(config.devices) ? (config.devices as unknown[]) : [];
      expect(devices.length).toBeGreaterThan(0);
      for (const device of devices) {
        const name = isRecord(device) ? device.profile : undefined;
        expect(typeof name).toBe('string');
        if (/[/.]/.test(name as string)) expect(DOCUMENTS.has(basename(name as string, extname(name as string)))).toBe(true);
        else expect(builtInAnyProfile(name as string), `no shipped profile ${name as string}`).toBeDefined();
      }
    }
  });

  it('shows read plans as the planner makes them', () => {
    for (const { fence, params } of of('plan')) {
      const line: SerialLine = {
        baud: Number(params.baud),
        parity: params.parity as SerialLine['parity'],
        dataBits: 8,
        stopBits: 1,
      };
      const model = { line, turnaroundMs: Number(params.turnaround_ms) };
      let busTotal = 0;
      let expected: string[] = [];
      let checked = 0;
      for (const text of fence.body.split('\n')) {
        const device = /^ {2}device \S+ \(unit \d+, (\S+)\): (\d+) requests?, ([\d.]+) ms per cycle$/.exec(text);
        const request = /^ {4}(\w+) (\d+)\+(\d+) {2}([\d.]+) ms {2}(.+)$/.exec(text);
        const total = /^ {2}bus time per cycle of every device: ([\d.]+) ms$/.exec(text);
        if (device) {
          expect(expected, 'requests the document leaves out').toEqual([]);
          const profile = docProfile(device[1]!) ?? builtInAnyProfile(device[1]!);
          if (profile?.protocol !== 'modbus') throw new Error(`no Modbus profile ${device[1]!}`);
          const plan = planProfileReads(profile, { model });
          const ms = plan.reduce((sum, read) => sum + requestBusMs(model, read.request.table, read.request.count), 0);
          busTotal += ms;
          expect([Number(device[2]), device[3]]).toEqual([plan.length, ms.toFixed(1)]);
          expected = plan.map(
            ({ request, points }) =>
              `${request.table} ${request.address}+${request.count}  ${requestBusMs(model, request.table, request.count).toFixed(1)} ms  ${points.map((point) => point.point).join(', ')}`,
          );
        } else if (request) {
          expect(text.trim()).toBe(expected.shift());
          checked++;
        } else if (total) {
          expect(total[1]).toBe(busTotal.toFixed(1));
        }
      }
      expect(expected).toEqual([]);
      expect(checked).toBeGreaterThan(0);
    }
  });

  describe('reference tables match the code', () => {
    interface FieldInfo {
      required: boolean;
      hasDefault: boolean;
      default?: unknown;
    }

    /** A schema's fields by dotted path: nested objects expanded, unless documented on their own. */
    function fieldsOf(schema: z.ZodObject, prefix = '', own: ReadonlySet<string> = new Set()): Map<string, FieldInfo> {
      const fields = new Map<string, FieldInfo>();
      for (const [key, field] of Object.entries(schema.shape)) {
        let inner = field as z.ZodType;
        const info: FieldInfo = { required: true, hasDefault: false };
        for (;;) {
          if (inner instanceof z.ZodOptional || inner instanceof z.ZodPrefault) {
            info.required = false;
            inner = inner.unwrap() as z.ZodType;
          } else if (inner instanceof z.ZodDefault) {
            const value: unknown = inner.def.defaultValue;
            Object.assign(info, { required: false, hasDefault: true, default: value });
            inner = inner.unwrap() as z.ZodType;
          } else break;
        }
        const path = `${prefix}${key}`;
        if (inner instanceof z.ZodObject && !own.has(path)) for (const [nested, nestedInfo] of fieldsOf(inner, `${path}.`)) fields.set(nested, nestedInfo);
        else fields.set(path, info);
      }
      return fields;
    }

    function documentedFields(...markers: string[]): Map<string, string> {
      const documented = new Map<string, string>();
      for (const marker of markers) {
        const { header, rows, line } = table(`fields: ${marker}`);
        expect(header, `PROFILES.md:${line}`).toEqual(['field', 'type', 'default', 'meaning']);
        for (const [field = '', , defaultCell = ''] of rows) documented.set(unquoted(field), defaultCell);
      }
      return documented;
    }

    function expectFields(documented: Map<string, string>, schema: Map<string, FieldInfo>, what: string): void {
      expect([...documented.keys()].sort(), `${what}: fields`).toEqual([...schema.keys()].sort());
      for (const [field, cell] of documented) {
        const info = schema.get(field)!;
        const where = `${what}: ${field}, default "${cell}"`;
        if (cell === 'required') {
          expect(info.required, where).toBe(true);
        } else if (cell.startsWith('`')) {
          expect(info.hasDefault, where).toBe(true);
          expect(info.default, where).toEqual(parseYaml(/^`([^`]*)`/.exec(cell)![1]!));
        } else {
          expect([info.required, info.hasDefault], where).toEqual([false, false]);
        }
      }
    }

    it('documents every profile field with its default', () => {
      const own = new Set(['event_buffer']);
      expectFields(documentedFields('common', 'modbus'), fieldsOf(DeviceProfile, '', own), 'modbus');
      expectFields(documentedFields('common', 'dlt645'), fieldsOf(Dlt645Profile), 'dlt645');
      expectFields(documentedFields('common', 'opcua'), fieldsOf(OpcuaProfile), 'opcua');
      expectFields(documentedFields('modbus-point'), fieldsOf(ModbusPointMapping), 'modbus point');
      expectFields(documentedFields('event_buffer'), fieldsOf(EventBufferMapping), 'event_buffer');
      expectFields(documentedFields('dlt645-point'), fieldsOf(Dlt645PointMapping), 'dlt645 point');
      expectFields(documentedFields('opcua-point'), fieldsOf(OpcuaPointMapping), 'opcua point');
    });

    it('lists every catalogue event type for event_buffer codes', () => {
      const codes = table('fields: event_buffer').rows.find(([field]) => field === '`codes`')?.join(' ') ?? '';
      for (const type of EVENT_TYPES) expect(codes).toContain(`\`${type}\``);
    });

    it('copies the point catalogue', () => {
      const words = { number: 'number', boolean: 'flag', string: 'text' } as const;
      const expected = Object.entries(POINT_CATALOGUE).flatMap(([kind, points]) =>
        Object.entries(points).map(([point, definition]: [string, { type: keyof typeof words; unit: string; description: string; counter?: boolean }]) => [
          kind,
          point,
          words[definition.type],
          definition.unit === '' ? '—' : definition.unit,
          definition.counter ? 'yes' : '',
          definition.description,
        ]),
      );
      const { header, rows } = table('catalogue');
      expect(header).toEqual(['kind', 'point', 'value', 'unit', 'counter', 'description']);
      expect(rows.map((row) => row.map(unquoted))).toEqual(expected);
    });

    it('lists every Modbus table', () => {
      expect(table('modbus-tables').rows.map(([name = '']) => unquoted(name)).sort()).toEqual([...MODBUS_TABLES].sort());
    });

    it('lists every register type with its width', () => {
      const rows = table('register-types').rows.map(([type = '', registers = '']) => [unquoted(type), registers]);
      const expected = REGISTER_TYPES.map((type: RegisterType) => [type, type === 'string' ? '`length`' : String(registerCount({ type, order: 'ABCD' }))]);
      expect(rows).toEqual(expected);
    });

    it('works the byte orders out right', () => {
      const { header, rows } = table('byte-orders');
      expect(header[2]).toContain('230.5');
      const float32 = Buffer.alloc(4);
      float32.writeFloatBE(230.5);
      const float64 = Buffer.alloc(8);
      float64.writeDoubleBE(-1234.5678);
      expect(new Set(float64).size, 'the 64-bit example needs eight distinct bytes').toBe(8);
      /** Registers holding `bytes` as the letters say: "CD AB" → [C<<8|D, A<<8|B]. */
      const registersOf = (letters: string, bytes: Buffer) =>
        letters.split(' ').map((pair) => {
          const [hi = 0, lo = 0] = [...pair].map((letter) => bytes[letter.charCodeAt(0) - 65]!);
          return (hi << 8) | lo;
        });
      expect(rows.map(([order = '']) => unquoted(order))).toEqual([...BYTE_ORDERS]);
      for (const [orderCell = '', letters32 = '', example = '', letters64 = ''] of rows) {
        const order = unquoted(orderCell) as ByteOrder;
        const registers = registersOf(letters32, float32);
        expect(example.replace(/`/g, '').split(' ').map(Number), order).toEqual(registers);
        expect(encodeRegisters(230.5, { type: 'float32', order }), order).toEqual(registers);
        expect(decodeRegisters(registers, { type: 'float32', order }), order).toBe(230.5);
        expect(decodeRegisters(registersOf(letters64, float64), { type: 'float64', order }), order).toBe(-1234.5678);
      }
    });

    it('lists the DL/T 645 identifiers Gatehouse knows, with their formats', () => {
      const formatText = (format: dlt645.ValueFormat) => {
        const whole = 'X'.repeat(format.digits - format.decimals);
        return format.decimals > 0 ? `${whole}.${'X'.repeat(format.decimals)}` : whole;
      };
      const rows = table('dlt645-dis').rows;
      const known = [...dlt645.DATA_IDENTIFIERS];
      expect(rows.map(([di = '']) => unquoted(di))).toEqual(known.map(([di]) => dlt645.formatDataIdentifier(di)));
      rows.forEach(([, quantity = '', format = '', signed = '', unit = ''], i) => {
        const [, identifier] = known[i]!;
        expect(quantity.startsWith(identifier.name), quantity).toBe(true);
        expect(quantity.includes('not mappable'), quantity).toBe(identifier.format.count > 1);
        expect([unquoted(format), signed, unit]).toEqual([formatText(identifier.format), identifier.format.signed ? 'yes' : 'no', identifier.unit || '—']);
      });
    });

    it('says which catalogue points each OPC UA type fits', () => {
      /** Whether the schema takes a variable of `type` for this point (and values). */
      const takes = (type: string, point: string, values?: Record<string, string>) =>
        OpcuaProfile.safeParse({
          id: 'probe',
          kind: 'elevator',
          vendor: 'v',
          model: 'm',
          protocol: 'opcua',
          namespace: 'urn:probe',
          points: [{ point, browse_path: 'X', type, ...(values ? { values } : {}) }],
        }).success;
      const rows = table('opcua-types').rows;
      expect(rows.map(([type = '']) => unquoted(type))).toEqual([...OPCUA_DATA_TYPES]);
      for (const [typeCell = '', fits = ''] of rows) {
        const type = unquoted(typeCell);
        const expected = [
          takes(type, 'moving') && 'flag points',
          takes(type, 'floor') && 'number points',
          takes(type, 'direction') && 'text points (up to 256 characters)',
          takes(type, 'direction', { 0: 'stopped' }) && !takes(type, 'direction') && 'text points with `values`',
        ].filter(Boolean);
        expect(fits, type).toBe(expected.join('; '));
      }
    });
  });
});
