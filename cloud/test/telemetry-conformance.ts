import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Quality } from '@gatehouse/protocols';
import {
  AGGREGATIONS,
  isStoreError,
  type Aggregation,
  type ReadingValue,
  type StoreName,
  type TelemetryDevice,
  type TelemetryReading,
  type TelemetryStore,
} from '../src/index.js';

/** A telemetry store under test, and a way to take its backing store away and bring it back. */
export interface TelemetryHarness {
  store: TelemetryStore;
  storeName: StoreName;
  /** Stops the server (or closes the embedded database) under the store. */
  goAway(): Promise<void>;
  comeBack(): Promise<void>;
  /** Stops and removes everything the harness started. */
  close(): Promise<void>;
}

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/**
 * A day-aligned time two days ago: inside any raw retention the stores keep, and on a window
 * boundary of every length the suite asks for.
 */
const T0 = Math.floor((Date.now() - 2 * DAY) / DAY) * DAY;

let deviceCount = 0;
/** A device of its own for each test, so that tests share a store but not data. */
function newDevice(kind: string | null = 'electric_meter', name = `meter-${++deviceCount}`) {
  const [site, gateway] = ['tower-a', 'gw-01'];
  return { site, gateway, device: `${site}.${gateway}.${name}`, kind };
}
type Device = ReturnType<typeof newDevice>;

const reading = (device: Device, point: string, ts: number, value: ReadingValue, quality: Quality = 'good'): TelemetryReading => ({
  ...device,
  point,
  ts,
  value,
  quality,
});
const ref = (device: Device): TelemetryDevice => ({ id: device.device, kind: device.kind });

/**
 * The telemetry store port's conformance suite: every adapter runs it against its real store.
 * Empty windows are absent from a series (documented on SeriesPoint).
 */
