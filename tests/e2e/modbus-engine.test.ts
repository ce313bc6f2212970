import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  BYTE_ORDERS,
  decodeRegisters,
  encodeRegisters,
  ModbusClient,
  REGISTER_TYPES,
  type Reading,
  type RegisterLayout,
  type RegisterType,
} from '@gatehouse/protocols';
import {
  builtInProfile,
  ProfileSlave,
  SlaveMemory,
  startPtyPair,
  startRtuSlave,
  type PtyPair,
  type RtuSlave,
} from '@gatehouse/devices';
import { AgentConfig, BusPoller, LearnedGaps, type PollSink } from '@gatehouse/edge';
import { capturedLogger } from '../support/log-capture.js';
import { startPymodbusServer } from '../support/peers.js';
import { eventually, freePort, type Proc } from '../support/processes.js';

const LINE_9600 = { baud: 9600, dataBits: 8, parity: 'none', stopBits: 1 } as const;

describe('our Modbus client against a pymodbus server, a peer nobody here wrote', () => {
  async function exercise(client: ModbusClient): Promise<void> {
    expect(await client.read(1, 'holding', 10, 5)).toEqual({ ok: true, value: [1010, 1011, 1012, 1013, 1014] });
    expect(await client.read(1, 'input', 0, 3)).toEqual({ ok: true, value: [2000, 2001, 2002] });
    expect(await client.read(1, 'coil', 0, 7)).toEqual({ ok: true, value: [true, false, false, true, false, false, true] });
    expect(await client.read(1, 'discrete', 0, 4)).toEqual({ ok: true, value: [true, false, true, false] });
    expect(await client.write(1, { fc: 6, address: 50, value: 12345 })).toEqual({ ok: true, value: undefined });
    expect(await client.write(1, { fc: 16, address: 60, values: [1, 2, 65535] })).toMatchObject({ ok: true });
    expect(await client.write(1, { fc: 5, address: 1, value: true })).toMatchObject({ ok: true });
    expect(await client.write(1, { fc: 15, address: 20, values: [false, true, true, false] })).toMatchObject({ ok: true });
    expect(await client.read(1, 'holding', 50, 1)).toEqual({ ok: true, value: [12345] });
    expect(await client.read(1, 'holding', 60, 3)).toEqual({ ok: true, value: [1, 2, 65535] });
    expect(await client.read(1, 'coil', 0, 2)).toEqual({ ok: true, value: [true, true] });
    expect(await client.read(1, 'coil', 20, 4)).toEqual({ ok: true, value: [false, true, true, false] });
    // pymodbus answers a read past its data with exception 02, which we name.
    expect(await client.read(1, 'holding', 500, 2)).toEqual({
      ok: false,
      failure: { kind: 'exception', exception: 2, message: 'illegal data address' },
    });
  }

  it('reads and writes over Modbus TCP', async () => {
    const port = await freePort();
    const server = await startPymodbusServer(['tcp', port]);
    const client = new ModbusClient({ transport: { kind: 'tcp', host: '127.0.0.1', port }, timeoutMs: 2000 });
    try {
      await eventually(async () => ((await client.read(1, 'holding', 0, 1)).ok ? true : undefined), 'pymodbus to accept');
      await exercise(client);
    } finally {
      await client.close();
      await server.stop();
    }
  });

  it('reads and writes over Modbus RTU on a socat serial pair', async () => {
    const pty = await startPtyPair();
    let server: Proc | undefined;
    const client = new ModbusClient({ transport: { kind: 'rtu', path: pty.a, line: LINE_9600 }, timeoutMs: 2000 });
    try {
      server = await startPymodbusServer(['serial', pty.b, 9600]);
      await exercise(client);
    } finally {
      await client.close();
      await server?.stop();
      await pty.close();
    }
  });
});

