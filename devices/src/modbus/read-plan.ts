import {
  planReads,
  RegisterDecodeError,
  type ReadRequest,
  type RegisterSpan,
  type RegisterValue,
  type RequestCostModel,
} from '@gatehouse/protocols';
import type { DeviceProfile } from '../profile/schema.js';
import { decodePoint, modbusPointsOf, type ModbusPoint } from './points.js';

/** One read request of a device's poll cycle and the points it carries. */
export interface PlannedRead {
  request: ReadRequest;
  points: ModbusPoint[];
}

export interface PlanOptions {
  /** The bus and the device's turnaround. Without it the turnaround counts as 0, which makes
   *  requests look cheapest: a gap is then read only where that pays even on the quickest device. */
  model?: RequestCostModel;
  /** Addresses the device refused to read, learned from "illegal data address" answers. */
  unreadable?: readonly RegisterSpan[];
  /** A lower register limit than the profile's, e.g. for a device that chokes on long reads. */
  maxRegisters?: number;
}

export function planProfileReads(profile: DeviceProfile, options: PlanOptions = {}): PlannedRead[] {
  const points = modbusPointsOf(profile);
  const requests = planReads(
    points,
    {
      maxRegisters: Math.min(options.maxRegisters ?? 125, profile.limits.max_registers_per_request),
      maxBits: profile.limits.max_bits_per_request,
      ...(options.unreadable ? { unreadable: options.unreadable } : {}),
    },
    options.model ?? { turnaroundMs: 0 },
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
