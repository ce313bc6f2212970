// CRC-16/MODBUS comes from the `crc` npm package (alexgorbatchev/crc, crc16modbus), not hand-written.
import crc16modbus from 'crc/calculators/crc16modbus';

/**
 * Modbus RTU framing (Modbus over Serial Line V1.02 §2.5.1): an ADU is the unit id, the PDU and a
 * CRC-16/MODBUS sent low byte first (§2.5.1.2, "the low-order byte is appended first").
 *
 * On a real line a frame ends with 3.5 character times of silence (§2.5.1.1). A pseudo-terminal,
 * and a TCP stream from an RS-485 device server, do not keep that timing, so requests are found
 * by the length their function code implies and confirmed by their CRC; bytes that do not start
 * a CRC-valid request are dropped one at a time until one does.
 */

/** Unit id + function code + CRC: the shortest RTU frame (§2.5.1). */
export const MIN_RTU_FRAME = 4;
/** Unit id + a PDU of at most 253 bytes + CRC (§2.5.1). */
export const MAX_RTU_FRAME = 256;
/** Unit id 0 addresses every slave and is answered by none (§2.1). */
export const BROADCAST_UNIT = 0;
/** Unit ids 248-255 are reserved (§2.2); no request is addressed to them. */
export const MAX_UNIT = 247;

export function crc16(bytes: Uint8Array): number {
  return crc16modbus(bytes);
}

/** The ADU of `pdu` for `unit`, CRC appended low byte first. */
export function encodeRtuFrame(unit: number, pdu: Uint8Array): Buffer {
  const frame = Buffer.alloc(1 + pdu.length + 2);
  frame[0] = unit;
  frame.set(pdu, 1);
  frame.writeUInt16LE(crc16(frame.subarray(0, 1 + pdu.length)), 1 + pdu.length);
  return frame;
}

/** True when the last two bytes of `frame` are the CRC of the rest. */
export function hasValidCrc(frame: Uint8Array): boolean {
  if (frame.length < MIN_RTU_FRAME) return false;
  const body = frame.subarray(0, frame.length - 2);
  const sent = (frame[frame.length - 2] ?? 0) | ((frame[frame.length - 1] ?? 0) << 8);
  return crc16(body) === sent;
}

export interface RtuFrame {
  unit: number;
  pdu: Buffer;
}

/** Splits a CRC-checked frame into unit id and PDU; undefined when the CRC does not match. */
export function decodeRtuFrame(frame: Uint8Array): RtuFrame | undefined {
  if (!hasValidCrc(frame)) return undefined;
  const bytes = Buffer.from(frame);
  return { unit: bytes[0]!, pdu: bytes.subarray(1, bytes.length - 2) };
}

/**
 * Bytes of the request frame that starts at `bytes[0]`, from its function code (Modbus application
 * protocol V1.1b3 §6): a number; 'more' when more bytes are needed to tell; 'unknown' for a
 * function whose request length this table does not know (the frame then ends where the line
 * falls silent).
 */
export function requestFrameLength(bytes: Uint8Array): number | 'more' | 'unknown' {
  if (bytes.length < 2) return 'more';
  const fc = bytes[1]!;
  switch (fc) {
    case 1: // read coils
    case 2: // read discrete inputs
    case 3: // read holding registers
    case 4: // read input registers
    case 5: // write single coil
    case 6: // write single register
    case 8: // diagnostics: sub-function + one data word
      return 8;
    case 7: // read exception status
    case 11: // get comm event counter
    case 12: // get comm event log
    case 17: // report server id
      return MIN_RTU_FRAME;
    case 15: // write multiple coils: address, quantity, byte count at [6], values
    case 16: // write multiple registers
      return bytes.length < 7 ? 'more' : 9 + bytes[6]!;
    case 22: // mask write register
      return 10;
    case 23: // read/write multiple registers: write byte count at [10]
      return bytes.length < 11 ? 'more' : 13 + bytes[10]!;
    default:
      return 'unknown';
  }
}

/** A function code a master may send: 1..127; 0 is invalid and ≥ 0x80 marks an exception answer. */
function plausibleStart(bytes: Uint8Array): boolean {
  const unit = bytes[0]!;
  const fc = bytes[1];
  return unit <= MAX_UNIT && (fc === undefined || (fc >= 1 && fc < 0x80));
}

/** The offset (≥ 1) of the first complete, CRC-valid request of a known function in `bytes`. */
function nextKnownFrame(bytes: Buffer): number | undefined {
  for (let at = 1; at + MIN_RTU_FRAME <= bytes.length; at++) {
    const window = bytes.subarray(at);
    if (!plausibleStart(window)) continue;
    const length = requestFrameLength(window);
    if (typeof length === 'number' && length <= window.length && hasValidCrc(window.subarray(0, length))) return at;
  }
  return undefined;
}

export interface RequestScan {
  /** Complete, CRC-valid request frames, in the order they arrived. */
  frames: RtuFrame[];
  /** Bytes to keep: the start of a request still arriving. */
  rest: Buffer;
  /** Bytes discarded as not belonging to any valid request. */
  dropped: number;
}

/**
 * Finds the request frames in the bytes received so far.
 *
 * While the master may still be sending (`lineIdle` false), an incomplete frame is kept for the
 * next call. Once the line has been silent longer than a frame gap (`lineIdle` true), whatever is
 * still incomplete can never complete: a frame of a function this table does not know is taken
 * to end at the silence, and anything else is resynchronised on or dropped.
 */
export function scanRequests(received: Uint8Array, lineIdle = false): RequestScan {
  const bytes = Buffer.from(received);
  const frames: RtuFrame[] = [];
  let at = 0;
  let dropped = 0;
  const drop = (count: number) => {
    at += count;
    dropped += count;
  };
  while (at < bytes.length) {
    const window = bytes.subarray(at);
    if (!plausibleStart(window)) {
      drop(1);
      continue;
    }
    const length = requestFrameLength(window);
    if ((typeof length === 'number' && length > MAX_RTU_FRAME) || (length === 'unknown' && window.length > MAX_RTU_FRAME)) {
      drop(1); // longer than any RTU frame can be
      continue;
    }
    if (length === 'more' || (typeof length === 'number' && window.length < length)) {
      if (!lineIdle) break;
      drop(1); // the line went quiet mid-frame: this start was noise
      continue;
    }
    if (length === 'unknown') {
      if (!lineIdle) {
        // No length to wait for: if a known request follows, what came before it was noise.
        const next = nextKnownFrame(window);
        if (next === undefined) break;
        drop(next);
        continue;
      }
      const frame = decodeRtuFrame(window);
      if (frame) {
        frames.push(frame);
        at = bytes.length;
      } else {
        drop(1);
      }
      continue;
    }
    const frame = decodeRtuFrame(window.subarray(0, length));
    if (frame) {
      frames.push(frame);
      at += length;
    } else {
      drop(1); // a CRC error: slide one byte on until a valid frame starts
    }
  }
  return { frames, rest: bytes.subarray(at), dropped };
}
