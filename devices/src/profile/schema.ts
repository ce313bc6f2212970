import { z } from 'zod';
import {
  BYTE_ORDERS,
  DEVICE_KINDS,
  dlt645,
  EVENT_TYPES,
  pointDefinition,
  REGISTER_TYPES,
  registerCount,
  type DeviceKind,
} from '@gatehouse/protocols';

/**
 * A device profile: how one model's vendor registers become catalogue points. Profiles are data
 * (YAML or JSON) so that an installer can describe a new model without code.
 */
export const MODBUS_TABLES = ['holding', 'input', 'coil', 'discrete'] as const;
export type ModbusTable = (typeof MODBUS_TABLES)[number];

/** Coils and discrete inputs hold single bits; holding and input registers hold 16-bit words. */
export function isBitTable(table: ModbusTable): boolean {
  return table === 'coil' || table === 'discrete';
}

/**
 * An object of a profile that refuses keys it does not know, as the agent's configuration does:
 * a misspelt optional field (`scal: 0.1`, `writeable: true`) would otherwise be dropped without a
 * word, and the point read unscaled or never written. The message names the key, and the field it
 * was probably meant to be.
 */
function strictObject<T extends z.ZodRawShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => (issue.code === 'unrecognized_keys' ? unknownKeysMessage(issue.keys, known) : undefined),
  });
}

function unknownKeysMessage(keys: readonly string[], known: readonly string[]): string {
  const named = keys.map((key) => {
    const meant = nearestKey(key, known);
    return meant === undefined ? `"${key}"` : `"${key}" (did you mean "${meant}"?)`;
  });
  return `Unrecognized key${keys.length === 1 ? '' : 's'}: ${named.join(', ')}`;
}

/**
 * The known key a typo was most likely meant to be: at most two edits away (a letter left out,
 * added, changed, or two swapped), and fewer edits than half its length, so that a short
 * unrelated key is not "corrected".
 */
function nearestKey(key: string, known: readonly string[]): string | undefined {
  let best: { key: string; distance: number } | undefined;
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate);
    if (distance <= 2 && distance * 2 < key.length && (!best || distance < best.distance)) best = { key: candidate, distance };
  }
  return best?.key;
}

/** Optimal string alignment distance: Levenshtein, with a swap of two neighbours as one edit. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = distance;
    }
  }
  return rows[a.length]![b.length]!;
}

/**
 * Register numbers as manuals print them (the Modicon convention): the table's digit, then the
 * register counted from 1, in five digits or six. Input register 30053 (or 300053) is address 52;
 * holding 40001 is address 0. Coils (0xxxx) have no digit to tell them by.
 */
const REGISTER_NUMBERS = [
  { table: 'discrete', digit: 1, name: 'discrete input' },
  { table: 'input', digit: 3, name: 'input register' },
  { table: 'holding', digit: 4, name: 'holding register' },
] as const;

/** `address` as `0x0034`, as profiles write addresses. */
function hex(address: number): string {
  return `0x${address.toString(16).padStart(4, '0')}`;
}

/**
 * Why an address in its own table's range of five-digit register numbers (discrete 10001–19999,
 * input 30001–39999, holding 40001–49999) is probably such a number copied as it stands;
 * undefined for any other address. Such an address is legal Modbus, and a few devices do use it:
 * `raw_addresses: true` says so.
 */
function registerNumberMessage(table: ModbusTable, address: number): string | undefined {
  const numbering = REGISTER_NUMBERS.find((candidate) => candidate.table === table);
  if (!numbering) return undefined;
  const base = numbering.digit * 10000 + 1;
  if (address < base || address > base + 9998) return undefined;
  return `${address} looks like the manual's register number (${numbering.digit}xxxx = ${numbering.name}): the address is ${address - base} (${hex(address - base)}); if the device's address really is ${address}, set raw_addresses: true`;
}

/**
 * A six-digit register number (300053, 400001) cannot be an address at all: say which address it
 * stands for rather than only that it is too big.
 */
function sixDigitMessage(input: unknown): string | undefined {
  if (typeof input !== 'number') return undefined;
  const numbering = REGISTER_NUMBERS.find((candidate) => candidate.digit === Math.floor(input / 100000));
  if (!numbering) return undefined;
  const address = input - (numbering.digit * 100000 + 1);
  if (address < 0 || address > 0xffff) return undefined;
  return `${input} looks like the manual's six-digit register number (${numbering.digit}xxxxx = ${numbering.name}): the address is ${address} (${hex(address)})`;
}

