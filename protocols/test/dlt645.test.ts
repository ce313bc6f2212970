import { describe, expect, it } from 'vitest';
import { dlt645 } from '../src/index.js';

const {
  BROADCAST_ADDRESS,
  DATA_IDENTIFIERS,
  DLT645_ERROR_BITS,
  FrameScanner,
  WILDCARD_ADDRESS,
  abnormalAnswer,
  addressAnswer,
  addressMatches,
  dataAnswer,
  decodeFrame,
  decodeValues,
  describeErrorByte,
  encodeAddress,
  encodeFrame,
  encodeValues,
  errorNames,
  interpretAnswer,
  parseControl,
  parseDataIdentifier,
  parseValueFormat,
  readAddressRequest,
  readDataRequest,
  scanFrames,
} = dlt645;

const bytes = (text: string) => Buffer.from(text.replace(/\s+/g, ''), 'hex');
const hex = (buffer: Uint8Array) =>
  Buffer.from(buffer)
    .toString('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1 ');

function formatOf(di: number): dlt645.ValueFormat {
  return DATA_IDENTIFIERS.get(di)!.format;
}

/** Decodes a whole frame and the value of its data answer. */
function readAnswer(text: string) {
  const decoded = decodeFrame(bytes(text).subarray(bytes(text).indexOf(0x68)));
  if (!decoded.ok) throw new Error(decoded.error.message);
  const answer = interpretAnswer(decoded.frame);
  if (answer.kind !== 'data') throw new Error(`not a data answer: ${answer.kind}`);
  const values = decodeValues(answer.value, formatOf(answer.di));
  if (!values.ok) throw new Error(values.error);
  return { address: answer.address, di: answer.di, values: values.values };
}

/**
 * Frames published by others, byte for byte, with what their authors say they mean.
 *
 * [icode9] "DL645通信协议97/07规约(附上下行例子)", https://m.icode9.com/content-4-712469.html, and the
 *   same example in [syuez] "DLT645通信规约", https://syuez.com/blog/DLT645%E9%80%9A%E4%BF%A1%E8%A7%84%E7%BA%A6.html:
 *   reading forward active energy from meter 000102030425, and its answer 1206.42 kWh; and the
 *   read-address command FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16.
 * [juejin] "电能表DLT645协议解析", https://juejin.cn/post/7468708001337491510: reading combined
 *   active energy (DI 00000000) from meter 202107072529, answer 317.76 kWh.
 * [ijingyi] https://bbs.ijingyi.com/forum.php?mod=viewthread&tid=14861231: a forward active energy
 *   answer of meter 201709320072, preceded by two wake-up bytes.
 * [luatdoc] "合宙4G DTU+国网dlt645-2007协议抄表", https://luatdoc.papapoi.com/572: reading forward
 *   active energy from meter 000012345678.
 * [npm dlt645] README of the npm package "dlt645" (https://www.npmjs.com/package/dlt645,
 *   github.com/sandxin/dlt645): its decoder's output for a voltage-block answer, res_val 231.4 V.
 */
