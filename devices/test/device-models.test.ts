import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModbusClient, type RegisterValue } from '@gatehouse/protocols';
import {
  builtInProfile,
  decodePlannedRead,
  parseProfile,
  planProfileReads,
  ProfileError,
  startDeviceSimulator,
  type DeviceProfile,
  type DeviceSimulator,
  type ModbusPoint,
} from '../src/index.js';

const MODELS = [
  'chint-dtsu666',
  'eastron-sdm630',
  'reference-water-meter',
  'reference-elevator',
  'reference-door-controller',
  'reference-barrier-gate',
] as const;

function profile(id: string): DeviceProfile {
  const found = builtInProfile(id);
  if (!found) throw new Error(`no shipped profile ${id}`);
  return found;
}

/** Decodes a profile's points from a register image (address → word), as the edge plans and reads them. */
function decodeImage(model: DeviceProfile, image: ReadonlyMap<number, number>): Record<string, RegisterValue> {
  const values: Record<string, RegisterValue> = {};
  for (const read of planProfileReads(model)) {
    const words = Array.from({ length: read.request.count }, (_, i) => image.get(read.request.address + i) ?? 0);
    for (const result of decodePlannedRead(read, words)) {
      if ('error' in result) throw new Error(`${result.point}: ${result.error}`);
      values[result.point] = result.value;
    }
  }
  return values;
}

/**
 * A register holds a value to its resolution: a float32 to about 7 significant digits, an integer
 * to half its scale (a water meter's litres).
 */
function expectSameReading(point: ModbusPoint, actual: RegisterValue | undefined, expected: RegisterValue | undefined, what: string): void {
  if (typeof expected === 'number') {
    expect(typeof actual, what).toBe('number');
    const resolution = point.layout.type === 'float32' ? Math.abs(expected) * 1e-6 : Math.abs(point.scale) / 2;
    expect(Math.abs((actual as number) - expected), what).toBeLessThanOrEqual(Math.max(1e-9, resolution));
  } else {
    expect(actual, what).toEqual(expected);
  }
}

describe('the shipped device models', () => {
  it.each(MODELS)('%s validates, and every point maps onto its kind of the catalogue', (id) => {
    const model = profile(id);
    expect(model.id).toBe(id);
    expect(parseProfile(JSON.parse(JSON.stringify(model)), id)).toEqual(model);
  });

  describe.each(MODELS)('%s through its simulator over Modbus TCP', (id) => {
    let simulator: DeviceSimulator;
    let client: ModbusClient;

    beforeAll(async () => {
      simulator = await startDeviceSimulator({ profile: profile(id), host: '127.0.0.1', port: 0, units: [1, 2], tickMs: 1000, hold: true });
      client = new ModbusClient({ transport: { kind: 'tcp', host: '127.0.0.1', port: simulator.tcp!.address().port }, timeoutMs: 2000 });
    });
    afterAll(async () => {
      await client.close();
      await simulator.stop();
    });

    it('reads back every point as the simulator holds it, for each unit', async () => {
      for (const unit of [1, 2]) {
        const expected = simulator.values(unit)!;
        for (const read of planProfileReads(profile(id))) {
          const { table, address, count } = read.request;
          const result = await client.read(unit, table, address, count);
          if (!result.ok) throw new Error(`unit ${unit} ${table} ${address}+${count}: ${result.failure.message}`);
          decodePlannedRead(read, result.value).forEach((decoded, i) => {
            if ('error' in decoded) throw new Error(`${decoded.point}: ${decoded.error}`);
            expectSameReading(read.points[i]!, decoded.value, expected[decoded.point], `unit ${unit} ${decoded.point}`);
          });
        }
      }
    });
  });
});

