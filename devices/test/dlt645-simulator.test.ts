import { performance } from 'node:perf_hooks';
import { SerialPort } from 'serialport';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dlt645, frameMs } from '@gatehouse/protocols';
import { AnyDeviceProfile, Dlt645Profile } from '../src/profile/schema.js';
import { builtInAnyProfile, builtInProfile, builtInProfiles } from '../src/profile/registry.js';
import { Dlt645Meter } from '../src/simulator/dlt645-meter.js';
import { dlt645PointsOf, decodeDlt645Point } from '../src/simulator/dlt645-profile.js';
import { DLT645_LINE, dlt645ResponseDelay, startDlt645Simulator, type Dlt645Simulator } from '../src/simulator/dlt645-simulator.js';
import { startPtyPair, type PtyPair } from '../src/simulator/pty-pair.js';

const PROFILE = builtInAnyProfile('chint-ddsu666-dlt645') as Dlt645Profile;
const METER_A = '000012345678';
const METER_B = '000012345679';
const FIXED_A = {
  energy_import_kwh: 12345.67,
  energy_export_kwh: 0.5,
  voltage_l1_v: 229.8,
  current_l1_a: 7.255,
  active_power_kw: 1.5932,
  power_factor: 0.956,
  frequency_hz: 50.02,
};

