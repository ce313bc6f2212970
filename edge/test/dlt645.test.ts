import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dlt645, type Reading } from '@gatehouse/protocols';
import {
  builtInAnyProfile,
  dlt645PointsOf,
  startDlt645Simulator,
  startPtyPair,
  type Dlt645Profile,
  type Dlt645Simulator,
  type PtyPair,
} from '@gatehouse/devices';
import {
  ConfigError,
  Dlt645BusPoller,
  Dlt645Master,
  dlt645PlanLines,
  parseConfig,
  pointReading,
  type Dlt645BusConfig,
  type Dlt645Result,
  type Dlt645Transport,
  type PollSink,
} from '../src/index.js';

const PROFILE = builtInAnyProfile('chint-ddsu666-dlt645') as Dlt645Profile;
const POINTS = dlt645PointsOf(PROFILE);

const config = {
  site: 'tower-a',
  gateway: 'gw-01',
  uplink: { url: 'mqtt://127.0.0.1:1883' },
  buses: [{ id: 'riser-c', transport: 'dlt645', path: '/dev/ttyS2' }],
  devices: [{ id: 'flat-1201', bus: 'riser-c', address: '000012345678', profile: 'chint-ddsu666-dlt645' }],
};

function issuesOf(document: unknown): string[] {
  try {
    parseConfig(JSON.stringify(document), 'edge.yaml', {});
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  return [];
}

describe('a dlt645 bus in the agent configuration', () => {
  it('defaults to the line DL/T 645 meters leave the factory with, and four wake-up bytes', () => {
    const loaded = parseConfig(JSON.stringify(config), 'edge.yaml', {});
    expect(loaded.config.buses[0]).toMatchObject({ transport: 'dlt645', baud: 2400, parity: 'even', data_bits: 8, stop_bits: 1, wake_up_bytes: 4 });
    expect(loaded.config.devices[0]).toMatchObject({ address: '000012345678', retries: 1 });
    expect(loaded.profiles.get('chint-ddsu666-dlt645')?.protocol).toBe('dlt645');
  });

  it('takes an address YAML read as a number as the twelve digits it was', () => {
    const yaml = [
      'site: tower-a',
      'gateway: gw-01',
      'uplink: { url: "mqtt://127.0.0.1:1883" }',
      'buses: [{ id: riser-c, transport: dlt645, path: /dev/ttyS2 }]',
      'devices: [{ id: flat-1201, bus: riser-c, address: 000012345678, profile: chint-ddsu666-dlt645 }]',
    ].join('\n');
    expect(parseConfig(yaml, 'edge.yaml', {}).config.devices[0]?.address).toBe('000012345678');
  });

  const device = config.devices[0]!;
  it.each([
    ['a meter without its address', { ...device, address: undefined }, 'devices[0].address: a meter on a dlt645 bus needs its address'],
    ['a meter with a unit id', { ...device, unit: 3 }, 'devices[0].unit: a meter on a dlt645 bus has an address, not a unit id'],
    ['an address that is not twelve digits', { ...device, address: '12345' }, 'devices[0].address: twelve digits as on the nameplate'],
    ['a Modbus profile for a meter', { ...device, profile: 'reference-3ph-meter' }, 'devices[0].profile: a modbus profile cannot serve a device on dlt645 bus "riser-c"'],
  ])('rejects %s and names the field', (_what, changed, message) => {
    expect(issuesOf({ ...config, devices: [changed] }).join('\n')).toContain(message);
  });

  it('rejects an address used twice on a bus, and an address or a DL/T 645 profile on a Modbus bus', () => {
    expect(issuesOf({ ...config, devices: [device, { ...device, id: 'flat-1202' }] })).toEqual([
      'devices[1].address: address 000012345678 is already used on bus "riser-c"',
    ]);
    const modbus = { ...config, buses: [...config.buses, { id: 'plant', transport: 'tcp', host: '10.0.0.5' }] };
    expect(issuesOf({ ...modbus, devices: [{ ...device, bus: 'plant', unit: 1 }] })).toEqual([
      'devices[0].address: only a meter on a dlt645 bus has an address',
    ]);
    expect(issuesOf({ ...modbus, devices: [{ ...device, bus: 'plant', unit: 1, address: undefined }] })).toEqual([
      'devices[0].profile: a dlt645 profile cannot serve a device on tcp bus "plant"',
    ]);
  });

  it('plans a cycle of one read per data identifier, with its time on a 2400 baud line', () => {
    const loaded = parseConfig(JSON.stringify(config), 'edge.yaml', {});
    const bus = loaded.config.buses[0] as Dlt645BusConfig;
    const lines = dlt645PlanLines(bus, [{ config: loaded.config.devices[0]!, profile: PROFILE }]);
    expect(lines[0]).toBe('bus riser-c (dlt645 /dev/ttyS2, 2400 baud 8E1)');
    // Energy: 20 request bytes, 20 ms turnaround, 20 answer bytes, at 11 bits a byte.
    expect(lines).toContain(`    DI 00010000  ${((40 * 11 * 1000) / 2400 + 20).toFixed(1)} ms  energy_import_kwh`);
    expect(lines[1]).toMatch(/^ {2}device flat-1201 \(address 000012345678, chint-ddsu666-dlt645\): 7 requests, [\d.]+ ms per cycle$/);
  });
});

describe('a point from a meter answer', () => {
  const energy = POINTS.find((point) => point.point === 'energy_import_kwh')!;
  const answer = (value: number[]): dlt645.MeterAnswer => ({ kind: 'data', address: '000012345678', di: energy.di, value: Buffer.from(value), following: false });

  it('is a good reading in the catalogue unit', () => {
    expect(pointReading('m', energy, answer([0x67, 0x45, 0x23, 0x01]), 1e12)).toEqual({
      reading: { device: 'm', point: 'energy_import_kwh', ts: 1e12, value: 12345.67, quality: 'good' },
    });
  });

  it('is bad, with the error named, for an abnormal answer or bytes that are not BCD', () => {
    const abnormal = dlt645.interpretAnswer(dlt645.abnormalAnswer('000012345678', 0x11, 0x02));
    expect(pointReading('m', energy, abnormal, 1e12)).toEqual({
      reading: { device: 'm', point: 'energy_import_kwh', ts: 1e12, value: null, quality: 'bad' },
      problem: 'energy_import_kwh: no data requested (error byte 0x02)',
    });
    expect(pointReading('m', energy, answer([0xff, 0x45, 0x23, 0x01]), 1e12).problem).toBe('energy_import_kwh: DI 00010000: byte 0xff is not BCD');
  });
});

/** A line of meters in memory: each read is answered, refused or not at all, as the test says. */
class ScriptedLine implements Dlt645Transport {
  readonly reads: string[] = [];
  constructor(private readonly answer: (address: string, di: number) => Dlt645Result) {}
  async read(address: string, di: number): Promise<Dlt645Result> {
    this.reads.push(`${address}/${dlt645.formatDataIdentifier(di)}`);
    await new Promise((resolve) => setImmediate(resolve));
    return this.answer(address, di);
  }
  async close(): Promise<void> {}
}

/** A logger whose lines the test reads: pino writes each line whole to its destination. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  return { log: pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) }), lines };
}

describe('the DL/T 645 bus poller', () => {
  const bus = parseConfig(JSON.stringify(config), 'edge.yaml', {}).config.buses[0] as Dlt645BusConfig;
  const meter = (id: string, address: string) => ({
    config: { ...parseConfig(JSON.stringify(config), 'edge.yaml', {}).config.devices[0]!, id, address, poll_interval_ms: 20, offline_after_failures: 2, max_probe_interval_ms: 1000 },
    profile: PROFILE,
  });

  function run(line: ScriptedLine) {
    const readings: Reading[] = [];
    const changes: Array<{ device: string; to: string; reason?: string }> = [];
    const sink: PollSink = {
      readings: (batch) => readings.push(...batch),
      commChanged: (device, change) => changes.push({ device, to: change.to, ...(change.to === 'offline' ? { reason: change.reason } : {}) }),
    };
    const captured = capture();
    const poller = new Dlt645BusPoller({ bus, devices: [meter('flat-1', '000000000001'), meter('flat-2', '000000000002')], sink, log: captured.log, transport: line });
    poller.start();
    return { poller, readings, changes, logs: captured.lines };
  }

  const value = (di: number) => dlt645.encodeValues([di === 0x02800002 ? 50 : 1], dlt645.DATA_IDENTIFIERS.get(di)!.format);
  const good = (address: string, di: number): Dlt645Result => ({ ok: true, answer: { kind: 'data', address, di, value: value(di), following: false } });
  const until = async (what: () => boolean) => {
    for (let i = 0; i < 400 && !what(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(what()).toBe(true);
  };

  it('reads every point of every meter, one transaction at a time', async () => {
    const line = new ScriptedLine(good);
    const { poller, readings } = run(line);
    await until(() => readings.length >= 14);
    await poller.stop();
    expect(line.reads.slice(0, 7)).toEqual(POINTS.map((point) => `000000000001/${dlt645.formatDataIdentifier(point.di)}`));
    expect(readings.filter((r) => r.device === 'flat-2' && r.point === 'frequency_hz')[0]).toMatchObject({ value: 50, quality: 'good' });
    expect(poller.commSnapshot('flat-1')).toMatchObject({ status: 'online' });
  });

  it('reports a refused point bad, logs the refusal once by name, and keeps the meter online', async () => {
    const line = new ScriptedLine((address, di) =>
      di === 0x00020000 ? { ok: true, answer: dlt645.interpretAnswer(dlt645.abnormalAnswer(address, 0x11, 0x02)) } : good(address, di),
    );
    const { poller, readings, logs, changes } = run(line);
    await until(() => readings.filter((r) => r.point === 'energy_export_kwh' && r.device === 'flat-1').length >= 3);
    await poller.stop();
    expect(readings.find((r) => r.point === 'energy_export_kwh')).toMatchObject({ value: null, quality: 'bad' });
    expect(readings.find((r) => r.point === 'energy_import_kwh')).toMatchObject({ value: 1, quality: 'good' });
    const warnings = logs.filter((line) => line.msg === 'meter answered with errors' && line.device === 'flat-1');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.problems).toBe('energy_export_kwh: no data requested (error byte 0x02)');
    expect(changes.filter((change) => change.to === 'offline')).toEqual([]);
  });

  it('takes a silent meter offline with the reason, spares its neighbour, and brings it back when it answers', async () => {
    let dead = true;
    const line = new ScriptedLine((address, di) =>
      address === '000000000002' && dead ? { ok: false, failure: { kind: 'timeout', message: 'no answer before the timeout' } } : good(address, di),
    );
    const { poller, readings, changes } = run(line);
    await until(() => changes.some((change) => change.to === 'offline'));
    expect(changes.find((change) => change.to === 'offline')).toEqual({
      device: 'flat-2',
      to: 'offline',
      reason: 'DI 00010000 (energy_import_kwh): no answer before the timeout',
    });
    // Declared offline: its points are bad once; retried once per read (retries: 1).
    expect(readings.filter((r) => r.device === 'flat-2').every((r) => r.quality === 'bad')).toBe(true);
    expect(line.reads.filter((read) => read === '000000000002/00010000').length).toBeGreaterThanOrEqual(4);
    const healthy = readings.filter((r) => r.device === 'flat-1' && r.quality === 'good').length;
    expect(healthy).toBeGreaterThan(0);
    dead = false;
    await until(() => changes.some((change) => change.device === 'flat-2' && change.to === 'online'));
    await until(() => readings.some((r) => r.device === 'flat-2' && r.quality === 'good'));
    await poller.stop();
  });
});

describe('the DL/T 645 master on a socat serial pair', () => {
  let pair: PtyPair;
  let simulator: Dlt645Simulator;
  let master: Dlt645Master;
  const ADDRESS = '000012345678';

  beforeAll(async () => {
    pair = await startPtyPair();
    simulator = await startDlt645Simulator({ path: pair.b, profile: PROFILE, meters: [{ address: ADDRESS, fixed: { energy_import_kwh: 4321.09 } }], hold: true });
    master = new Dlt645Master({ path: pair.a, line: { baud: 2400, dataBits: 8, parity: 'even', stopBits: 1 }, timeoutMs: 600, wakeUp: 4 });
  });

  afterAll(async () => {
    await master?.close();
    await simulator?.close();
    await pair?.close();
  });

  it('reads a value, and the address of the one meter on the line', async () => {
    const result = await master.read(ADDRESS, 0x00010000);
    expect(result.ok && result.answer.kind === 'data' && dlt645.decodeValues(result.answer.value, POINTS[0]!.format)).toEqual({ ok: true, values: [4321.09] });
    expect(await master.readAddress()).toEqual({ ok: true, answer: { kind: 'address', address: ADDRESS } });
  });

  it('takes the answer through noise and a damaged frame before it', async () => {
    const damaged = dlt645.encodeFrame(dlt645.dataAnswer(ADDRESS, 0x00010000, Buffer.from([9, 9, 9, 9])));
    damaged[damaged.length - 2]! ^= 0x20; // a bad checksum
    simulator.injectBeforeNextAnswer(Buffer.concat([Buffer.from([0x00, 0xff, 0x68]), damaged]));
    const result = await master.read(ADDRESS, 0x00010000);
    expect(result.ok && result.answer).toMatchObject({ kind: 'data', di: 0x00010000 });
  });

  it('fails a damaged answer as damaged, and silence as a timeout', async () => {
    simulator.setFaults({ 1: { kind: 'crc', count: 1 } });
    expect(await master.read(ADDRESS, 0x00010000)).toEqual({ ok: false, failure: { kind: 'frame', message: expect.stringMatching(/^damaged answer: checksum 0x/) as unknown } });
    simulator.setFaults({ 1: { kind: 'silence', count: 1 } });
    expect(await master.read(ADDRESS, 0x00010000)).toEqual({ ok: false, failure: { kind: 'timeout', message: 'no answer before the timeout' } });
    expect((await master.read(ADDRESS, 0x00010000)).ok).toBe(true);
  });

  it('fails a port that cannot be opened as a connection failure', async () => {
    const nowhere = new Dlt645Master({ path: '/dev/nonexistent-tty', line: { baud: 2400, dataBits: 8, parity: 'even', stopBits: 1 }, timeoutMs: 100, wakeUp: 4 });
    expect(await nowhere.read(ADDRESS, 0x00010000)).toMatchObject({ ok: false, failure: { kind: 'connection' } });
    await nowhere.close();
  });
});