describe('every data type in every byte order, encoded by the simulator and decoded by the agent over RTU', () => {
  const SAMPLES: Record<RegisterType, number | string | boolean> = {
    int16: -1234,
    uint16: 65000,
    int32: -2_000_000_000,
    uint32: 4_000_000_000,
    int64: -(2 ** 50) - 7,
    uint64: 2 ** 52 + 9,
    float32: -273.15,
    float64: 6.02214076e23,
    bcd16: 4821,
    bcd32: 20_261_122,
    string: 'DTSU666',
    bool: true,
  };

  it('round-trips all of them', async () => {
    const memory = new SlaveMemory();
    const cases: Array<{ layout: RegisterLayout; address: number; count: number; value: number | string | boolean }> = [];
    let address = 0;
    for (const type of REGISTER_TYPES) {
      for (const order of BYTE_ORDERS) {
        const layout: RegisterLayout = { type, order, length: 4, bit: 9 };
        const registers = encodeRegisters(SAMPLES[type], layout);
        memory.setMany('holding', address, registers);
        cases.push({ layout, address, count: registers.length, value: SAMPLES[type] });
        address += registers.length;
      }
    }
    memory.implement('holding', 0, address - 1);
    const line = { ...LINE_9600, baud: 115_200 } as const;
    const pty = await startPtyPair();
    const slave = await startRtuSlave({ units: new Map([[1, memory]]), line, turnaroundMs: 1, transport: { kind: 'serial', path: pty.b } });
    const client = new ModbusClient({ transport: { kind: 'rtu', path: pty.a, line }, timeoutMs: 1000 });
    try {
      for (const { layout, address: at, count, value } of cases) {
        const result = await client.read(1, 'holding', at, count);
        expect(result.ok, `${layout.type} ${layout.order}`).toBe(true);
        if (result.ok) expect(decodeRegisters(result.value as number[], layout), `${layout.type} ${layout.order}`).toBe(value);
      }
    } finally {
      await client.close();
      await slave.close();
      await pty.close();
    }
    expect(cases).toHaveLength(REGISTER_TYPES.length * BYTE_ORDERS.length);
  });
});

describe('faults injected on a shared RS-485 line', () => {
  const profile = builtInProfile('reference-3ph-meter')!;
  const VALUES = { voltage_l1_v: 229.5, current_l1_a: 17.25, energy_import_kwh: 4321.09, frequency_hz: 50.02 };
  let pty: PtyPair;
  let slave: RtuSlave;
  let poller: BusPoller;
  let dir: string;
  const readings: Reading[] = [];
  const changes: Array<{ device: string; to: string; reason?: string; at: number }> = [];
  const capture = capturedLogger();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'gatehouse-faults-'));
    pty = await startPtyPair();
    const meters = [1, 2].map(() => new ProfileSlave(profile));
    meters.forEach((meter) => meter.update(VALUES));
    slave = await startRtuSlave({
      units: new Map(meters.map((meter, i) => [i + 1, meter.memory])),
      line: LINE_9600,
      turnaroundMs: 5,
      transport: { kind: 'serial', path: pty.b },
    });
    const config = AgentConfig.parse({
      site: 's',
      gateway: 'g',
      uplink: { url: 'mqtt://127.0.0.1:1' },
      buses: [{ id: 'riser', transport: 'rtu', path: pty.a, baud: 9600, parity: 'none', timeout_ms: 250, probe_share: 0.25 }],
      devices: [1, 2].map((unit) => ({
        id: `meter-${unit}`,
        bus: 'riser',
        unit,
        profile: profile.id,
        poll_interval_ms: 0,
        offline_after_failures: 2,
        retries: 1,
        turnaround_ms: 5,
        max_probe_interval_ms: 1000,
      })),
    });
    const sink: PollSink = {
      readings: (batch) => readings.push(...batch),
      commChanged: (device, change) =>
        changes.push({ device, to: change.to, ...(change.to === 'offline' ? { reason: change.reason } : {}), at: Date.now() }),
    };
    poller = new BusPoller({
      bus: config.buses[0]!,
      devices: config.devices.map((device) => ({ config: device, profile })),
      sink,
      log: capture.log,
      learned: new LearnedGaps(join(dir, 'learned-gaps.json')),
    });
    poller.start();
    await eventually(async () => (changes.filter((c) => c.to === 'online').length >= 2 ? true : undefined), 'both meters online');
  });

  afterAll(async () => {
    await poller?.stop();
    await slave?.close();
    await pty?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  let since = 0;
  beforeEach(() => {
    since = Date.now();
  });
  afterEach(async () => {
    slave.setFaults({});
    // Both meters back to good readings before the next fault.
    const cleared = Date.now();
    await eventually(async () => (goodAfter('meter-1', cleared) && goodAfter('meter-2', cleared) ? true : undefined), 'recovery', 20_000);
  });

  function goodAfter(device: string, after: number): boolean {
    return readings.some((r) => r.device === device && r.ts > after && r.quality === 'good');
  }

  /** meter-2 keeps reading right values while meter-1 misbehaves: the line is not desynchronised. */
  async function expectNeighbourUnharmed(from: number): Promise<void> {
    const good = await eventually(
      async () => {
        const mine = readings.filter((r) => r.device === 'meter-2' && r.ts > from && r.point === 'energy_import_kwh');
        return mine.length >= 3 ? mine : undefined;
      },
      'meter-2 to keep reading',
      20_000,
    );
    expect(good.every((r) => r.quality === 'good' && r.value === VALUES.energy_import_kwh)).toBe(true);
  }

  it.each([
    ['crc', /CRC/, undefined],
    ['truncate', /timeout|length/i, undefined],
    ['wrong-unit', /timeout|unexpected/i, undefined],
    ['silence', /timeout/i, undefined],
    // A gateway's exceptions say that the device behind it did not answer.
    ['exception', /gateway path unavailable/, 0x0a],
    ['exception', /gateway target device failed to respond/, 0x0b],
  ] as const)('a %s fault takes the meter offline with the reason, and spares its neighbour', async (kind, reason, exceptionCode) => {
    slave.setFaults({ 1: exceptionCode === undefined ? { kind } : { kind, exceptionCode } });
    const offline = await eventually(
      async () => changes.find((c) => c.device === 'meter-1' && c.to === 'offline' && c.at >= since),
      'meter-1 offline',
      20_000,
    );
    expect(offline.reason).toMatch(reason);
    // Its points are reported bad once the outage is declared.
    expect(readings.filter((r) => r.device === 'meter-1' && r.ts >= since && r.quality === 'bad').length).toBeGreaterThan(0);
    await expectNeighbourUnharmed(offline.at);
    slave.setFaults({});
    await eventually(
      async () => changes.find((c) => c.device === 'meter-1' && c.to === 'online' && c.at > offline.at),
      'meter-1 back online by itself',
      20_000,
    );
  });

  it.each([
    [0x01, 'illegal function'],
    [0x02, 'illegal data address'],
    [0x03, 'illegal data value'],
    [0x04, 'server device failure'],
    [0x08, 'memory parity error'],
  ])('exception %i marks the points bad, names "%s", and keeps the meter online', async (code, name) => {
    slave.setFaults({ 1: { kind: 'exception', exceptionCode: code } });
    await eventually(
      async () => {
        const bad = readings.filter((r) => r.device === 'meter-1' && r.ts > since && r.point === 'energy_import_kwh');
        return bad.length >= 2 && bad.every((r) => r.quality === 'bad' && r.value === null) ? true : undefined;
      },
      'meter-1 points to be bad',
      20_000,
    );
    expect(capture.lines.some((line) => line.device === 'meter-1' && String(line.problems).includes(name))).toBe(true);
    expect(changes.some((c) => c.device === 'meter-1' && c.to === 'offline' && c.at >= since)).toBe(false);
    await expectNeighbourUnharmed(since);
  });

  it.each([
    [0x05, 'acknowledge'],
    [0x06, 'server device busy'],
  ])('exception %i (%s) is retried after a pause, and the reading comes through', async (code) => {
    slave.setFaults({ 1: { kind: 'exception', exceptionCode: code, count: 2 } });
    await eventually(async () => (goodAfter('meter-1', since) ? true : undefined), 'a good reading', 20_000);
    const after = readings.filter((r) => r.device === 'meter-1' && r.ts > since);
    expect(after.every((r) => r.quality === 'good')).toBe(true);
  });
});