describe('DL/T 645-2007 frames published by others', () => {
  it('builds the classic read of forward active energy byte for byte [icode9, syuez]', () => {
    expect(hex(readDataRequest('000102030425', 0x00010000, 0))).toBe('68 25 04 03 02 01 00 68 11 04 33 33 34 33 E1 16');
  });

  it('builds it with the four wake-up bytes masters send [luatdoc]', () => {
    expect(hex(readDataRequest('000012345678', 0x00010000))).toBe('FE FE FE FE 68 78 56 34 12 00 00 68 11 04 33 33 34 33 C6 16');
  });

  it('builds it to the wildcard address, the form of the request quoted everywhere', () => {
    // Its checksum: 68 + 6×AA + 68 + 11 + 04 + 33 + 33 + 34 + 33 = 0x4AE → AE.
    expect(hex(readDataRequest(WILDCARD_ADDRESS, 0x00010000))).toBe(
      'FE FE FE FE 68 AA AA AA AA AA AA 68 11 04 33 33 34 33 AE 16',
    );
  });

  it('builds the read-address command [icode9, syuez]', () => {
    expect(hex(readAddressRequest(3))).toBe('FE FE FE 68 AA AA AA AA AA AA 68 13 00 DF 16');
  });

  it('decodes the answer 1206.42 kWh [icode9, syuez]', () => {
    expect(readAnswer('68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8B 16')).toEqual({
      address: '000102030425',
      di: 0x00010000,
      values: [1206.42],
    });
  });

  it('decodes the combined active energy answer 317.76 kWh [juejin]', () => {
    expect(hex(readDataRequest('202107072529', 0x00000000))).toBe('FE FE FE FE 68 29 25 07 07 21 20 68 11 04 33 33 33 33 4E 16');
    expect(readAnswer('68 29 25 07 07 21 20 68 91 08 33 33 33 33 A9 4A 36 33 2E 16')).toEqual({
      address: '202107072529',
      di: 0x00000000,
      values: [317.76],
    });
  });

  it('decodes an answer behind wake-up bytes and reads the address the right way round [ijingyi]', () => {
    const scan = scanFrames(bytes('FE FE 68 72 00 32 09 17 20 68 91 08 33 33 34 33 B9 34 33 33 6D 16'));
    expect(scan.noise).toBe(0);
    expect(scan.events).toHaveLength(1);
    const event = scan.events[0]!;
    expect(event.kind).toBe('frame');
    if (event.kind !== 'frame') return;
    expect(event.frame.address).toBe('201709320072');
    expect(parseControl(event.frame.control)).toEqual({ fn: 0x11, fromMeter: true, abnormal: false, following: false });
    const answer = interpretAnswer(event.frame);
    expect(answer).toMatchObject({ kind: 'data', di: 0x00010000 });
    if (answer.kind === 'data') expect(decodeValues(answer.value, formatOf(answer.di))).toEqual({ ok: true, values: [1.86] });
  });

  it('agrees with the npm package dlt645 on a voltage block: 231.4 V on phase A [npm dlt645]', () => {
    // The package itself is not in the registry this project installs from; its README's
    // published output is the oracle.
    expect(readAnswer('68 60 64 02 09 22 04 68 91 0a 33 32 34 35 47 56 33 33 33 33 97 16')).toEqual({
      address: '042209026460',
      di: 0x0201ff00,
      values: [231.4, 0, 0],
    });
  });

  it('round-trips every published frame through decode and encode', () => {
    for (const text of [
      '68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8B 16',
      '68 29 25 07 07 21 20 68 91 08 33 33 33 33 A9 4A 36 33 2E 16',
      '68 72 00 32 09 17 20 68 91 08 33 33 34 33 B9 34 33 33 6D 16',
      '68 AA AA AA AA AA AA 68 13 00 DF 16',
    ]) {
      const decoded = decodeFrame(bytes(text));
      expect(decoded.ok, text).toBe(true);
      if (decoded.ok) expect(hex(encodeFrame(decoded.frame))).toBe(text.toUpperCase());
    }
  });
});

