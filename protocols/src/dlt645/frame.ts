import { z } from 'zod';

/**
 * DL/T 645-2007 frames, the link layer of the national protocol of Chinese electricity meters
 * (multi-function watt-hour meter communication protocol), as sent over RS-485:
 *
 *   FE FE FE FE | 68 A0 A1 A2 A3 A4 A5 68 C L DATA… CS 16
 *
 * - the wake-up preamble: 0xFE bytes a master sends before a frame so that the meter's receiver
 *   is awake when the frame starts; a meter may send some before its answer too, or none;
 * - 0x68, the six address bytes A0..A5 (BCD, least significant byte first), 0x68 again;
 * - C, the control code; L, the length of the data field; the data field, each byte sent plus
 *   0x33 and taken minus 0x33 on receipt (so that a data field of zeros is not a run of zeros on
 *   the line);
 * - CS, the sum of every byte from the first 0x68 to the end of the data field, modulo 256;
 * - 0x16, the end byte.
 */
export const WAKE_UP_BYTE = 0xfe;
/** A master sends four wake-up bytes before each frame, the number masters in the field use. */
export const DEFAULT_WAKE_UP_BYTES = 4;
export const FRAME_START = 0x68;
export const FRAME_END = 0x16;
/** Added to each data byte on the line, taken off on receipt. */
export const DATA_OFFSET = 0x33;
export const ADDRESS_BYTES = 6;
/** 0x68, six address bytes, 0x68, C, L, CS, 0x16: a frame with no data. */
export const FRAME_OVERHEAD = 12;
/** The longest data field there is: the standard allows L ≤ 200 when reading (≤ 50 when writing). */
export const MAX_DATA_LENGTH = 200;

/** The address every meter executes and none answers: broadcast time setting and the like. */
export const BROADCAST_ADDRESS = '999999999999';
/**
 * 0xAA address bytes match any address: "AAAAAAAAAAAA" reaches the one meter of a point-to-point
 * line whatever its address (how its address is read), and a partly given address such as
 * "AAAAAAAAA123" reaches the meters whose address ends in 123 (abbreviated addressing).
 */
export const WILDCARD_ADDRESS = 'AAAAAAAAAAAA';

/** Function codes: the low five bits of the control code. */
export const DLT645_FUNCTIONS = {
  broadcastTime: 0x08,
  readData: 0x11,
  readFollowing: 0x12,
  readAddress: 0x13,
  writeData: 0x14,
} as const;

/** The control code's high bits: D7 direction, D6 abnormal answer, D5 more frames follow. */
const FROM_METER = 0x80;
const ABNORMAL = 0x40;
const FOLLOWING = 0x20;
const FUNCTION_MASK = 0x1f;

export interface ControlCode {
  /** The function the frame asks for or answers (0x11 read data, 0x13 read address, …). */
  fn: number;
  /** D7: sent by a meter (an answer) rather than by the master. */
  fromMeter: boolean;
  /** D6: an abnormal answer, whose data field is an error byte. */
  abnormal: boolean;
  /** D5: more data follows in further frames (0xB1). */
  following: boolean;
}

export function parseControl(code: number): ControlCode {
  return {
    fn: code & FUNCTION_MASK,
    fromMeter: (code & FROM_METER) !== 0,
    abnormal: (code & ABNORMAL) !== 0,
    following: (code & FOLLOWING) !== 0,
  };
}

/** The control code of a meter's answer to `fn`: 0x91 normal, 0xB1 more follows, 0xD1 abnormal. */
export function answerControl(fn: number, kind: 'normal' | 'following' | 'abnormal' = 'normal'): number {
  return FROM_METER | (kind === 'abnormal' ? ABNORMAL : kind === 'following' ? FOLLOWING : 0) | (fn & FUNCTION_MASK);
}

/**
 * A meter address as printed on the nameplate: twelve characters, most significant first, each a
 * decimal digit or `A` (a wildcard nibble, see WILDCARD_ADDRESS).
 */
export const METER_ADDRESS_PATTERN = /^[0-9A]{12}$/;

/**
 * A meter address in a configuration file. YAML reads an unquoted all-digit address as a number
 * (and drops its leading zeros), so a number is taken as the address it was meant to be.
 */
export const MeterAddress = z.preprocess(
  (value) => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value).padStart(12, '0') : value),
  z
    .string()
    .transform((text) => text.toUpperCase())
    .pipe(z.string().regex(METER_ADDRESS_PATTERN, 'twelve digits as on the nameplate, e.g. "000012345678" (A: any digit)')),
);