describe('mbpoll, a Modbus master nobody here wrote, reads the meter simulator over Modbus TCP', () => {
  it('gets the configured values in the documented registers', async () => {
    const { execFile } = await import('node:child_process');
    const { startNode } = await import('../support/processes.js');
    const { SIM_CLI } = await import('../support/paths.js');
    const port = await freePort();
    const sim = startNode('simulator', SIM_CLI, [
      'meter', '--port', String(port), '--units', '3', '--hold',
      '--set', 'energy_import_kwh=45678.91', '--set', 'frequency_hz=49.97',
    ]);
    try {
      await sim.waitForLog('simulator ready');
      const mbpoll = (args: string[]) =>
        new Promise<string>((resolve, reject) =>
          execFile('/usr/bin/mbpoll', ['-m', 'tcp', '-p', String(port), '-a', '3', '-0', '-1', '-t', '4:hex', ...args, '127.0.0.1'], { timeout: 20_000 }, (error, stdout) =>
            error ? reject(new Error(`${error.message}\n${stdout}`)) : resolve(stdout),
          ),
        );
      const words = (stdout: string) => [...stdout.matchAll(/^\[\d+\]:\s+0x([0-9A-F]+)/gim)].map((match) => parseInt(match[1]!, 16));
      // 4567891 hundredths of a kWh = 0x0045B353, low word first.
      expect(words(await mbpoll(['-r', '256', '-c', '2']))).toEqual([0xb353, 0x0045]);
      // 4997 hundredths of a hertz.
      expect(words(await mbpoll(['-r', '32', '-c', '1']))).toEqual([4997]);
    } finally {
      await sim.stop();
    }
  });
});

