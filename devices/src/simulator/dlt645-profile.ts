import { dlt645 } from '@gatehouse/protocols';
import type { Dlt645Profile } from '../profile/schema.js';

/**
 * A DL/T 645 profile's points resolved for the wire: the data identifier as a number and the
 * value's format. Shared by the meter simulator and the gateway's DL/T 645 master, so that both
 * read one profile the same way.
 */
export interface Dlt645Point {
  point: string;
  di: number;
  format: dlt645.ValueFormat;
  scale: number;
}

export function dlt645PointsOf(profile: Dlt645Profile): Dlt645Point[] {
  return profile.points.map((mapping) => {
    const di = dlt645.parseDataIdentifier(mapping.di);
    const format =
      mapping.format === undefined
        ? dlt645.DATA_IDENTIFIERS.get(di)?.format
        : dlt645.parseValueFormat(mapping.format, mapping.signed ?? false);
    // The profile schema has checked both; a profile built by hand may not have been.
    if (!format) throw new RangeError(`${profile.id}: ${mapping.point}: no format for DI ${mapping.di}`);
    return { point: mapping.point, di, format, scale: mapping.scale };
  });
}

/** The catalogue value in a meter's answer, or why there is none. */
export function decodeDlt645Point(point: Dlt645Point, value: Uint8Array): { value: number } | { error: string } {
  const decoded = dlt645.decodeValues(value, point.format);
  if (!decoded.ok) return { error: `${dlt645.describeDataIdentifier(point.di)}: ${decoded.error}` };
  return { value: decoded.values[0]! * point.scale };
}

/** The value bytes a meter sends for a catalogue value; RangeError when it does not fit the format. */
export function encodeDlt645Point(point: Dlt645Point, value: number): Buffer {
  return dlt645.encodeValues([value / point.scale], point.format);
}