describe('the DL/T 645 profile variant', () => {
  it('ships the CHINT DDSU666 as a DL/T 645 profile, kept apart from the Modbus ones', () => {
    expect(PROFILE).toMatchObject({ protocol: 'dlt645', kind: 'electric_meter' });
    expect(PROFILE.points.map((point) => point.point)).toContain('energy_import_kwh');
    expect(builtInProfile('chint-ddsu666-dlt645')).toBeUndefined();
    expect([...builtInProfiles().values()].every((profile) => profile.protocol === 'modbus')).toBe(true);
  });

  const minimal = { id: 'm', kind: 'electric_meter', vendor: 'v', model: 'm', protocol: 'dlt645', points: [{ point: 'energy_import_kwh', di: '00010000' }] };
  const issues = (document: unknown) => {
    const result = AnyDeviceProfile.safeParse(document);
    return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  it.each([
    ['a point the kind does not have', [{ point: 'floor', di: '00010000' }], 'points.0.point: electric_meter has no point "floor"'],
    ['a point mapped twice', [{ point: 'voltage_l1_v', di: '02010100' }, { point: 'voltage_l1_v', di: '02010200' }], 'points.1.point: "voltage_l1_v" is mapped twice'],
    ['a DI Gatehouse does not know, without its format', [{ point: 'energy_import_kwh', di: '00010100' }], 'points.0.format: DI 00010100 is not one Gatehouse knows: give its format'],
    ['a block DI', [{ point: 'voltage_l1_v', di: '0201FF00' }], 'points.0.di: DI 0201FF00 is a block of 3 values: map its single DIs'],
    ['a format of odd digits', [{ point: 'energy_import_kwh', di: '00010100', format: 'XXXXX.XX' }], 'points.0.format: a format as the standard writes it'],
    ['a DI that is not eight hex digits', [{ point: 'energy_import_kwh', di: '0001' }], 'points.0.di: eight hex digits'],
  ])('rejects %s and names the field', (_what, points, message) => {
    expect(issues({ ...minimal, points }).join('\n')).toContain(message);
  });

  it('takes a DI it does not know when the profile gives the format (tariff 1 energy here)', () => {
    const profile = Dlt645Profile.parse({ ...minimal, points: [{ point: 'energy_import_kwh', di: '00010100', format: 'XXXXXX.XX' }] });
    const [point] = dlt645PointsOf(profile);
    expect(point).toMatchObject({ di: 0x00010100, format: { digits: 8, decimals: 2, signed: false, count: 1 }, scale: 1 });
    expect(decodeDlt645Point(point!, Buffer.from([0x67, 0x45, 0x23, 0x01]))).toEqual({ value: 12345.67 });
    expect(issues({ ...minimal, protocol: 'iec62056' })[0]).toMatch(/^protocol: /);
  });
});

describe('a simulated DL/T 645 meter', () => {
  const meter = new Dlt645Meter(METER_A, dlt645PointsOf(PROFILE), () => FIXED_A);
  const request = (control: number, data: number[], address = METER_A) => ({ address, control, data: Buffer.from(data) });
  const read = (di: number) => request(0x11, [...dlt645.encodeDataIdentifier(di)]);

  it('answers a read by DI with the value in the standard format', () => {
    const answer = dlt645.interpretAnswer(meter.answer(read(0x02020100))!);
    expect(answer).toMatchObject({ kind: 'data', address: METER_A, di: 0x02020100, following: false });
    if (answer.kind === 'data') expect(answer.value).toEqual(Buffer.from([0x55, 0x72, 0x00]));
  });

  it('refuses a DI it has no data for with "no data requested"', () => {
    expect(dlt645.interpretAnswer(meter.answer(read(0x02010200))!)).toEqual({
      kind: 'abnormal',
      address: METER_A,
      fn: 0x11,
      errorByte: 0x02,
      message: 'no data requested (error byte 0x02)',
    });
  });

  it('tells its address, refuses what needs a password, and answers no broadcast', () => {
    expect(dlt645.interpretAnswer(meter.answer(request(0x13, [], dlt645.WILDCARD_ADDRESS))!)).toEqual({ kind: 'address', address: METER_A });
    expect(dlt645.interpretAnswer(meter.answer(request(0x14, [0, 0, 0, 0]))!)).toMatchObject({ kind: 'abnormal', errorByte: 0x04 });
    expect(meter.answer(request(0x08, [0, 0, 0, 0, 0, 0], dlt645.BROADCAST_ADDRESS))).toBeUndefined();
    expect(meter.answer({ ...read(0x00010000), control: 0x91 })).toBeUndefined(); // another meter's answer
  });

  it('models an answer round trip on a 2400 baud line without a Modbus silence', () => {
    const delay = dlt645ResponseDelay('round-trip', DLT645_LINE, 20)({ requestBytes: 20, answerBytes: 22 });
    expect(delay).toBeCloseTo(((20 + 22) * 11 * 1000) / 2400 + 20);
    expect(dlt645ResponseDelay('answer', DLT645_LINE, 20)({ requestBytes: 20, answerBytes: 22 })).toBeCloseTo((22 * 11 * 1000) / 2400 + 20);
  });
});

/** A bare master on the other end of the pty: raw bytes out, frames and rejections back. */
class RawMaster {
  private readonly scanner = new dlt645.FrameScanner();
  private events: dlt645.ScanEvent[] = [];
  private constructor(private readonly port: SerialPort) {
    port.on('data', (chunk: Buffer) => this.events.push(...this.scanner.push(chunk)));
  }

  static async open(path: string): Promise<RawMaster> {
    const port = new SerialPort({ path, baudRate: 2400, dataBits: 8, parity: 'even', stopBits: 1, autoOpen: false });
    await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
    return new RawMaster(port);
  }

  /** Sends `request` and collects what the line carries for `listenMs`; when it began answering, too. */
  async exchange(request: Buffer, listenMs = 450): Promise<{ events: dlt645.ScanEvent[]; firstMs: number | undefined }> {
    this.events = [];
    this.scanner.reset();
    const sent = performance.now();
    let firstMs: number | undefined;
    const mark = () => (firstMs ??= performance.now() - sent);
    this.port.once('data', mark);
    this.port.write(request);
    await new Promise((resolve) => setTimeout(resolve, listenMs));
    this.port.off('data', mark);
    return { events: [...this.events, ...this.scanner.idle()], firstMs };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.port.close(() => resolve()));
  }
}

