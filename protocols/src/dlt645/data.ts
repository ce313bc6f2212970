/**
 * DL/T 645-2007 data: what a data identifier (DI) names and how its value is written.
 *
 * A DI is four bytes, DI3 DI2 DI1 DI0, written most significant first in the standard's tables
 * ("00010000") and sent DI0 first on the line. A value is BCD, least significant byte first, in a
 * fixed format the standard writes as digits and a decimal point: XXXXXX.XX kWh is four bytes,
 * 12345.67 kWh being the BCD digits 00 12 34 56 67 sent as 67 45 23 01. Signed quantities (current,
 * power, power factor) use the top bit of the most significant byte as the sign (Appendix A).
 */
export interface ValueFormat {
  /** BCD digits, two per byte. */
  digits: number;
  /** Digits after the decimal point. */
  decimals: number;
  /** The most significant bit is a sign (1: negative), leaving the top digit 0..7. */
  signed: boolean;
  /** Values in the data field (3 for the per-phase blocks "FF"), each `digits / 2` bytes. */
  count: number;
}

export interface DataIdentifier {
  /** What the standard calls it. */
  name: string;
  unit: string;
  format: ValueFormat;
}

/** A format as the standard writes it, e.g. "XXX.XXX"; undefined when it is not one. */
export function parseValueFormat(text: string, signed = false, count = 1): ValueFormat | undefined {
  const match = /^(X+)(?:\.(X+))?$/.exec(text);
  if (!match) return undefined;
  const digits = match[1]!.length + (match[2]?.length ?? 0);
  if (digits % 2 !== 0) return undefined;
  return { digits, decimals: match[2]?.length ?? 0, signed, count };
}

const format = (text: string, signed = false, count = 1): ValueFormat => parseValueFormat(text, signed, count)!;

const ENERGY = format('XXXXXX.XX');
const PHASES = ['A', 'B', 'C'] as const;

/**
 * The DIs Gatehouse knows the format of (DL/T 645-2007 Appendix A, tables A.1 and A.3): the
 * current totals of energy, and the instantaneous variables of a meter. A profile may name any
 * other DI if it gives the format.
 */
export const DATA_IDENTIFIERS: ReadonlyMap<number, DataIdentifier> = new Map<number, DataIdentifier>([
  // A.1: combined active energy may run backwards and so carries a sign.
  [0x00000000, { name: 'combined active energy, total', unit: 'kWh', format: format('XXXXXX.XX', true) }],
  [0x00010000, { name: 'forward (import) active energy, total', unit: 'kWh', format: ENERGY }],
  [0x00020000, { name: 'reverse (export) active energy, total', unit: 'kWh', format: ENERGY }],
  [0x00030000, { name: 'combined reactive energy 1, total', unit: 'kvarh', format: format('XXXXXX.XX', true) }],
  [0x00040000, { name: 'combined reactive energy 2, total', unit: 'kvarh', format: format('XXXXXX.XX', true) }],
  // A.3: variables.
  ...PHASES.map((phase, i): [number, DataIdentifier] => [
    0x02010100 + i * 0x100,
    { name: `phase ${phase} voltage`, unit: 'V', format: format('XXX.X') },
  ]),
  [0x0201ff00, { name: 'voltage block (A, B, C)', unit: 'V', format: format('XXX.X', false, 3) }],
  ...PHASES.map((phase, i): [number, DataIdentifier] => [
    0x02020100 + i * 0x100,
    { name: `phase ${phase} current`, unit: 'A', format: format('XXX.XXX', true) },
  ]),
  [0x0202ff00, { name: 'current block (A, B, C)', unit: 'A', format: format('XXX.XXX', true, 3) }],
  [0x02030000, { name: 'active power, total', unit: 'kW', format: format('XX.XXXX', true) }],
  ...PHASES.map((phase, i): [number, DataIdentifier] => [
    0x02030100 + i * 0x100,
    { name: `phase ${phase} active power`, unit: 'kW', format: format('XX.XXXX', true) },
  ]),
  [0x02040000, { name: 'reactive power, total', unit: 'kvar', format: format('XX.XXXX', true) }],
  [0x02050000, { name: 'apparent power, total', unit: 'kVA', format: format('XX.XXXX', true) }],
  [0x02060000, { name: 'power factor, total', unit: '', format: format('X.XXX', true) }],
  [0x02800002, { name: 'grid frequency', unit: 'Hz', format: format('XX.XX') }],
]);

