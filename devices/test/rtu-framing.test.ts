import { describe, expect, it } from 'vitest';
import {
  crc16,
  decodeRtuFrame,
  encodeRtuFrame,
  hasValidCrc,
  requestFrameLength,
  scanRequests,
} from '../src/simulator/rtu-framing.js';

const hex = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');

/** Read holding registers 0x006B..0x006D of slave 0x11: the example of Modbus over Serial Line V1.02 §6.2.2. */
const SPEC_EXAMPLE = hex('11 03 00 6B 00 03 76 87');
/** Write registers 1 and 2 := 0x000A, 0x0102 on unit 1 (FC 16, byte count 4). */
const WRITE_TWO = encodeRtuFrame(1, hex('10 0001 0002 04 000A 0102'));
const READ_UNIT_2 = encodeRtuFrame(2, hex('03 0000 0004'));

describe('CRC-16/MODBUS', () => {
  it('matches the specification example and is sent low byte first', () => {
    expect(crc16(hex('11 03 00 6B 00 03'))).toBe(0x8776);
    expect(encodeRtuFrame(0x11, hex('03 00 6B 00 03'))).toEqual(SPEC_EXAMPLE);
    expect(encodeRtuFrame(1, hex('03 0000 0001'))).toEqual(hex('01 03 0000 0001 840A'));
  });

  it('accepts an intact frame and rejects one with any bit flipped', () => {
    expect(hasValidCrc(SPEC_EXAMPLE)).toBe(true);
    for (let i = 0; i < SPEC_EXAMPLE.length * 8; i++) {
      const damaged = Buffer.from(SPEC_EXAMPLE);
      damaged[i >> 3]! ^= 1 << (i & 7);
      expect(hasValidCrc(damaged), `bit ${i}`).toBe(false);
    }
    expect(hasValidCrc(hex('11 03 76'))).toBe(false);
  });

  it('splits a frame into unit id and PDU', () => {
    expect(decodeRtuFrame(SPEC_EXAMPLE)).toEqual({ unit: 0x11, pdu: hex('03 00 6B 00 03') });
    expect(decodeRtuFrame(hex('11 03 00 6B 00 03 87 76'))).toBeUndefined();
  });
});

describe('request frame length from the function code', () => {
  it.each([
    ['read coils', '01 01', 8],
    ['read holding registers', '01 03', 8],
    ['write single register', '01 06', 8],
    ['report server id', '01 11', 4],
    ['write multiple registers, byte count 4', '01 10 0001 0002 04', 13],
    ['write multiple coils, byte count 2', '01 0F 0000 000A 02', 11],
    ['read/write multiple registers, write byte count 2', '01 17 0000 0001 0000 0001 02', 15],
  ])('%s', (_name, bytes, length) => {
    expect(requestFrameLength(hex(bytes))).toBe(length);
  });

  it('needs the byte count of FC 15/16 before it can tell, and knows no length for other codes', () => {
    expect(requestFrameLength(hex('01'))).toBe('more');
    expect(requestFrameLength(hex('01 10 0001 0002'))).toBe('more');
    expect(requestFrameLength(hex('01 2B 0E 01 00'))).toBe('unknown');
  });
});

describe('scanning a byte stream for requests', () => {
  it('finds back-to-back frames in one chunk', () => {
    const scan = scanRequests(Buffer.concat([SPEC_EXAMPLE, WRITE_TWO, READ_UNIT_2]));
    expect(scan.frames.map((frame) => frame.unit)).toEqual([0x11, 1, 2]);
    expect(scan.frames[1]!.pdu).toEqual(hex('10 0001 0002 04 000A 0102'));
    expect(scan.rest.length).toBe(0);
    expect(scan.dropped).toBe(0);
  });

  it('finds the same frames wherever the stream is cut into chunks', () => {
    const stream = Buffer.concat([WRITE_TWO, READ_UNIT_2]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const first = scanRequests(stream.subarray(0, cut));
      const second = scanRequests(Buffer.concat([first.rest, stream.subarray(cut)]));
      expect([...first.frames, ...second.frames].map((frame) => frame.unit), `cut at ${cut}`).toEqual([1, 2]);
      expect(first.dropped + second.dropped).toBe(0);
    }
  });

  it('keeps an incomplete frame while the line may still be busy', () => {
    const scan = scanRequests(WRITE_TWO.subarray(0, 9));
    expect(scan.frames).toEqual([]);
    expect(scan.rest).toEqual(WRITE_TWO.subarray(0, 9));
  });

  it('drops garbage in front of a frame byte by byte until a CRC-valid frame appears', () => {
    const scan = scanRequests(Buffer.concat([hex('FF 00 01 03 00'), READ_UNIT_2]));
    expect(scan.frames).toEqual([{ unit: 2, pdu: hex('03 0000 0004') }]);
    expect(scan.dropped).toBe(5);
  });

  it('resynchronises after a frame with a bad CRC', () => {
    const damaged = Buffer.from(SPEC_EXAMPLE);
    damaged[7]! ^= 0x01;
    const scan = scanRequests(Buffer.concat([damaged, READ_UNIT_2]));
    expect(scan.frames.map((frame) => frame.unit)).toEqual([2]);
    expect(scan.dropped).toBe(8);
  });

  it('drops exception answers and reserved unit ids, which no master sends', () => {
    const stream = Buffer.concat([encodeRtuFrame(1, hex('83 02')), encodeRtuFrame(250, hex('03 0000 0001'))]);
    expect(scanRequests(stream).frames).toEqual([]);
    expect(scanRequests(stream, true)).toMatchObject({ frames: [], dropped: stream.length });
  });

  it('drops a header claiming a frame longer than RTU allows without waiting for it', () => {
    const scan = scanRequests(Buffer.concat([hex('01 10 0000 0080 FF'), READ_UNIT_2]));
    expect(scan.frames.map((frame) => frame.unit)).toEqual([2]);
  });

  it('gives up an incomplete frame once the line is idle', () => {
    const scan = scanRequests(WRITE_TWO.subarray(0, 9), true);
    expect(scan.frames).toEqual([]);
    expect(scan.rest.length).toBe(0);
    expect(scan.dropped).toBe(9);
  });

  it('takes a frame of an unknown function to end where the line falls silent', () => {
    const deviceId = encodeRtuFrame(1, hex('2B 0E 01 00'));
    expect(scanRequests(deviceId).frames).toEqual([]);
    expect(scanRequests(deviceId, true).frames).toEqual([{ unit: 1, pdu: hex('2B 0E 01 00') }]);
    expect(scanRequests(Buffer.concat([hex('42'), deviceId]), true).frames).toEqual([{ unit: 1, pdu: hex('2B 0E 01 00') }]);
    expect(scanRequests(hex('01 2B 0E 01 00 00 00'), true)).toMatchObject({ frames: [], dropped: 7 });
  });
});
