/**
 * How long Modbus RTU frames occupy a serial line (Modbus over Serial Line V1.02 §2.5.1.1).
 * Every byte is one character: a start bit, the data bits, a parity bit unless parity is none,
 * and the stop bits. Frames are separated by at least 3.5 character times of silence; above
 * 19200 baud the specification fixes that silence at 1.75 ms.
 */
export interface SerialLine {
  baud: number;
  dataBits: 7 | 8;
  parity: 'none' | 'even' | 'odd';
  stopBits: 1 | 2;
}

export const DEFAULT_SERIAL_LINE: SerialLine = { baud: 9600, dataBits: 8, parity: 'even', stopBits: 1 };

export function bitsPerCharacter(line: SerialLine): number {
  return 1 + line.dataBits + (line.parity === 'none' ? 0 : 1) + line.stopBits;
}

/** Milliseconds one character takes on the wire. */
export function characterMs(line: SerialLine): number {
  return (bitsPerCharacter(line) * 1000) / line.baud;
}

/** Milliseconds a frame of `bytes` (address, PDU and CRC) takes on the wire. */
export function frameMs(line: SerialLine, bytes: number): number {
  return bytes * characterMs(line);
}

/** The mandatory silence between two frames (t3.5). */
export function interFrameSilenceMs(line: SerialLine): number {
  return line.baud > 19_200 ? 1.75 : 3.5 * characterMs(line);
}

/** RTU frame sizes of the read functions: address + function + fields + CRC. */
export const READ_REQUEST_BYTES = 8;

/** Bytes of the answer to a read of `count` registers (FC 3, 4) or bits (FC 1, 2). */
export function readResponseBytes(kind: 'registers' | 'bits', count: number): number {
  const data = kind === 'registers' ? count * 2 : Math.ceil(count / 8);
  return 1 + 1 + 1 + data + 2;
}
