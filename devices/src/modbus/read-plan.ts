import { planReads, RegisterDecodeError, type ReadRequest, type RegisterValue } from '@gatehouse/protocols';
import type { DeviceProfile } from '../profile/schema.js';
import { decodePoint, modbusPointsOf, type ModbusPoint } from './points.js';

/** One read request of a device's poll cycle and the points it carries. */
export interface PlannedRead {
  request: ReadRequest;
  points: ModbusPoint[];
}

export function planProfileReads(profile: DeviceProfile): PlannedRead[] {
  const points = modbusPointsOf(profile);
  const requests = planReads(
    points,
    { maxRegisters: profile.limits.max_registers_per_request, maxBits: profile.limits.max_bits_per_request },
    // The profile knows neither the bus nor the device's turnaround. Costing the turnaround at 0
    // makes requests look cheapest, so a gap is read only where that pays even on the quickest
    // device: at most 9 registers on the nominal line, close to the fixed 8 used before.
    { turnaroundMs: 0 },
  );
  return requests.map((request) => ({ request, points: request.spans.map((index) => points[index]!) }));
}

export type PointResult = { point: string; value: RegisterValue } | { point: string; error: string };

/** Decodes every point a read carried from the words (or bits) the device returned. */
export function decodePlannedRead(read: PlannedRead, raw: readonly number[] | readonly boolean[]): PointResult[] {
  return read.points.map((point) => {
    const from = point.address - read.request.address;
    try {
      return { point: point.point, value: decodePoint(point, raw.slice(from, from + point.count)) };
    } catch (error) {
      if (error instanceof RegisterDecodeError) return { point: point.point, error: error.message };
      throw error;
    }
  });
}