/** A Modbus protocol address, 0–65535. */
const address = () => z.number().int().min(0).max(0xffff, { error: (issue) => sixDigitMessage(issue.input) });

export const ModbusPointMapping = strictObject({
  point: z.string().min(1),
  table: z.enum(MODBUS_TABLES).optional(),
  /** Zero-based protocol address (register 40001 of a vendor's table is address 0). */
  address: address(),
  type: z.enum(REGISTER_TYPES).default('uint16'),
  order: z.enum(BYTE_ORDERS).optional(),
  length: z.number().int().min(1).max(123).optional(),
  bit: z.number().int().min(0).max(15).optional(),
  /** engineering value = raw × scale + offset, in the catalogue's unit. */
  scale: z.number().finite().refine((scale) => scale !== 0, 'must not be 0').default(1),
  offset: z.number().finite().default(0),
  /** A master may write this point (a command: open a barrier, unlock a door); no other point. */
  writable: z.boolean().optional(),
  /** A text point held as a code: raw integer → text, e.g. `{ 0: stopped, 1: up, 2: down }`. */
  values: z.record(z.string().regex(/^-?\d+$/, 'a key is the raw integer code'), z.string().min(1)).optional(),
});

/**
 * A ring buffer of event records in holding registers, as access controllers keep their card
 * events: the controller writes a record at `write_index` and advances it; the master reads the
 * records from `read_index` up to `write_index` and then writes `read_index` forward. Records hold
 * `sequence` (uint32, never reused), `timestamp` (uint32, Unix seconds UTC), `card` (uint32) and
 * `code` (uint16) at the register offsets given; 32-bit fields use the profile's word order.
 */
export const EventBufferMapping = strictObject({
  write_index: address(),
  read_index: address(),
  /** Events overwritten before the master took them (uint16, wraps). */
  overflow_count: address().optional(),
  /** The first register of slot 0; slot i starts at records + i × record_registers. */
  records: address(),
  capacity: z.number().int().min(2).max(4096),
  record_registers: z.number().int().min(4).max(125),
  fields: strictObject({
    sequence: z.number().int().min(0),
    timestamp: z.number().int().min(0),
    card: z.number().int().min(0),
    code: z.number().int().min(0),
  }),
  /** The controller's event codes → catalogue event types. */
  codes: z.record(z.string().regex(/^\d+$/, 'a key is the event code'), z.enum(EVENT_TYPES)),
});

/** The fields every profile has, whatever its protocol. */
const COMMON_FIELDS = {
  id: z.string().regex(/^[a-z0-9][a-z0-9-]*$/, 'lower-case letters, digits and "-"'),
  kind: z.enum(DEVICE_KINDS as [DeviceKind, ...DeviceKind[]]),
  vendor: z.string().min(1),
  model: z.string().min(1),
  description: z.string().default(''),
};

const ProfileShape = strictObject({
  ...COMMON_FIELDS,
  protocol: z.literal('modbus'),
  defaults: strictObject({
    table: z.enum(MODBUS_TABLES).default('holding'),
    order: z.enum(BYTE_ORDERS).default('ABCD'),
  }).prefault({}),
  limits: strictObject({
    /** Modbus allows 125 registers (2000 bits) per read; many meters accept fewer. */
    max_registers_per_request: z.number().int().min(1).max(125).default(125),
    max_bits_per_request: z.number().int().min(1).max(2000).default(2000),
  }).prefault({}),
  /**
   * The addresses are the device's own even where they look like the manual's register numbers
   * (input 30001–39999, holding 40001–49999, discrete 10001–19999), which are refused otherwise.
   */
  raw_addresses: z.boolean().optional(),
  points: z.array(ModbusPointMapping).min(1),
  event_buffer: EventBufferMapping.optional(),
});

