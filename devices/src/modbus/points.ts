import {
  decodeRegisters,
  RegisterDecodeError,
  encodeRegisters,
  registerCount,
  type RegisterLayout,
  type RegisterValue,
} from '@gatehouse/protocols';
import { isBitTable, type DeviceProfile, type ModbusTable } from '../profile/schema.js';

/** A profile's point mapping with the profile's defaults applied. */
export interface ModbusPoint {
  point: string;
  table: ModbusTable;
  address: number;
  /** Registers, or bits for coils and discrete inputs. */
  count: number;
  layout: RegisterLayout;
  scale: number;
  offset: number;
  /** A master may write it (see the profile's `writable`). */
  writable: boolean;
  /** Raw integer code → text, for text points held as codes. */
  values?: Readonly<Record<string, string>>;
}

export function modbusPointsOf(profile: DeviceProfile): ModbusPoint[] {
  return profile.points.map((mapping) => {
    const table = mapping.table ?? profile.defaults.table;
    const layout: RegisterLayout = {
      type: mapping.type,
      order: mapping.order ?? profile.defaults.order,
      ...(mapping.length === undefined ? {} : { length: mapping.length }),
      ...(mapping.bit === undefined ? {} : { bit: mapping.bit }),
    };
    return {
      point: mapping.point,
      table,
      address: mapping.address,
      count: isBitTable(table) ? 1 : registerCount(layout),
      layout,
      scale: mapping.scale,
      offset: mapping.offset,
      writable: mapping.writable ?? false,
      ...(mapping.values === undefined ? {} : { values: mapping.values }),
    };
  });
}

/**
 * Scaling multiplies by decimal fractions that binary floating point cannot hold exactly
 * (1234567 × 0.01 = 12345.670000000002); twelve significant digits remove that noise and keep
 * more precision than any meter has.
 */
function tidy(value: number): number {
  return Number(value.toPrecision(12));
}

/** Raw words (or bits) of one point → its engineering value in the catalogue's unit. */
export function decodePoint(point: ModbusPoint, raw: readonly number[] | readonly boolean[]): RegisterValue {
  if (isBitTable(point.table)) return Boolean(raw[0]);
  const value = decodeRegisters(raw as readonly number[], point.layout);
  if (point.values) return codeText(point, value);
  if (typeof value !== 'number') return value;
  if (point.scale === 1 && point.offset === 0) return value;
  return tidy(value * point.scale + point.offset);
}

/** An engineering value → the raw words a device holds for it (simulators and writes use it). */
export function encodePoint(point: ModbusPoint, value: RegisterValue): number[] {
  if (point.values) return encodeRegisters(textCode(point, value), point.layout);
  if (typeof value !== 'number') return encodeRegisters(value, point.layout);
  return encodeRegisters((value - point.offset) / point.scale, point.layout);
}

/** A coded text point's text; an unknown code is a decode error (the reading is bad), not a guess. */
function codeText(point: ModbusPoint, code: RegisterValue): string {
  const text = point.values?.[String(code)];
  if (text === undefined) throw new RegisterDecodeError(`${point.point}: code ${String(code)} is not one of the profile's values`);
  return text;
}

function textCode(point: ModbusPoint, text: RegisterValue): number {
  const entry = Object.entries(point.values ?? {}).find(([, value]) => value === text);
  if (!entry) throw new RangeError(`${point.point}: "${String(text)}" is not one of the profile's values`);
  return Number(entry[0]);
}