describe('DL/T 645-2007 values by data identifier', () => {
  it.each([
    ['00010000', 'XXXXXX.XX kWh', 12345.67, '67 45 23 01'],
    ['00020000', 'XXXXXX.XX kWh', 0.01, '01 00 00 00'],
    ['02010100', 'XXX.X V', 229.8, '98 22'],
    ['02010300', 'XXX.X V', 231.4, '14 23'],
    ['02020100', 'XXX.XXX A', 17.325, '25 73 01'],
    ['02020200', 'XXX.XXX A, negative', -1.5, '00 15 80'],
    ['02030000', 'XX.XXXX kW', 3.1416, '16 14 03'],
    ['02030000', 'XX.XXXX kW, exporting', -0.25, '00 25 80'],
    ['02060000', 'X.XXX', 0.95, '50 09'],
    ['02800002', 'XX.XX Hz', 50.02, '02 50'],
  ])('DI %s (%s): %d ⇄ %s', (di, _what, value, wire) => {
    const format = formatOf(parseDataIdentifier(di));
    expect(hex(encodeValues([value], format))).toBe(wire);
    expect(decodeValues(bytes(wire), format)).toEqual({ ok: true, values: [value] });
  });

  it('refuses values that do not fit, and bytes that are not BCD', () => {
    const voltage = formatOf(0x02010100);
    expect(() => encodeValues([1000], voltage)).toThrow(/does not fit XXX\.X/);
    expect(() => encodeValues([-1], voltage)).toThrow(RangeError);
    expect(() => encodeValues([800], formatOf(0x02020100))).toThrow(/signed/);
    expect(decodeValues(bytes('9A 22'), voltage)).toEqual({ ok: false, error: 'byte 0x9a is not BCD' });
    expect(decodeValues(bytes('98'), voltage)).toEqual({ ok: false, error: '1 value bytes, expected 2' });
  });

  it('reads a format as the standard writes it', () => {
    expect(parseValueFormat('XXX.XXX', true)).toEqual({ digits: 6, decimals: 3, signed: true, count: 1 });
    expect(parseValueFormat('XXXX')).toEqual({ digits: 4, decimals: 0, signed: false, count: 1 });
    expect(parseValueFormat('XX.X')).toBeUndefined(); // three digits do not fill whole bytes
    expect(parseValueFormat('9.99')).toBeUndefined();
    expect(() => parseDataIdentifier('0001000')).toThrow(/eight hex digits/);
  });
});

describe('DL/T 645-2007 addresses and answers', () => {
  it('sends the address least significant byte first, BCD', () => {
    expect(hex(encodeAddress('000012345678'))).toBe('78 56 34 12 00 00');
    expect(hex(encodeAddress(BROADCAST_ADDRESS))).toBe('99 99 99 99 99 99');
    expect(hex(encodeAddress('aaaaaaaaa123'))).toBe('23 A1 AA AA AA AA');
    expect(() => encodeAddress('12345')).toThrow(/12 digits/);
  });

  it('matches wildcard digits against any digit', () => {
    expect(addressMatches(WILDCARD_ADDRESS, '000012345678')).toBe(true);
    expect(addressMatches('AAAAAAAAA678', '000012345678')).toBe(true);
    expect(addressMatches('AAAAAAAAA679', '000012345678')).toBe(false);
    expect(addressMatches('000012345678', '000012345678')).toBe(true);
  });

  it('answers "read address" with the address in the data field', () => {
    const frame = encodeFrame(addressAnswer('000012345678'));
    expect(hex(frame)).toBe('68 78 56 34 12 00 00 68 93 06 AB 89 67 45 33 33 C3 16');
    const decoded = decodeFrame(frame);
    expect(decoded.ok && interpretAnswer(decoded.frame)).toEqual({ kind: 'address', address: '000012345678' });
  });

  it('names every bit of the abnormal answer', () => {
    expect(errorNames(0x7f)).toEqual([
      'other error',
      'no data requested',
      'password error',
      'baud change not allowed',
      'annual time-zone count exceeded',
      'daily time-slot count exceeded',
      'tariff count exceeded',
    ]);
    expect(describeErrorByte(DLT645_ERROR_BITS.noDataRequested)).toBe('no data requested (error byte 0x02)');
    const frame = encodeFrame(abnormalAnswer('000012345678', 0x11, DLT645_ERROR_BITS.noDataRequested));
    expect(hex(frame)).toBe('68 78 56 34 12 00 00 68 D1 01 35 EB 16');
    const decoded = decodeFrame(frame);
    expect(decoded.ok && interpretAnswer(decoded.frame)).toEqual({
      kind: 'abnormal',
      address: '000012345678',
      fn: 0x11,
      errorByte: 0x02,
      message: 'no data requested (error byte 0x02)',
    });
  });

  it('marks an answer with more frames to follow (0xB1)', () => {
    const frame = dataAnswer('000012345678', 0x00010000, bytes('00 00 00 00'), true);
    expect(frame.control).toBe(0xb1);
    expect(interpretAnswer(frame)).toMatchObject({ kind: 'data', following: true });
  });
});