/** Cross-field rules, each reported at the path of the field that breaks it. */
export const DeviceProfile = ProfileShape.superRefine((profile, ctx) => {
  const seen = new Set<string>();
  profile.points.forEach((mapping, index) => {
    const at = (field: string) => ['points', index, field];
    const definition = pointDefinition(profile.kind, mapping.point);
    if (!definition) {
      ctx.addIssue({ code: 'custom', path: at('point'), message: `${profile.kind} has no point "${mapping.point}"` });
      return;
    }
    if (seen.has(mapping.point)) {
      ctx.addIssue({ code: 'custom', path: at('point'), message: `"${mapping.point}" is mapped twice` });
    }
    seen.add(mapping.point);
    const table = mapping.table ?? profile.defaults.table;
    if (isBitTable(table) && mapping.type !== 'bool') {
      ctx.addIssue({ code: 'custom', path: at('type'), message: `a ${table} holds one bit: use type bool` });
    }
    if ((definition.type === 'boolean') !== (mapping.type === 'bool')) {
      ctx.addIssue({
        code: 'custom',
        path: at('type'),
        message: `"${mapping.point}" is a ${definition.type} point; ${mapping.type} does not fit it`,
      });
    }
    if (mapping.type === 'string' && !mapping.length) {
      ctx.addIssue({ code: 'custom', path: at('length'), message: 'a string needs its length in registers' });
    }
    const width = isBitTable(table) ? 1 : registerCount({ type: mapping.type, order: 'ABCD', length: mapping.length ?? 1 });
    // An address above 65535 is reported by `address` itself.
    if (mapping.address <= 0xffff && mapping.address + width > 0x10000) {
      ctx.addIssue({ code: 'custom', path: at('address'), message: 'runs past the last Modbus address (65535)' });
    }
    const registerNumber = profile.raw_addresses ? undefined : registerNumberMessage(table, mapping.address);
    if (registerNumber) ctx.addIssue({ code: 'custom', path: at('address'), message: registerNumber });
    // The read planner cannot split a value over two requests: a wider point could never be read.
    const limit = profile.limits.max_registers_per_request;
    if (!isBitTable(table) && width > limit) {
      ctx.addIssue({
        code: 'custom',
        path: at(mapping.type === 'string' ? 'length' : 'type'),
        message: `"${mapping.point}" is ${width} registers wide (${mapping.type}), more than the ${limit} a request may read (limits.max_registers_per_request)`,
      });
    }
    checkWritable(mapping, table, (message) => ctx.addIssue({ code: 'custom', path: at('writable'), message }));
    checkCodedText(definition.type, mapping, (field, message) => ctx.addIssue({ code: 'custom', path: at(field), message }));
  });
  if (profile.event_buffer) {
    checkEventBuffer(profile, profile.event_buffer, (field, message) =>
      ctx.addIssue({ code: 'custom', path: ['event_buffer', ...field], message }),
    );
  }
});

/**
 * What the gateway can write (edge/src/commands/plan.ts): a coil (FC 5), or whole holding
 * registers (FC 6, FC 16). A flag in one bit of a holding register is refused there, since
 * writing the word would change the register's other bits; say so here, before a command fails.
 */
function checkWritable(mapping: z.infer<typeof ModbusPointMapping>, table: ModbusTable, issue: (message: string) => void): void {
  if (!mapping.writable) return;
  if (table === 'input' || table === 'discrete') {
    issue(`a ${table} table is read-only in Modbus: only coils and holding registers can be written`);
  } else if (table === 'holding' && mapping.type === 'bool') {
    issue(`"${mapping.point}" is one bit of a holding register, which the gateway cannot write without changing the other bits: a writable flag must be a coil`);
  }
}

const INTEGER_TYPES = new Set(['int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bcd16', 'bcd32']);

/** A text point reads a string register, or an integer code with its `values`; nothing else. */
function checkCodedText(
  pointType: string,
  mapping: z.infer<typeof ModbusPointMapping>,
  issue: (field: string, message: string) => void,
): void {
  if (mapping.values && !INTEGER_TYPES.has(mapping.type)) issue('values', 'codes need an integer register type');
  if (mapping.values && pointType !== 'string') issue('values', `"${mapping.point}" is a ${pointType} point, not a text`);
  if (pointType === 'string' && mapping.type !== 'string' && !mapping.values) {
    issue('type', `"${mapping.point}" is a text: use type string, or an integer type with values`);
  }
}