/** "00010000" (DI3 first, as the standard writes it) → 0x00010000. */
export function parseDataIdentifier(text: string): number {
  if (!/^[0-9A-Fa-f]{8}$/.test(text)) throw new RangeError(`data identifier "${text}": expected eight hex digits, DI3 first`);
  return Number.parseInt(text, 16);
}

/** 0x00010000 → "00010000". */
export function formatDataIdentifier(di: number): string {
  return (di >>> 0).toString(16).padStart(8, '0').toUpperCase();
}

/** The four DI bytes as they go in the data field: DI0 first. */
export function encodeDataIdentifier(di: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(di >>> 0);
  return bytes;
}

export function decodeDataIdentifier(bytes: Uint8Array): number {
  return Buffer.from(bytes.subarray(0, 4)).readUInt32LE(0);
}

/** Bytes one value of `format` takes. */
export function valueBytes(format: ValueFormat): number {
  return format.digits / 2;
}

export type ValueDecode = { ok: true; values: number[] } | { ok: false; error: string };

/** The values in a data field (after the DI), or why they are not values of `format`. */
export function decodeValues(bytes: Uint8Array, format: ValueFormat): ValueDecode {
  const width = valueBytes(format);
  if (bytes.length !== width * format.count) {
    return { ok: false, error: `${bytes.length} value bytes, expected ${width * format.count}` };
  }
  const values: number[] = [];
  for (let v = 0; v < format.count; v++) {
    let magnitude = 0;
    let negative = false;
    for (let i = width - 1; i >= 0; i--) {
      let byte = bytes[v * width + i]!;
      if (i === width - 1 && format.signed) {
        negative = (byte & 0x80) !== 0;
        byte &= 0x7f;
      }
      const high = byte >> 4;
      const low = byte & 0x0f;
      if (high > 9 || low > 9) return { ok: false, error: `byte 0x${byte.toString(16).padStart(2, '0')} is not BCD` };
      magnitude = magnitude * 100 + high * 10 + low;
    }
    const value = magnitude / 10 ** format.decimals;
    values.push(negative && value !== 0 ? -value : value);
  }
  return { ok: true, values };
}

/** `values` in `format`, least significant byte first; RangeError when one does not fit. */
export function encodeValues(values: readonly number[], format: ValueFormat): Buffer {
  if (values.length !== format.count) throw new RangeError(`${values.length} values, the format holds ${format.count}`);
  const width = valueBytes(format);
  const bytes = Buffer.alloc(width * format.count);
  values.forEach((value, v) => {
    const scaled = Math.round(Math.abs(value) * 10 ** format.decimals);
    // A signed format gives its top bit to the sign, so its top digit goes up to 7 only.
    const limit = format.signed ? 8 * 10 ** (format.digits - 1) : 10 ** format.digits;
    if (!Number.isFinite(value) || scaled >= limit || (value < 0 && !format.signed)) {
      throw new RangeError(`${value} does not fit ${describeFormat(format)}`);
    }
    let rest = scaled;
    for (let i = 0; i < width; i++) {
      const pair = rest % 100;
      rest = Math.floor(rest / 100);
      bytes[v * width + i] = (Math.floor(pair / 10) << 4) | pair % 10;
    }
    if (value < 0 && scaled > 0) bytes[v * width + width - 1]! |= 0x80;
  });
  return bytes;
}

/** "XXX.XXX, signed", as the standard writes formats. */
export function describeFormat(format: ValueFormat): string {
  const whole = 'X'.repeat(format.digits - format.decimals);
  const text = format.decimals > 0 ? `${whole}.${'X'.repeat(format.decimals)}` : whole;
  return `${text}${format.signed ? ', signed' : ''}${format.count > 1 ? ` ×${format.count}` : ''}`;
}
