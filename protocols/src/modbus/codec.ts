/**
 * Modbus register codec: how a value of a data type is laid out across 16-bit registers.
 *
 * The Modbus application protocol (V1.1b3 §4.2) only says that a register is sent big-endian;
 * how a 32- or 64-bit value spans several registers is up to each vendor. We name the layouts by
 * the order in which the value's bytes, A being the most significant, appear on the wire:
 *   ABCD  big-endian words, big-endian bytes (Modicon "high word first")
 *   CDAB  low word first ("word swap"), common on meters from many vendors
 *   BADC  bytes swapped within each register
 *   DCBA  fully little-endian
 * For 64-bit values the same two swaps (of registers, of bytes within a register) apply.
 *
 * A string is not a number spread over registers but characters in address order, two to a
 * register: its registers are never reversed. `order` only says whether a register carries its
 * first character in the high byte (ABCD, CDAB) or the low byte (BADC, DCBA), as Telegraf's and
 * Neuron's Modbus drivers read strings too. So a profile whose `CDAB` default is meant for its
 * 32-bit values reads its texts right as they come.
 */
export const BYTE_ORDERS = ['ABCD', 'CDAB', 'BADC', 'DCBA'] as const;
export type ByteOrder = (typeof BYTE_ORDERS)[number];

export const REGISTER_TYPES = [
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'uint64',
  'float32',
  'float64',
  'bcd16',
  'bcd32',
  'string',
  'bool',
] as const;
export type RegisterType = (typeof REGISTER_TYPES)[number];

export interface RegisterLayout {
  type: RegisterType;
  order: ByteOrder;
  /** Registers a string spans. */
  length?: number;
  /** The bit (0 = least significant) of a register that a `bool` reads. */
  bit?: number;
}

export type RegisterValue = number | boolean | string;

const FIXED_WIDTH: Record<Exclude<RegisterType, 'string'>, number> = {
  int16: 1,
  uint16: 1,
  int32: 2,
  uint32: 2,
  int64: 4,
  uint64: 4,
  float32: 2,
  float64: 4,
  bcd16: 1,
  bcd32: 2,
  bool: 1,
};

/** How many registers a value of this layout occupies. */
export function registerCount(layout: RegisterLayout): number {
  if (layout.type === 'string') {
    if (!layout.length || layout.length < 1) throw new RangeError('a string needs a length in registers');
    return layout.length;
  }
  return FIXED_WIDTH[layout.type];
}

/** Thrown when registers do not hold a valid value of the layout (e.g. a BCD nibble above 9). */
export class RegisterDecodeError extends Error {
  override name = 'RegisterDecodeError';
}

/** The swaps a layout's order makes: of registers (never for a string, see above), of the bytes in each. */
function swapsOf(layout: RegisterLayout): { words: boolean; bytes: boolean } {
  const { order } = layout;
  return {
    words: layout.type !== 'string' && (order === 'CDAB' || order === 'DCBA'),
    bytes: order === 'BADC' || order === 'DCBA',
  };
}

/** Wire registers → the value's bytes, most significant (or first) first. */
function toBigEndianBytes(registers: readonly number[], layout: RegisterLayout): Buffer {
  const { words, bytes } = swapsOf(layout);
  const ordered = words ? [...registers].reverse() : registers;
  const buffer = Buffer.alloc(ordered.length * 2);
  ordered.forEach((register, i) => {
    const hi = (register >> 8) & 0xff;
    const lo = register & 0xff;
    buffer[i * 2] = bytes ? lo : hi;
    buffer[i * 2 + 1] = bytes ? hi : lo;
  });
  return buffer;
}

/** The value's bytes, most significant (or first) first → wire registers. The swaps are their own inverse. */
function fromBigEndianBytes(buffer: Buffer, layout: RegisterLayout): number[] {
  const { words, bytes } = swapsOf(layout);
  const registers: number[] = [];
  for (let i = 0; i < buffer.length; i += 2) {
    const hi = buffer[i] ?? 0;
    const lo = buffer[i + 1] ?? 0;
    registers.push(bytes ? (lo << 8) | hi : (hi << 8) | lo);
  }
  return words ? registers.reverse() : registers;
}