/** The six address bytes of `address`, least significant byte first, as they go on the line. */
export function encodeAddress(address: string): Buffer {
  const text = address.toUpperCase();
  if (!METER_ADDRESS_PATTERN.test(text)) throw new RangeError(`meter address "${address}": expected 12 digits (A for any)`);
  const bytes = Buffer.alloc(ADDRESS_BYTES);
  for (let i = 0; i < ADDRESS_BYTES; i++) {
    const at = text.length - 2 * (i + 1);
    bytes[i] = Number.parseInt(text.slice(at, at + 2), 16);
  }
  return bytes;
}

/** The address the six bytes stand for, most significant first ("AA" bytes read as "AA"). */
export function decodeAddress(bytes: Uint8Array): string {
  let text = '';
  for (let i = ADDRESS_BYTES - 1; i >= 0; i--) text += (bytes[i] ?? 0).toString(16).padStart(2, '0');
  return text.toUpperCase();
}

/** Whether a frame sent to `target` (which may hold A wildcards) reaches the meter at `address`. */
export function addressMatches(target: string, address: string): boolean {
  if (target.length !== address.length) return false;
  for (let i = 0; i < target.length; i++) {
    if (target[i] !== 'A' && target[i] !== address[i]) return false;
  }
  return true;
}

export function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (const byte of bytes) sum = (sum + byte) & 0xff;
  return sum;
}

/** A frame as the application sees it: the data field already taken back by 0x33. */
export interface Dlt645Frame {
  address: string;
  control: number;
  data: Buffer;
}

export interface EncodeOptions {
  /** Wake-up bytes (0xFE) before the frame; default none (a master sends DEFAULT_WAKE_UP_BYTES). */
  wakeUp?: number;
}

/** The bytes of `frame` on the line, data offset by 0x33 and checksum appended. */
export function encodeFrame(frame: Dlt645Frame, options: EncodeOptions = {}): Buffer {
  const wakeUp = options.wakeUp ?? 0;
  if (frame.data.length > 0xff) throw new RangeError(`data field of ${frame.data.length} bytes: at most 255 fit the length byte`);
  const bytes = Buffer.alloc(wakeUp + FRAME_OVERHEAD + frame.data.length, WAKE_UP_BYTE);
  const body = bytes.subarray(wakeUp);
  body[0] = FRAME_START;
  encodeAddress(frame.address).copy(body, 1);
  body[7] = FRAME_START;
  body[8] = frame.control;
  body[9] = frame.data.length;
  frame.data.forEach((byte, i) => (body[10 + i] = (byte + DATA_OFFSET) & 0xff));
  const end = 10 + frame.data.length;
  body[end] = checksum(body.subarray(0, end));
  body[end + 1] = FRAME_END;
  return bytes;
}

/** Why bytes that start like a frame are not one. */
export type FrameErrorKind = 'start' | 'length' | 'checksum' | 'end' | 'truncated';

export interface FrameError {
  kind: FrameErrorKind;
  message: string;
}

export type FrameDecode = { ok: true; frame: Dlt645Frame; bytes: number } | { ok: false; error: FrameError };

/**
 * Decodes the frame that starts at `bytes[0]` (its first 0x68; wake-up bytes already skipped).
 * `bytes` may run on past the frame; the result says how many bytes the frame took.
 */
export function decodeFrame(bytes: Uint8Array): FrameDecode {
  const fail = (kind: FrameErrorKind, message: string): FrameDecode => ({ ok: false, error: { kind, message } });
  if (bytes.length < 10) return fail('truncated', `${bytes.length} bytes: a frame header is 10`);
  if (bytes[0] !== FRAME_START || bytes[7] !== FRAME_START) return fail('start', 'no 0x68 before and after the address');
  const length = bytes[9]!;
  if (length > MAX_DATA_LENGTH) return fail('length', `data length ${length}: at most ${MAX_DATA_LENGTH}`);
  const total = FRAME_OVERHEAD + length;
  if (bytes.length < total) return fail('truncated', `${bytes.length} of the ${total} bytes its length byte announces`);
  const end = 10 + length;
  if (bytes[end + 1] !== FRAME_END) {
    return fail('end', `no end byte 0x16 where its length byte ${length} puts it (found 0x${hex(bytes[end + 1]!)})`);
  }
  const sum = checksum(bytes.subarray(0, end));
  if (bytes[end] !== sum) return fail('checksum', `checksum 0x${hex(bytes[end]!)}, expected 0x${hex(sum)}`);
  const data = Buffer.alloc(length);
  for (let i = 0; i < length; i++) data[i] = (bytes[10 + i]! - DATA_OFFSET) & 0xff;
  return { ok: true, frame: { address: decodeAddress(bytes.subarray(1, 7)), control: bytes[8]!, data }, bytes: total };
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0').toUpperCase();
}

/** Bytes of a frame with `dataLength` data bytes and `wakeUp` wake-up bytes, for wire time. */
export function frameBytes(dataLength: number, wakeUp = 0): number {
  return wakeUp + FRAME_OVERHEAD + dataLength;
}