function checkEventBuffer(
  profile: z.infer<typeof ProfileShape>,
  buffer: z.infer<typeof EventBufferMapping>,
  issue: (field: string[], message: string) => void,
): void {
  const widths = { sequence: 2, timestamp: 2, card: 2, code: 1 } as const;
  for (const [field, width] of Object.entries(widths) as Array<[keyof typeof widths, number]>) {
    if (buffer.fields[field] + width > buffer.record_registers) {
      issue(['fields', field], `runs past the end of a ${buffer.record_registers}-register record`);
    }
  }
  const end = buffer.records + buffer.capacity * buffer.record_registers;
  if (end > 0x10000) issue(['records'], 'the records run past the last Modbus address (65535)');
  for (const header of ['write_index', 'read_index', 'overflow_count'] as const) {
    const address = buffer[header];
    if (address !== undefined && address >= buffer.records && address < end) {
      issue([header], 'lies inside the records');
    }
  }
  if (!profile.raw_addresses) {
    for (const field of ['write_index', 'read_index', 'overflow_count', 'records'] as const) {
      const address = buffer[field];
      const registerNumber = address === undefined ? undefined : registerNumberMessage('holding', address);
      if (registerNumber) issue([field], registerNumber);
    }
  }
  // A record is read whole, in one request (recordReads).
  const limit = profile.limits.max_registers_per_request;
  if (buffer.record_registers > limit) {
    issue(['record_registers'], `a record of ${buffer.record_registers} registers is wider than the ${limit} a request may read (limits.max_registers_per_request)`);
  }
}

export type DeviceProfile = z.infer<typeof DeviceProfile>;
export type ModbusPointMapping = z.infer<typeof ModbusPointMapping>;
export type EventBufferMapping = z.infer<typeof EventBufferMapping>;

/**
 * A DL/T 645-2007 meter (`protocol: dlt645`): each point is read by its data identifier, and its
 * value comes in the BCD format the standard gives that identifier, already in the catalogue's
 * unit for the quantities Gatehouse knows (kWh, V, A, kW, Hz). A DI Gatehouse does not know needs
 * its format, as the standard writes it.
 */
export const Dlt645PointMapping = strictObject({
  point: z.string().min(1),
  /** DI3 DI2 DI1 DI0 as the standard writes them, e.g. "00010000" for forward active energy. */
  di: z.string().regex(/^[0-9A-Fa-f]{8}$/, 'eight hex digits, DI3 first, e.g. "00010000"'),
  /** e.g. "XXX.XXX"; default: the standard's format of the DI. */
  format: z.string().optional(),
  /** With `format`: its top bit is a sign. */
  signed: z.boolean().optional(),
  /** catalogue value = decoded value × scale (a CT ratio the meter does not apply, say). */
  scale: z.number().finite().refine((scale) => scale !== 0, 'must not be 0').default(1),
});

export const Dlt645Profile = strictObject({ ...COMMON_FIELDS, protocol: z.literal('dlt645'), points: z.array(Dlt645PointMapping).min(1) })
  .superRefine((profile, ctx) => {
    const mapped = new Set<string>();
    for (const [index, mapping] of profile.points.entries()) {
      const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: ['points', index, field], message });
      const type = pointDefinition(profile.kind, mapping.point)?.type;
      if (type === undefined) issue('point', `${profile.kind} has no point "${mapping.point}"`);
      else if (type !== 'number') issue('point', `"${mapping.point}" is a ${type} point; DL/T 645 values are numbers`);
      if (mapped.has(mapping.point)) issue('point', `"${mapping.point}" is mapped twice`);
      mapped.add(mapping.point);
      if (mapping.format !== undefined && !dlt645.parseValueFormat(mapping.format)) {
        issue('format', 'a format as the standard writes it, whole bytes of digits: e.g. "XXX.X" or "XXXXXX.XX"');
      }
      const known = dlt645.DATA_IDENTIFIERS.get(Number.parseInt(mapping.di, 16));
      if (mapping.format === undefined && !known) {
        issue('format', `DI ${mapping.di.toUpperCase()} is not one Gatehouse knows: give its format`);
      }
      if (known && known.format.count > 1) issue('di', `DI ${mapping.di.toUpperCase()} is a block of ${known.format.count} values: map its single DIs`);
    }
  });

