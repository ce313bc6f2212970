/**
 * InfluxDB line protocol, written by hand against the reference
 * (docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/, "Special
 * characters"); each rule below has a test that also sends its output to a real influxd:
 *
 * - measurement: escape commas and spaces;
 * - tag keys, tag values and field keys: escape commas, equals signs and spaces;
 * - string field values: double-quoted, escape double quotes and backslashes;
 * - floats are plain numbers, booleans `true`/`false`; integers would need an `i` suffix, and
 *   the hub writes none, so that 50 and 50.5 of one point are one field type (float);
 * - the timestamp is an integer in the precision given to /write (the hub uses `ms`).
 *
 * No maintained npm library escapes this way without pulling in a whole client: the official
 * clients' escapers turn a newline into the two characters `\n`, which does not round-trip,
 * and the hub needs the text codec (text-codec.ts) in front of them anyway.
 */
const MEASUREMENT_SPECIALS = /[, ]/g;
const KEY_SPECIALS = /[,= ]/g;
const STRING_SPECIALS = /["\\]/g;

export const escapeMeasurement = (name: string) => name.replace(MEASUREMENT_SPECIALS, '\\$&');
/** Tag keys, tag values and field keys. */
export const escapeKey = (key: string) => key.replace(KEY_SPECIALS, '\\$&');
export const quoteString = (text: string) => `"${text.replace(STRING_SPECIALS, '\\$&')}"`;

export type FieldValue = number | boolean | string;

export function formatFieldValue(value: FieldValue): string {
  switch (typeof value) {
    case 'number':
      // A float written as "50" is a float; only a trailing "i" makes an integer.
      return String(value);
    case 'boolean':
      return value ? 'true' : 'false';
    default:
      return quoteString(value);
  }
}

/** `measurement,tag=value,...`: what names a series. Tag values must not be empty. */
export function seriesKey(measurement: string, tags: ReadonlyArray<readonly [string, string]>): string {
  let key = escapeMeasurement(measurement);
  for (const [tag, value] of tags) key += `,${escapeKey(tag)}=${escapeKey(value)}`;
  return key;
}

/** `key=`: a field key, escaped, ready for its value. */
export const fieldKey = (key: string) => `${escapeKey(key)}=`;
