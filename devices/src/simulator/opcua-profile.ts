import type { Quality, RegisterValue } from '@gatehouse/protocols';
import type { OpcuaDataType, OpcuaProfile } from '../profile/schema.js';

/**
 * An OPC UA profile's points resolved for the wire, and the conversions between a variable's raw
 * value and the catalogue value. Shared by the OPC UA simulator and the gateway's OPC UA client, so
 * that both read one profile the same way. Pure: the client hands in what node-opcua decoded (the
 * variant's data type by name and its JavaScript value), nothing of node-opcua's own.
 */

/** One browse name of a path: in the profile's namespace (`namespace` undefined) or in the one of that index. */
export interface BrowseName {
  namespace: number | undefined;
  name: string;
}

export interface OpcuaPoint {
  point: string;
  /** Browse names below the device's node; undefined when the point has its own NodeId. */
  browsePath: BrowseName[] | undefined;
  /** The variable's NodeId as the profile writes it (`nsu=` or `ns=` form). */
  nodeId: string | undefined;
  type: OpcuaDataType;
  scale: number;
  offset: number;
  /** For a text point held as an integer code: code → text. */
  codes: ReadonlyMap<number, string> | undefined;
}

/** `Status/Floor` or `0:Server/0:ServerStatus`: browse names separated by "/", each with an optional namespace index. */
export function parseBrowsePath(text: string): BrowseName[] {
  return text.split('/').map((segment) => {
    const match = /^(?:(\d+):)?(.+)$/.exec(segment);
    if (!match || match[2]!.includes(':')) throw new RangeError(`"${segment}" is not a browse name (NAME or INDEX:NAME)`);
    return { namespace: match[1] === undefined ? undefined : Number(match[1]), name: match[2]! };
  });
}

export function opcuaPointsOf(profile: OpcuaProfile): OpcuaPoint[] {
  return profile.points.map((mapping) => ({
    point: mapping.point,
    browsePath: mapping.browse_path === undefined ? undefined : parseBrowsePath(mapping.browse_path),
    nodeId: mapping.node_id,
    type: mapping.type,
    scale: mapping.scale,
    offset: mapping.offset,
    codes: mapping.values === undefined ? undefined : new Map(Object.entries(mapping.values).map(([code, text]) => [Number(code), text])),
  }));
}

/**
 * The quality of a value by its StatusCode's severity (Part 4 §7.39: the top two bits, 00 good,
 * 01 uncertain, 10 and 11 bad).
 */
export function qualityOfStatus(code: number): Quality {
  const severity = code >>> 30;
  return severity === 0 ? 'good' : severity === 1 ? 'uncertain' : 'bad';
}

/** The longest text a reading carries (the contract's bound). */
const MAX_TEXT = 256;
const TWO_32 = 2 ** 32;

/**
 * node-opcua carries Int64 and UInt64 as [high, low] 32-bit words; a value beyond 2^53 loses its
 * last digits as every JavaScript number does, which no catalogue quantity comes near.
 */
function int64Of(value: unknown, signed: boolean): number | undefined {
  if (typeof value === 'number' || typeof value === 'bigint') return Number(value);
  if (!Array.isArray(value) || value.length !== 2 || !value.every((word) => typeof word === 'number')) return undefined;
  const [high, low] = value as [number, number];
  return (signed ? high | 0 : high >>> 0) * TWO_32 + (low >>> 0);
}

/**
 * The catalogue value of a variable's raw value, or why there is none. `dataType` is the name of
 * the variant's built-in type as it arrived (`Int32`, `Boolean`, …), which may differ from the one
 * the profile expects: any number fits a number point, but a text or a flag never does.
 */
export function decodeOpcuaValue(point: OpcuaPoint, dataType: string, value: unknown): { value: RegisterValue } | { error: string } {
  const wrong = () => ({ error: `${point.point}: expected ${point.type}, got ${dataType === 'Null' ? 'no value' : dataType}` });
  if (point.type === 'Boolean') return typeof value === 'boolean' ? { value } : wrong();
  if (point.type === 'String') {
    if (typeof value !== 'string') return wrong();
    return value.length <= MAX_TEXT ? { value } : { error: `${point.point}: a text of ${value.length} characters, more than ${MAX_TEXT}` };
  }
  const raw = dataType === 'Int64' || dataType === 'UInt64' ? int64Of(value, dataType === 'Int64') : typeof value === 'number' ? value : undefined;
  if (raw === undefined) return wrong();
  if (!Number.isFinite(raw)) return { error: `${point.point}: ${raw} is not a finite number` };
  if (point.codes) {
    const text = point.codes.get(raw);
    return text === undefined ? { error: `${point.point}: code ${raw} is not one the profile knows` } : { value: text };
  }
  return { value: raw * point.scale + point.offset };
}

/**
 * The raw value a device holds for a catalogue value: the inverse of `decodeOpcuaValue`. Integers
 * are rounded and Int64/UInt64 given as [high, low] words, as node-opcua takes them; RangeError
 * for a value the variable cannot hold.
 */
export function encodeOpcuaValue(point: OpcuaPoint, value: RegisterValue): boolean | string | number | [number, number] {
  const refuse = (): never => {
    throw new RangeError(`${point.point}: ${JSON.stringify(value)} does not fit a ${point.type} variable`);
  };
  if (point.type === 'Boolean') return typeof value === 'boolean' ? value : refuse();
  if (point.type === 'String') return typeof value === 'string' ? value : refuse();
  let raw: number;
  if (point.codes) {
    const code = [...point.codes].find(([, text]) => text === value)?.[0];
    raw = code ?? refuse();
  } else {
    raw = typeof value === 'number' ? (value - point.offset) / point.scale : refuse();
  }
  if (point.type === 'Float' || point.type === 'Double') return raw;
  raw = Math.round(raw);
  const [min, max] = INTEGER_RANGES[point.type];
  if (raw < min || raw > max) refuse();
  if (point.type === 'Int64' || point.type === 'UInt64') return [Math.floor(raw / TWO_32) >>> 0, raw >>> 0];
  return raw;
}

const INTEGER_RANGES: Record<Exclude<OpcuaDataType, 'Boolean' | 'String' | 'Float' | 'Double'>, [number, number]> = {
  SByte: [-128, 127],
  Byte: [0, 255],
  Int16: [-32768, 32767],
  UInt16: [0, 65535],
  Int32: [-(2 ** 31), 2 ** 31 - 1],
  UInt32: [0, TWO_32 - 1],
  Int64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UInt64: [0, Number.MAX_SAFE_INTEGER],
};