export function telemetryStoreConformance(name: string, open: () => Promise<TelemetryHarness>): void {
  describe(`telemetry store conformance: ${name}`, () => {
    let harness: TelemetryHarness;
    let store: TelemetryStore;

    beforeAll(async () => {
      harness = await open();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.close();
    });

    async function write(readings: TelemetryReading[]) {
      const result = await store.write(readings);
      if (!result.ok) throw result.error;
    }
    const series = (device: Device, point: string, agg: Aggregation, from: number, to: number, every = 15 * MINUTE) =>
      store.series({ device: ref(device), point, from, to, every, agg });

    it('writes readings and serves the latest of each point, with its quality, a null value included', async () => {
      const meter = newDevice();
      await write([
        reading(meter, 'voltage_l1_v', T0, 230.1),
        reading(meter, 'frequency_hz', T0, 50),
        reading(meter, 'voltage_l1_v', T0 + MINUTE, 230.4, 'uncertain'),
        reading(meter, 'current_l1_a', T0 + MINUTE, null, 'bad'),
      ]);
      expect(await store.latest(ref(meter))).toEqual([
        { device: meter.device, point: 'current_l1_a', ts: T0 + MINUTE, value: null, quality: 'bad' },
        { device: meter.device, point: 'frequency_hz', ts: T0, value: 50, quality: 'good' },
        { device: meter.device, point: 'voltage_l1_v', ts: T0 + MINUTE, value: 230.4, quality: 'uncertain' },
      ]);
    });

    it('keeps booleans, text and numbers of every size as they were', async () => {
      const lift = newDevice('elevator', 'lift-1');
      const numbers = [0, -0.5, 1e-7, 123456789.125, -42, 1.7976931348623157e308];
      await write([
        reading(lift, 'moving', T0, true),
        reading(lift, 'door_open', T0, false),
        reading(lift, 'direction', T0, 'up'),
        ...numbers.map((value, index) => reading(lift, 'floor', T0 + index * MINUTE, value)),
      ]);
      const latest = Object.fromEntries((await store.latest(ref(lift))).map((r) => [r.point, r.value]));
      expect(latest).toEqual({ moving: true, door_open: false, direction: 'up', floor: 1.7976931348623157e308 });
      const floors = await series(lift, 'floor', 'last', T0, T0 + HOUR, MINUTE);
      expect(floors.map((p) => p.value)).toEqual(numbers);
    });

    it('is idempotent: the same reading written twice is stored once, and the later value wins', async () => {
      const meter = newDevice();
      const batch = [reading(meter, 'energy_import_kwh', T0, 100), reading(meter, 'energy_import_kwh', T0 + MINUTE, 101)];
      await write(batch);
      await write(batch);
      expect(await series(meter, 'energy_import_kwh', 'count', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, value: 2 }]);
      await write([reading(meter, 'energy_import_kwh', T0 + MINUTE, 102)]);
      expect(await series(meter, 'energy_import_kwh', 'sum', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, value: 202 }]);
    });

    it('keeps the newer latest value when an older reading arrives late', async () => {
      const meter = newDevice();
      await write([reading(meter, 'voltage_l1_v', T0 + HOUR, 231)]);
      await write([reading(meter, 'voltage_l1_v', T0, 199)]);
      expect(await store.latest(ref(meter))).toEqual([{ device: meter.device, point: 'voltage_l1_v', ts: T0 + HOUR, value: 231, quality: 'good' }]);
    });

    it('aggregates a series with every aggregation, in windows aligned to the epoch', async () => {
      const meter = newDevice();
      await write([
        reading(meter, 'active_power_kw', T0 + 1 * MINUTE, 10),
        reading(meter, 'active_power_kw', T0 + 5 * MINUTE, 20),
        reading(meter, 'active_power_kw', T0 + 14 * MINUTE, 30),
        reading(meter, 'active_power_kw', T0 + 16 * MINUTE, 5),
        // A failed read is no reading: its window is absent.
        reading(meter, 'active_power_kw', T0 + 31 * MINUTE, null, 'bad'),
        reading(meter, 'active_power_kw', T0 + 61 * MINUTE, -4),
      ]);
      const expected: Record<Aggregation, number[]> = {
        mean: [20, 5, -4],
        min: [10, 5, -4],
        max: [30, 5, -4],
        sum: [60, 5, -4],
        count: [3, 1, 1],
        last: [30, 5, -4],
      };
      for (const agg of AGGREGATIONS) {
        const points = await series(meter, 'active_power_kw', agg, T0, T0 + 2 * HOUR);
        expect(points, agg).toEqual([T0, T0 + 15 * MINUTE, T0 + 60 * MINUTE].map((ts, i) => ({ ts, value: expected[agg][i] })));
      }
      // Hour windows, and a range that starts inside a window: the window keeps its aligned
      // start and holds only the readings from `from` on.
      expect(await series(meter, 'active_power_kw', 'sum', T0, T0 + 2 * HOUR, HOUR)).toEqual([
        { ts: T0, value: 65 },
        { ts: T0 + HOUR, value: -4 },
      ]);
      expect(await series(meter, 'active_power_kw', 'mean', T0 + 5 * MINUTE, T0 + 15 * MINUTE)).toEqual([{ ts: T0, value: 25 }]);
      // `to` is exclusive.
      expect(await series(meter, 'active_power_kw', 'count', T0, T0 + 14 * MINUTE)).toEqual([{ ts: T0, value: 2 }]);
    });

    it('leaves the windows of a gap out of a series', async () => {
      const meter = newDevice();
      const before = [0, 1, 2, 3].map((i) => T0 + i * 15 * MINUTE);
      const after = [0, 1].map((i) => T0 + 5 * HOUR + i * 15 * MINUTE);
      await write([...before, ...after].map((ts, i) => reading(meter, 'current_l1_a', ts, i)));
      const points = await series(meter, 'current_l1_a', 'mean', T0, T0 + 6 * HOUR);
      expect(points.map((p) => p.ts)).toEqual([...before, ...after]);
      expect(points.map((p) => p.value)).toEqual([0, 1, 2, 3, 4, 5]);
      expect(await series(meter, 'current_l1_a', 'mean', T0 + HOUR, T0 + 5 * HOUR)).toEqual([]);
    });

    it('keeps special characters in tags and text: spaces, commas, equals signs, quotes, backslashes, newlines, unicode', async () => {
      const awkward = 'gate 1, "north"=in \\ exit\nlane\r2 50% 粤B12345 \'q\' \\';
      const camera = { site: 'site a,b=c', gateway: 'gw "1"\\', device: `site a,b=c.gw "1"\\.${awkward}`, kind: 'lpr_camera' };
      // Two devices that line protocol would confuse if escaping were wrong.
      const twinA = { ...newDevice('lpr_camera'), device: 'a,b' };
      const twinB = { ...newDevice('lpr_camera'), device: 'a\\,b' };
      await write([
        reading(camera, 'plate', T0, awkward),
        reading(camera, 'plate', T0 + MINUTE, '粤B12345'),
        reading(camera, 'online', T0 + MINUTE, true),
        reading(twinA, 'plate', T0, 'A'),
        reading(twinB, 'plate', T0, 'B'),
      ]);
      expect(await store.latest(ref(camera))).toEqual([
        { device: camera.device, point: 'online', ts: T0 + MINUTE, value: true, quality: 'good' },
        { device: camera.device, point: 'plate', ts: T0 + MINUTE, value: '粤B12345', quality: 'good' },
      ]);
      expect(await series(camera, 'plate', 'last', T0, T0 + HOUR, MINUTE)).toEqual([
        { ts: T0, value: awkward },
        { ts: T0 + MINUTE, value: '粤B12345' },
      ]);
      expect(await series(camera, 'plate', 'count', T0, T0 + HOUR, HOUR)).toEqual([{ ts: T0, value: 2 }]);
      expect((await store.latest(ref(twinA))).map((r) => r.value)).toEqual(['A']);
      expect((await store.latest(ref(twinB))).map((r) => r.value)).toEqual(['B']);
    });

    it('answers nothing, not an error, for a device or point it has never seen', async () => {
      const ghost = newDevice();
      expect(await store.latest(ref(ghost))).toEqual([]);
      expect(await series(ghost, 'voltage_l1_v', 'mean', T0, T0 + HOUR)).toEqual([]);
    });

    it('fails with an actionable error while its store is away, and recovers when it comes back', async () => {
      const meter = newDevice();
      await write([reading(meter, 'voltage_l1_v', T0, 230)]);
      await harness.goAway();
      const failed = await store.write([reading(meter, 'voltage_l1_v', T0 + MINUTE, 231)]);
      expect(failed.ok).toBe(false);
      if (failed.ok) return;
      expect(failed.error).toMatchObject({ code: 'unavailable', store: harness.storeName });
      expect(failed.error.message.length).toBeGreaterThan(20);
      const readFailure: unknown = await store.latest(ref(meter)).catch((error: unknown) => error);
      expect(isStoreError(readFailure) && readFailure.code).toBe('unavailable');

      await harness.comeBack();
      await write([reading(meter, 'voltage_l1_v', T0 + MINUTE, 231)]);
      expect(await series(meter, 'voltage_l1_v', 'last', T0, T0 + HOUR, MINUTE)).toEqual([
        { ts: T0, value: 230 },
        { ts: T0 + MINUTE, value: 231 },
      ]);
    });
  });
}