describe('the DL/T 645 frame scanner on a noisy line', () => {
  const GOOD = '68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8B 16';
  const NEXT = '68 29 25 07 07 21 20 68 91 08 33 33 33 33 A9 4A 36 33 2E 16';

  function kinds(events: dlt645.ScanEvent[]) {
    return events.map((event) => (event.kind === 'frame' ? `frame ${event.frame.address}` : `rejected ${event.error.kind}`));
  }

  it.each([
    ['a bad checksum', '68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8C 16', 'checksum'],
    ['a bad length (L says 9, eight data bytes follow)', '68 25 04 03 02 01 00 68 91 09 33 33 34 33 75 39 45 33 8B 16', 'end'],
    ['a length beyond 200', '68 25 04 03 02 01 00 68 91 F0 33 33 34 33 75 39 45 33 8B 16', 'length'],
    ['a missing end byte', '68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8B', 'end'],
  ])('rejects %s and keeps the good frame after it', (_what, bad, reason) => {
    const scan = scanFrames(bytes(`${bad} FE FE FE FE ${NEXT}`));
    expect(kinds(scan.events)).toEqual([`rejected ${reason}`, 'frame 202107072529']);
    expect(scan.rest).toHaveLength(0);
  });

  it('skips noise before the wake-up bytes, and counts it', () => {
    const scan = scanFrames(bytes(`00 13 FF 68 01 FE FE FE FE ${GOOD}`));
    expect(kinds(scan.events)).toEqual(['frame 000102030425']);
    expect(scan.noise).toBe(5); // 00 13 FF, a stray 68 and the byte after it
  });

  it('finds frames whatever the chunks the line delivers them in', () => {
    const stream = bytes(`FE FE ${GOOD} 55 ${NEXT} FE FE FE FE ${GOOD}`);
    for (const size of [1, 2, 3, 7, 19, stream.length]) {
      const scanner = new FrameScanner();
      const events: dlt645.ScanEvent[] = [];
      for (let at = 0; at < stream.length; at += size) events.push(...scanner.push(stream.subarray(at, at + size)));
      expect(kinds(events), `chunks of ${size}`).toEqual(['frame 000102030425', 'frame 202107072529', 'frame 000102030425']);
      expect(scanner.noise).toBe(1);
      expect(scanner.buffered).toBe(0);
    }
  });

  it('holds a frame that is still arriving, and gives it up once the line is quiet', () => {
    const scanner = new FrameScanner();
    const good = bytes(GOOD);
    expect(scanner.push(good.subarray(0, 12))).toEqual([]);
    expect(scanner.buffered).toBe(12);
    // A frame cut short, then nothing: when the line falls silent it is reported as truncated.
    expect(kinds(scanner.idle())).toEqual(['rejected truncated']);
    expect(scanner.buffered).toBe(0);
    expect(kinds(scanner.push(good))).toEqual(['frame 000102030425']);
  });

  it('does not lose a good frame hidden behind a header whose length byte claims too much', () => {
    // A damaged header claims 200 data bytes; the good frame inside its span is found once the
    // line falls quiet, not only after 200 more bytes.
    const scanner = new FrameScanner();
    expect(scanner.push(bytes(`68 11 11 11 11 11 11 68 91 C8 ${NEXT}`))).toEqual([]);
    expect(kinds(scanner.idle())).toEqual(['rejected truncated', 'frame 202107072529']);
  });

  it('rejects each malformed kind in a row without losing any good frame between them', () => {
    const stream = [
      '12 34', // noise
      '68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8C 16', // checksum
      GOOD,
      '68 25 04 03 02 01 00 68 91 09 33 33 34 33 75 39 45 33 8B 16', // length
      NEXT,
      '68 25 04 03 02 01 00 68 91 08 33 33 34 33 75 39 45 33 8B', // no end byte
      GOOD,
    ].join(' ');
    expect(kinds(scanFrames(bytes(stream)).events)).toEqual([
      'rejected checksum',
      'frame 000102030425',
      'rejected end',
      'frame 202107072529',
      'rejected end',
      'frame 000102030425',
    ]);
  });
});
