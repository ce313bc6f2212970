import { decodeFrame, FRAME_START, WAKE_UP_BYTE, type Dlt645Frame, type FrameError } from './frame.js';

/**
 * Finding DL/T 645 frames in the bytes a serial line delivers. A line carries wake-up bytes,
 * noise (a transceiver switching direction, a meter powering up), frames cut short and frames
 * damaged in flight, and the bytes of one frame may arrive in several chunks.
 *
 * A frame is recognised by its shape — 0x68, six address bytes, 0x68, control code, length —
 * and accepted only when its end byte sits where its length byte says and its checksum is right.
 * A candidate that fails is reported and the search goes on from the byte after its first 0x68,
 * not after the length it claimed: a damaged length byte must not swallow the next good frame.
 */
/** 0x68, six address bytes, 0x68, control code and length: enough to call it a frame. */
const HEADER_BYTES = 10;

export type ScanEvent = { kind: 'frame'; frame: Dlt645Frame } | { kind: 'rejected'; error: FrameError };

export interface FrameScan {
  events: ScanEvent[];
  /** Bytes to keep: the start of a frame still arriving. */
  rest: Buffer;
  /** Bytes discarded as belonging to no frame (wake-up bytes not counted). */
  noise: number;
}

/**
 * Scans `received` for frames. While more bytes may come (`lineIdle` false), a frame that is
 * still incomplete is kept in `rest`; once the line has gone quiet it never will complete, and
 * is reported as truncated.
 */
export function scanFrames(received: Uint8Array, lineIdle = false): FrameScan {
  const bytes = Buffer.from(received);
  const events: ScanEvent[] = [];
  let noise = 0;
  let at = 0;
  while (at < bytes.length) {
    const byte = bytes[at]!;
    if (byte !== FRAME_START) {
      if (byte !== WAKE_UP_BYTE) noise++;
      at++;
      continue;
    }
    const window = bytes.subarray(at);
    const decoded = decodeFrame(window);
    if (decoded.ok) {
      events.push({ kind: 'frame', frame: decoded.frame });
      at += decoded.bytes;
      continue;
    }
    const { error } = decoded;
    const strayStart = error.kind === 'start' || (window.length >= 8 && window[7] !== FRAME_START);
    if (error.kind === 'truncated' && !strayStart && !lineIdle) break; // the rest is on its way
    // A 0x68 that starts no frame is noise, and so is one the line went quiet after before a
    // whole header came; a frame that fails is reported. Either way the search resumes one byte on.
    if (strayStart || window.length < HEADER_BYTES) noise++;
    else events.push({ kind: 'rejected', error });
    at++;
  }
  return { events, rest: bytes.subarray(at), noise };
}

/** Frames from a stream of chunks, keeping an incomplete frame between them. */
export class FrameScanner {
  private pending: Buffer = Buffer.alloc(0);
  /** Bytes discarded as belonging to no frame, since the scanner was made. */
  noise = 0;

  push(chunk: Uint8Array): ScanEvent[] {
    return this.scan(Buffer.concat([this.pending, chunk]), false);
  }

  /** The line has gone quiet: what is incomplete never will be; frames after it are found. */
  idle(): ScanEvent[] {
    return this.pending.length === 0 ? [] : this.scan(this.pending, true);
  }

  /** Forgets whatever is pending, e.g. before a new transaction. */
  reset(): void {
    this.pending = Buffer.alloc(0);
  }

  /** Bytes held while a frame is arriving. */
  get buffered(): number {
    return this.pending.length;
  }

  private scan(bytes: Buffer, lineIdle: boolean): ScanEvent[] {
    const { events, rest, noise } = scanFrames(bytes, lineIdle);
    this.pending = Buffer.from(rest);
    this.noise += noise;
    return events;
  }
}