describe('a device that refuses to read the gaps between its points', () => {
  it('is re-planned around them once, and the lesson survives a restart', async () => {
    const profile = builtInProfile('reference-3ph-meter')!;
    const meter = new ProfileSlave(profile);
    meter.update({ power_factor: 0.97, frequency_hz: 49.99 });
    // Only the registers of points are implemented: a read across a gap gets exception 02.
    const strict = new SlaveMemory();
    for (const point of profile.points) {
      const width = point.type === 'float32' || point.type.endsWith('32') ? 2 : 1;
      strict.implement('holding', point.address, point.address + width - 1);
      strict.setMany('holding', point.address, meter.memory.read('holding', point.address, width));
    }
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-gaps-'));
    const pty = await startPtyPair();
    const slave = await startRtuSlave({ units: new Map([[1, strict]]), line: LINE_9600, turnaroundMs: 2, transport: { kind: 'serial', path: pty.b } });
    const config = AgentConfig.parse({
      site: 's',
      gateway: 'g',
      uplink: { url: 'mqtt://127.0.0.1:1' },
      buses: [{ id: 'riser', transport: 'rtu', path: pty.a, baud: 9600, parity: 'none', timeout_ms: 300 }],
      devices: [{ id: 'meter-1', bus: 'riser', unit: 1, profile: profile.id, poll_interval_ms: 0, turnaround_ms: 50 }],
    });
    const run = async () => {
      const readings: Reading[] = [];
      const capture = capturedLogger();
      const poller = new BusPoller({
        bus: config.buses[0]!,
        devices: [{ config: config.devices[0]!, profile }],
        sink: { readings: (batch) => readings.push(...batch), commChanged: () => undefined },
        log: capture.log,
        learned: new LearnedGaps(join(dir, 'learned-gaps.json')),
      });
      poller.start();
      await eventually(async () => (readings.filter((r) => r.point === 'frequency_hz').length >= 2 ? true : undefined), 'two cycles');
      await poller.stop();
      return { readings, replans: capture.lines.filter((line) => line.msg === 'device refused a merged read; re-planned around the gap') };
    };
    try {
      const first = await run();
      expect(first.replans.length).toBeGreaterThan(0);
      expect(first.readings.every((r) => r.quality === 'good')).toBe(true);
      expect(first.readings.find((r) => r.point === 'power_factor')?.value).toBe(0.97);
      const second = await run();
      expect(second.replans).toEqual([]);
      expect(second.readings.every((r) => r.quality === 'good')).toBe(true);
    } finally {
      await slave.close();
      await pty.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('meters behind an RS-485-to-Ethernet device server (RTU over TCP)', () => {
  it('are polled by the agent with their values decoded', async () => {
    const profile = builtInProfile('reference-3ph-meter')!;
    const meter = new ProfileSlave(profile);
    meter.update({ voltage_l2_v: 231.25, energy_export_kwh: 12.5 });
    const server = await startRtuSlave({
      units: new Map([[5, meter.memory]]),
      line: LINE_9600,
      turnaroundMs: 2,
      transport: { kind: 'tcp', port: 0 },
    });
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-rtu-tcp-'));
    const config = AgentConfig.parse({
      site: 's',
      gateway: 'g',
      uplink: { url: 'mqtt://127.0.0.1:1' },
      buses: [{ id: 'car-park', transport: 'rtu-over-tcp', host: '127.0.0.1', port: server.address().port, baud: 9600, parity: 'none', timeout_ms: 500 }],
      devices: [{ id: 'meter-5', bus: 'car-park', unit: 5, profile: profile.id, poll_interval_ms: 0 }],
    });
    const readings: Reading[] = [];
    const poller = new BusPoller({
      bus: config.buses[0]!,
      devices: [{ config: config.devices[0]!, profile }],
      sink: { readings: (batch) => readings.push(...batch), commChanged: () => undefined },
      log: capturedLogger().log,
      learned: new LearnedGaps(join(dir, 'learned-gaps.json')),
    });
    poller.start();
    try {
      const byPoint = await eventually(async () => {
        const found = new Map(readings.map((reading) => [reading.point, reading]));
        return found.has('voltage_l2_v') && found.has('energy_export_kwh') ? found : undefined;
      }, 'readings over RTU over TCP');
      expect(byPoint.get('voltage_l2_v')).toMatchObject({ value: 231.25, quality: 'good' });
      expect(byPoint.get('energy_export_kwh')).toMatchObject({ value: 12.5, quality: 'good' });
    } finally {
      await poller.stop();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