describe('real meters decode as their register maps document', () => {
  // Hand-worked IEEE-754 singles: 2301.0 = 1.00011111101b × 2^11 → 0x450FD000, and so on.
  it('Chint DTSU666: holding registers, float32 ABCD, in 0.1 V, 0.001 A, 0.1 W, 0.001, 0.01 Hz and kWh', () => {
    const image = new Map<number, number>([
      [0x2006, 0x450f], [0x2007, 0xd000], // Ua = 2301.0 × 0.1 V
      [0x200c, 0x4640], [0x200d, 0xe600], // Ia = 12345.5 × 0.001 A
      [0x2012, 0x450f], [0x2013, 0xc000], // Pt = 2300.0 × 0.1 W
      [0x202a, 0x446d], [0x202b, 0x8000], // PFt = 950.0 × 0.001
      [0x2044, 0x459c], [0x2045, 0x4000], // Freq = 5000.0 × 0.01 Hz
      [0x401e, 0x4640], [0x401f, 0xe600], // ImpEp = 12345.5 kWh
      [0x4028, 0x449a], [0x4029, 0x5000], // ExpEp = 1234.5 kWh
    ]);
    expect(decodeImage(profile('chint-dtsu666'), image)).toMatchObject({
      voltage_l1_v: 230.1,
      current_l1_a: 12.3455,
      active_power_kw: 0.23,
      power_factor: 0.95,
      frequency_hz: 50,
      energy_import_kwh: 12345.5,
      energy_export_kwh: 1234.5,
    });
  });

  it('Chint DTSU666: reads with FC 03 within its two documented blocks, 0x2000.. and 0x4000..', () => {
    const reads = planProfileReads(profile('chint-dtsu666')).map(({ request }) => request);
    for (const { table, address, count } of reads) {
      expect(table).toBe('holding');
      const last = address + count - 1;
      expect((address >= 0x2000 && last <= 0x2045) || (address >= 0x401e && last <= 0x4029)).toBe(true);
    }
    expect(reads.flatMap((read) => read.spans)).toHaveLength(12);
  });

  it('Eastron SDM630: input registers, float32 ABCD, in V, W, kWh and Hz', () => {
    const image = new Map<number, number>([
      [0x0000, 0x4366], [0x0001, 0x8000], // phase 1 volts = 230.5
      [0x0034, 0x450f], [0x0035, 0xc000], // total system power = 2300 W
      [0x003e, 0x3f00], [0x003f, 0x0000], // total system power factor = 0.5
      [0x0046, 0x4248], [0x0047, 0x0000], // frequency = 50 Hz
      [0x0048, 0x449a], [0x0049, 0x5000], // total import = 1234.5 kWh
      [0x004a, 0x4640], [0x004b, 0xe600], // total export = 12345.5 kWh
    ]);
    expect(decodeImage(profile('eastron-sdm630'), image)).toMatchObject({
      voltage_l1_v: 230.5,
      active_power_kw: 2.3,
      power_factor: 0.5,
      frequency_hz: 50,
      energy_import_kwh: 1234.5,
      energy_export_kwh: 12345.5,
    });
  });

  it('Eastron SDM630: FC 04 requests of at most 80 registers (40 parameters)', () => {
    const reads = planProfileReads(profile('eastron-sdm630')).map(({ request }) => request);
    expect(reads.every((read) => read.table === 'input' && read.count <= 80)).toBe(true);
    expect(reads.flatMap((read) => read.spans)).toHaveLength(12);
  });
});

describe('profile additions', () => {
  const elevator = {
    id: 'lift',
    kind: 'elevator',
    vendor: 'Acme',
    model: 'L1',
    protocol: 'modbus',
    points: [{ point: 'direction', address: 1, type: 'uint16', values: { 0: 'stopped', 1: 'up', 2: 'down' } }],
  };
  const paths = (document: unknown) => {
    try {
      parseProfile(document, 'test');
      return [];
    } catch (error) {
      if (error instanceof ProfileError) return error.issues.map((issue) => issue.path);
      throw error;
    }
  };

  it('decodes a coded text point and refuses a code the profile does not name', () => {
    const model = parseProfile(elevator, 'test');
    const [read] = planProfileReads(model);
    expect(decodePlannedRead(read!, [2])).toEqual([{ point: 'direction', value: 'down' }]);
    expect(decodePlannedRead(read!, [7])[0]).toHaveProperty('error');
  });

  it.each([
    ['a text point read as a plain number', { point: 'direction', address: 1, type: 'uint16' }, 'points[0].type'],
    ['codes on a float', { point: 'direction', address: 1, type: 'float32', values: { 1: 'up' } }, 'points[0].values'],
    ['codes on a number point', { point: 'floor', address: 1, type: 'int16', values: { 1: 'up' } }, 'points[0].values'],
    ['a writable input register', { point: 'floor', address: 1, type: 'int16', table: 'input', writable: true }, 'points[0].writable'],
  ])('rejects %s, naming the field', (_what, point, path) => {
    expect(paths({ ...elevator, points: [point] })).toContain(path);
  });

  it('rejects an event buffer whose fields or header do not fit its records', () => {
    const door = structuredClone(profile('reference-door-controller')) as unknown as Record<string, Record<string, unknown>>;
    door.event_buffer!.fields = { sequence: 0, timestamp: 2, card: 4, code: 8 };
    door.event_buffer!.read_index = 0x0118;
    expect(paths(door)).toEqual(expect.arrayContaining(['event_buffer.fields.code', 'event_buffer.read_index']));
  });
});