/** OPC UA built-in data types (Part 6 §5.1.2) a mapped variable may have, by their names. */
export const OPCUA_DATA_TYPES = ['Boolean', 'SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64', 'Float', 'Double', 'String'] as const;
export type OpcuaDataType = (typeof OPCUA_DATA_TYPES)[number];
const OPCUA_INTEGER_TYPES: ReadonlySet<string> = new Set(['SByte', 'Byte', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64', 'UInt64']);

/**
 * A NodeId as OPC UA writes it in text (Part 6 §5.3.1.10): `ns=2;s=Car1.Floor`, or with the
 * namespace by its URI, `nsu=urn:vendor:lift;s=Car1.Floor`, which stays right when a server
 * renumbers its namespaces; `i=`, `s=`, `g=` and `b=` identifiers.
 */
export const OPCUA_NODE_ID =
  /^(?:(?:ns=\d+|nsu=[^;]+);)?(?:i=\d+|s=.+|g=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|b=[A-Za-z0-9+/]+={0,2})$/;

/** Browse names separated by "/", each in the profile's namespace unless prefixed by an index (`0:` the standard one). */
export const OPCUA_BROWSE_PATH = /^(?:\d+:)?[^/:]+(?:\/(?:\d+:)?[^/:]+)*$/;

/**
 * A point of an OPC UA device (`protocol: opcua`): a variable that the gateway subscribes to, found
 * by its browse path below the device's node (the usual case: one object per device, the same
 * variables under each) or by its own NodeId.
 */
export const OpcuaPointMapping = strictObject({
  point: z.string().min(1),
  /** e.g. `Floor`, or `Status/Floor`: browse names below the device's node. */
  browse_path: z.string().regex(OPCUA_BROWSE_PATH, 'browse names separated by "/", e.g. "Status/Floor"').optional(),
  /** The variable's NodeId, for a device whose variables are not under one node. */
  node_id: z.string().regex(OPCUA_NODE_ID, 'a NodeId such as "nsu=urn:vendor:lift;s=Car1.Floor" or "ns=2;i=1042"').optional(),
  /** The variable's data type: a value of another type arrives with quality bad. */
  type: z.enum(OPCUA_DATA_TYPES),
  /** catalogue value = raw × scale + offset, for numbers. */
  scale: z.number().finite().refine((scale) => scale !== 0, 'must not be 0').default(1),
  offset: z.number().finite().default(0),
  /** A text point held as an integer code (an enumeration): raw code → text, e.g. `{ 0: stopped, 1: up, 2: down }`. */
  values: z.record(z.string().regex(/^-?\d+$/, 'a key is the raw integer code'), z.string().min(1)).optional(),
});

export const OpcuaProfile = strictObject({
  ...COMMON_FIELDS,
  protocol: z.literal('opcua'),
  /** The namespace URI of the model's nodes; browse names without an index are in it. */
  namespace: z.string().min(1),
  points: z.array(OpcuaPointMapping).min(1),
})
  .superRefine((profile, ctx) => {
    const mapped = new Set<string>();
    for (const [index, mapping] of profile.points.entries()) {
      const issue = (field: string, message: string) => ctx.addIssue({ code: 'custom', path: ['points', index, field], message });
      if (mapped.has(mapping.point)) issue('point', `"${mapping.point}" is mapped twice`);
      mapped.add(mapping.point);
      if ((mapping.browse_path === undefined) === (mapping.node_id === undefined)) issue('browse_path', 'give a browse_path or a node_id, one of them');
      const type = pointDefinition(profile.kind, mapping.point)?.type;
      if (type === undefined) {
        issue('point', `${profile.kind} has no point "${mapping.point}"`);
        continue;
      }
      const integer = OPCUA_INTEGER_TYPES.has(mapping.type);
      if (mapping.values && !(integer && type === 'string')) issue('values', 'codes map an integer variable onto a text point');
      const fits =
        type === 'boolean'
          ? mapping.type === 'Boolean'
          : type === 'string'
            ? mapping.type === 'String' || (integer && mapping.values !== undefined)
            : integer || mapping.type === 'Float' || mapping.type === 'Double';
      if (!fits) issue('type', `"${mapping.point}" is a ${type} point; a variable of type ${mapping.type} does not fit it${type === 'string' && integer ? ' without values' : ''}`);
    }
  });

/** A profile of any protocol; `protocol` says which. */
export const AnyDeviceProfile = z.discriminatedUnion('protocol', [DeviceProfile, Dlt645Profile, OpcuaProfile]);

export type Dlt645PointMapping = z.infer<typeof Dlt645PointMapping>;
export type Dlt645Profile = z.infer<typeof Dlt645Profile>;
export type AnyDeviceProfile = z.infer<typeof AnyDeviceProfile>;
export type OpcuaPointMapping = z.infer<typeof OpcuaPointMapping>;
export type OpcuaProfile = z.infer<typeof OpcuaProfile>;