function answers(events: dlt645.ScanEvent[]): Array<dlt645.MeterAnswer | { kind: `rejected ${string}` }> {
  return events.map((event) => (event.kind === 'frame' ? dlt645.interpretAnswer(event.frame) : { kind: `rejected ${event.error.kind}` }));
}

describe('DL/T 645 meters on a socat serial pair', () => {
  let pair: PtyPair;
  let simulator: Dlt645Simulator;
  let master: RawMaster;

  beforeAll(async () => {
    pair = await startPtyPair();
    simulator = await startDlt645Simulator({
      path: pair.b,
      profile: PROFILE,
      meters: [{ address: METER_A, fixed: FIXED_A }, { address: METER_B }],
      hold: true,
    });
    master = await RawMaster.open(pair.a);
  });

  afterAll(async () => {
    await master?.close();
    await simulator?.close();
    await pair?.close();
  });

  afterEach(() => simulator.setFaults({}));

  const readValue = async (address: string, di: number) => {
    const { events } = await master.exchange(dlt645.readDataRequest(address, di));
    const [answer] = answers(events);
    if (answer?.kind !== 'data') return answer;
    const point = dlt645PointsOf(PROFILE).find((p) => p.di === di)!;
    return decodeDlt645Point(point, answer.value);
  };

  it('answers each meter by its address with its values, in the catalogue units', async () => {
    expect(await readValue(METER_A, 0x00010000)).toEqual({ value: 12345.67 });
    expect(await readValue(METER_A, 0x02010100)).toEqual({ value: 229.8 });
    expect(await readValue(METER_A, 0x02030000)).toEqual({ value: 1.5932 });
    expect(await readValue(METER_A, 0x02800002)).toEqual({ value: 50.02 });
    const b = simulator.values(METER_B)!;
    expect(await readValue(METER_B, 0x00010000)).toEqual({ value: Math.round(b.energy_import_kwh! * 100) / 100 });
    expect(await readValue(METER_B, 0x02020100)).toEqual({ value: Math.round(b.current_l1_a! * 1000) / 1000 });
  });

  it('answers a DI the meter does not have with an abnormal answer', async () => {
    expect(await readValue(METER_A, 0x02010300)).toMatchObject({ kind: 'abnormal', message: 'no data requested (error byte 0x02)' });
  });

  it('holds the answer back for its time on a 2400 baud line', async () => {
    const request = dlt645.readDataRequest(METER_A, 0x00010000); // 20 bytes with its wake-up bytes
    const { firstMs } = await master.exchange(request);
    const answerBytes = 2 + dlt645.frameBytes(8); // the meter's two wake-up bytes and its frame
    const expected = frameMs(DLT645_LINE, request.length) + 20 + frameMs(DLT645_LINE, answerBytes);
    expect(firstMs).toBeGreaterThanOrEqual(expected - 2);
    expect(firstMs).toBeLessThan(expected + 150); // a busy two-core machine schedules late, never early
  });

  it('ignores an address no meter has, and answers no broadcast', async () => {
    const before = simulator.stats();
    expect((await master.exchange(dlt645.readDataRequest('000000000099', 0x00010000), 400)).events).toEqual([]);
    expect((await master.exchange(dlt645.readDataRequest(dlt645.BROADCAST_ADDRESS, 0x00010000), 400)).events).toEqual([]);
    const after = simulator.stats();
    expect(after.ignored - before.ignored).toBe(1);
    expect(after.broadcasts - before.broadcasts).toBe(1);
  });

  it('answers a wildcard with the one meter it fits, and collides when it fits several', async () => {
    const one = answers((await master.exchange(dlt645.readDataRequest('AAAAAAAAA679', 0x00010000))).events);
    expect(one).toEqual([expect.objectContaining({ kind: 'data', address: METER_B })]);
    const before = simulator.stats().collisions;
    const both = answers((await master.exchange(dlt645.readAddressRequest())).events);
    expect(both.some((answer) => answer.kind === 'address')).toBe(false); // garbage, not an address
    expect(simulator.stats().collisions).toBe(before + 1);
  });

  it.each([
    ['crc', 'rejected checksum'],
    ['truncate', 'rejected truncated'],
  ] as const)('damages an answer with a %s fault, caught by the master', async (kind, seen) => {
    simulator.setFaults({ 1: { kind, count: 1 } });
    expect(answers((await master.exchange(dlt645.readDataRequest(METER_A, 0x00010000))).events)).toEqual([{ kind: seen }]);
    expect(await readValue(METER_A, 0x00010000)).toEqual({ value: 12345.67 }); // the fault was counted once
  });

  it('answers with another address, an error byte, or not at all as faults say', async () => {
    simulator.setFaults({ 1: { kind: 'wrong-unit', count: 1 } });
    expect(answers((await master.exchange(dlt645.readDataRequest(METER_A, 0x00010000))).events)).toEqual([
      expect.objectContaining({ kind: 'data', address: '000012345679' }),
    ]);
    simulator.setFaults({ 1: { kind: 'exception', exceptionCode: 0x04, count: 1 } });
    expect(await readValue(METER_A, 0x00010000)).toMatchObject({ kind: 'abnormal', message: 'password error (error byte 0x04)' });
    simulator.setFaults({ 2: { kind: 'silence', count: 1 } });
    expect((await master.exchange(dlt645.readDataRequest(METER_B, 0x00010000), 400)).events).toEqual([]);
  });

  it('puts noise and a damaged frame on the line before an answer, and the answer survives them', async () => {
    const damaged = dlt645.encodeFrame(dlt645.dataAnswer(METER_B, 0x00010000, Buffer.from([1, 2, 3, 4])));
    damaged[9] = 0x09; // a length byte one too long
    simulator.injectBeforeNextAnswer(Buffer.concat([Buffer.from([0x00, 0x13, 0xff]), damaged]));
    expect(answers((await master.exchange(dlt645.readDataRequest(METER_A, 0x00010000))).events)).toEqual([
      { kind: 'rejected end' },
      expect.objectContaining({ kind: 'data', address: METER_A, di: 0x00010000 }),
    ]);
  });

  it('counts damaged frames and noise it receives, and still answers the next good request', async () => {
    const before = simulator.stats();
    const bad = dlt645.readDataRequest(METER_A, 0x00010000);
    bad[bad.length - 2]! ^= 0x01;
    const { events } = await master.exchange(Buffer.concat([Buffer.from([0x42, 0x42]), bad, dlt645.readDataRequest(METER_A, 0x02800002)]));
    expect(answers(events)).toEqual([expect.objectContaining({ kind: 'data', di: 0x02800002 })]);
    const after = simulator.stats();
    expect(after.rejected - before.rejected).toBe(1);
    expect(after.noise).toBeGreaterThan(before.noise);
  });
});

describe('a DL/T 645 meter whose values move', () => {
  it('counts energy up with the load as time passes, like the meter it stands for', async () => {
    const pair = await startPtyPair();
    let clock = Date.parse('2026-03-02T19:00:00+08:00');
    const simulator = await startDlt645Simulator({ path: pair.b, profile: PROFILE, meters: [{ address: METER_A }], now: () => clock });
    try {
      const first = simulator.values(METER_A)!;
      clock += 3_600_000;
      const later = simulator.values(METER_A)!;
      expect(later.energy_import_kwh! - first.energy_import_kwh!).toBeGreaterThan(0.5); // an hour of one household
      expect(later.energy_import_kwh! - first.energy_import_kwh!).toBeLessThan(5);
      // A single-phase meter carries all the power on its one phase: P = U·I·cos φ.
      expect(later.current_l1_a! * later.voltage_l1_v! * later.power_factor!).toBeCloseTo(later.active_power_kw! * 1000, 3);
    } finally {
      await simulator.close();
      await pair.close();
    }
  });
});
