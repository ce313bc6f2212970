import { decodeDataIdentifier, encodeDataIdentifier, formatDataIdentifier } from './data.js';
import {
  addressMatches,
  answerControl,
  DEFAULT_WAKE_UP_BYTES,
  DLT645_FUNCTIONS,
  encodeAddress,
  encodeFrame,
  parseControl,
  WILDCARD_ADDRESS,
  type Dlt645Frame,
} from './frame.js';

/**
 * The application layer Gatehouse speaks: read data (0x11) and read address (0x13), their normal
 * answers (0x91, 0xB1 when more frames follow, 0x93) and the abnormal answer (0xD1) whose data
 * field is one error byte.
 */

/** Bits of the abnormal answer's error byte (错误信息字 ERR of DL/T 645-2007); bit 7 is reserved. */
export const DLT645_ERROR_BITS = {
  /** 其他错误 */
  otherError: 0x01,
  /** 无请求数据: the meter holds no data under the DI asked for. */
  noDataRequested: 0x02,
  /** 密码错/未授权 */
  passwordError: 0x04,
  /** 通信速率不能更改 */
  baudChangeNotAllowed: 0x08,
  /** 年时区数超 */
  annualTimeZonesExceeded: 0x10,
  /** 日时段数超 */
  dailyTimeSlotsExceeded: 0x20,
  /** 费率数超 */
  tariffsExceeded: 0x40,
} as const;

const ERROR_NAMES: ReadonlyArray<[number, string]> = [
  [DLT645_ERROR_BITS.otherError, 'other error'],
  [DLT645_ERROR_BITS.noDataRequested, 'no data requested'],
  [DLT645_ERROR_BITS.passwordError, 'password error'],
  [DLT645_ERROR_BITS.baudChangeNotAllowed, 'baud change not allowed'],
  [DLT645_ERROR_BITS.annualTimeZonesExceeded, 'annual time-zone count exceeded'],
  [DLT645_ERROR_BITS.dailyTimeSlotsExceeded, 'daily time-slot count exceeded'],
  [DLT645_ERROR_BITS.tariffsExceeded, 'tariff count exceeded'],
];

/** The names of the bits set in an error byte, e.g. ['no data requested']. */
export function errorNames(errorByte: number): string[] {
  return ERROR_NAMES.filter(([bit]) => (errorByte & bit) !== 0).map(([, name]) => name);
}

/** "no data requested (error byte 0x02)", for a reading's error and a log line. */
export function describeErrorByte(errorByte: number): string {
  const names = errorNames(errorByte);
  const code = `error byte 0x${errorByte.toString(16).padStart(2, '0')}`;
  return names.length > 0 ? `${names.join(', ')} (${code})` : `abnormal answer (${code})`;
}

/** A master's read of `di` from the meter at `address`, wake-up bytes first. */
export function readDataRequest(address: string, di: number, wakeUp = DEFAULT_WAKE_UP_BYTES): Buffer {
  return encodeFrame({ address, control: DLT645_FUNCTIONS.readData, data: encodeDataIdentifier(di) }, { wakeUp });
}

/** "Who are you?": answered by the one meter of a point-to-point line with its address. */
export function readAddressRequest(wakeUp = DEFAULT_WAKE_UP_BYTES): Buffer {
  return encodeFrame({ address: WILDCARD_ADDRESS, control: DLT645_FUNCTIONS.readAddress, data: Buffer.alloc(0) }, { wakeUp });
}

/** A meter's normal answer to a read of `di`: the DI again, then the value bytes. */
export function dataAnswer(address: string, di: number, value: Uint8Array, following = false): Dlt645Frame {
  return {
    address,
    control: answerControl(DLT645_FUNCTIONS.readData, following ? 'following' : 'normal'),
    data: Buffer.concat([encodeDataIdentifier(di), value]),
  };
}

/** A meter's abnormal answer to function `fn`: one error byte. */
export function abnormalAnswer(address: string, fn: number, errorByte: number): Dlt645Frame {
  return { address, control: answerControl(fn, 'abnormal'), data: Buffer.from([errorByte]) };
}

/** A meter's answer to "read address": its address, in the frame's address and in the data. */
export function addressAnswer(address: string): Dlt645Frame {
  return { address, control: answerControl(DLT645_FUNCTIONS.readAddress), data: encodeAddress(address) };
}

export type MeterAnswer =
  | { kind: 'data'; address: string; di: number; value: Buffer; following: boolean }
  | { kind: 'abnormal'; address: string; fn: number; errorByte: number; message: string }
  | { kind: 'address'; address: string }
  | { kind: 'unexpected'; address: string; message: string };

/** What a frame from a meter says, whatever was asked. */
export function interpretAnswer(frame: Dlt645Frame): MeterAnswer {
  const control = parseControl(frame.control);
  const { address } = frame;
  const unexpected = (message: string): MeterAnswer => ({ kind: 'unexpected', address, message });
  if (!control.fromMeter) return unexpected(`control code 0x${frame.control.toString(16)} is a master's, not an answer`);
  if (control.abnormal) {
    const errorByte = frame.data[0] ?? 0;
    return { kind: 'abnormal', address, fn: control.fn, errorByte, message: describeErrorByte(errorByte) };
  }
  if (control.fn === DLT645_FUNCTIONS.readAddress) {
    return frame.data.length === 6 ? { kind: 'address', address } : unexpected(`address answer of ${frame.data.length} bytes`);
  }
  if (control.fn === DLT645_FUNCTIONS.readData || control.fn === DLT645_FUNCTIONS.readFollowing) {
    if (frame.data.length < 4) return unexpected(`data answer of ${frame.data.length} bytes has no data identifier`);
    return { kind: 'data', address, di: decodeDataIdentifier(frame.data), value: frame.data.subarray(4), following: control.following };
  }
  return unexpected(`function 0x${control.fn.toString(16)} is not one Gatehouse asks for`);
}

/** Whether `answer` answers a read of `di` sent to `address` (which may hold wildcards). */
export function answersRead(answer: MeterAnswer, address: string, di: number): boolean {
  if (!addressMatches(address, answer.address)) return false;
  if (answer.kind === 'data') return answer.di === di;
  return answer.kind === 'abnormal' && answer.fn === DLT645_FUNCTIONS.readData;
}

export function describeDataIdentifier(di: number): string {
  return `DI ${formatDataIdentifier(di)}`;
}