function decodeBcd(buffer: Buffer): number {
  let value = 0;
  for (const byte of buffer) {
    const hi = byte >> 4;
    const lo = byte & 0x0f;
    if (hi > 9 || lo > 9) throw new RegisterDecodeError(`0x${buffer.toString('hex')} is not BCD`);
    value = value * 100 + hi * 10 + lo;
  }
  return value;
}

function encodeBcd(value: number, width: number): Buffer {
  const digits = width * 2;
  if (!Number.isInteger(value) || value < 0 || value >= 10 ** digits) {
    throw new RangeError(`${value} does not fit ${digits} BCD digits`);
  }
  const text = value.toString().padStart(digits, '0');
  const buffer = Buffer.alloc(width);
  for (let i = 0; i < width; i++) buffer[i] = (Number(text[i * 2]) << 4) | Number(text[i * 2 + 1]);
  return buffer;
}

/**
 * The shortest decimal that is the same float32: a meter that sends 230.1 sends the float32
 * nearest to it, which as a double prints as 230.10000610351562; we report 230.1.
 */
function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(value.toPrecision(digits));
    if (Math.fround(candidate) === value) return candidate;
  }
  return value;
}

/** Decodes the registers of one value, as read from the wire, in its layout. */
export function decodeRegisters(registers: readonly number[], layout: RegisterLayout): RegisterValue {
  const count = registerCount(layout);
  if (registers.length !== count) {
    throw new RegisterDecodeError(`${layout.type} needs ${count} registers, got ${registers.length}`);
  }
  if (layout.type === 'bool') {
    const bit = layout.bit ?? 0;
    return ((registers[0] ?? 0) >> bit) & 1 ? true : false;
  }
  const bytes = toBigEndianBytes(registers, layout);
  switch (layout.type) {
    case 'int16':
      return bytes.readInt16BE(0);
    case 'uint16':
      return bytes.readUInt16BE(0);
    case 'int32':
      return bytes.readInt32BE(0);
    case 'uint32':
      return bytes.readUInt32BE(0);
    // 64-bit integers become JS numbers: exact up to 2^53, which a meter's counter never reaches.
    case 'int64':
      return Number(bytes.readBigInt64BE(0));
    case 'uint64':
      return Number(bytes.readBigUInt64BE(0));
    case 'float32':
      return shortestFloat32(bytes.readFloatBE(0));
    case 'float64':
      return bytes.readDoubleBE(0);
    case 'bcd16':
    case 'bcd32':
      return decodeBcd(bytes);
    case 'string':
      // Devices pad with NUL or space; neither is part of the text.
      return bytes.toString('latin1').replace(/[\0 ]+$/, '');
  }
}

/**
 * Encodes a value into wire registers in its layout (simulators and register writes use it).
 * A `bool` encodes into its bit of an otherwise zero register.
 */
export function encodeRegisters(value: RegisterValue, layout: RegisterLayout): number[] {
  const count = registerCount(layout);
  if (layout.type === 'bool') return [value ? 1 << (layout.bit ?? 0) : 0];
  const bytes = Buffer.alloc(count * 2);
  if (layout.type === 'string') {
    bytes.write(String(value), 'latin1');
    return fromBigEndianBytes(bytes, layout);
  }
  const numeric = Number(value);
  const integer = Math.round(numeric);
  switch (layout.type) {
    case 'int16':
      bytes.writeInt16BE(integer);
      break;
    case 'uint16':
      bytes.writeUInt16BE(integer);
      break;
    case 'int32':
      bytes.writeInt32BE(integer);
      break;
    case 'uint32':
      bytes.writeUInt32BE(integer);
      break;
    case 'int64':
      bytes.writeBigInt64BE(BigInt(integer));
      break;
    case 'uint64':
      bytes.writeBigUInt64BE(BigInt(integer));
      break;
    case 'float32':
      bytes.writeFloatBE(numeric);
      break;
    case 'float64':
      bytes.writeDoubleBE(numeric);
      break;
    case 'bcd16':
    case 'bcd32':
      encodeBcd(integer, count * 2).copy(bytes);
      break;
  }
  return fromBigEndianBytes(bytes, layout);
}
