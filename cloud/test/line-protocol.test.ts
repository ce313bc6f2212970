import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Influxd } from '../../tests/support/influxd.js';
import { InfluxHttp } from '../src/index.js';
import { identifier, stringLiteral } from '../src/store/telemetry/influx/influxql.js';
import {
  escapeKey,
  escapeMeasurement,
  fieldKey,
  formatFieldValue,
  quoteString,
  seriesKey,
} from '../src/store/telemetry/influx/line-protocol.js';
import { decodeText, encodeText } from '../src/store/telemetry/influx/text-codec.js';

/** Every rule of the line-protocol reference's "Special characters", and the hub's text codec. */
describe('line protocol escaping', () => {
  it('escapes commas and spaces in measurements, and nothing else', () => {
    expect(escapeMeasurement('a b,c=d"e\\f')).toBe('a\\ b\\,c=d"e\\f');
  });

  it('escapes commas, equals signs and spaces in tag keys, tag values and field keys', () => {
    expect(escapeKey('a b,c=d"e')).toBe('a\\ b\\,c\\=d"e');
    expect(seriesKey('m', [['t k', 'v,1=2']])).toBe('m,t\\ k=v\\,1\\=2');
    expect(fieldKey('f=1')).toBe('f\\=1=');
  });

  it('double-quotes string field values, escaping double quotes and backslashes', () => {
    expect(quoteString('say "hi" \\o/')).toBe('"say \\"hi\\" \\\\o/"');
  });

  it('writes numbers as floats (no integer suffix) and booleans as true/false', () => {
    expect([formatFieldValue(50), formatFieldValue(-0.25), formatFieldValue(1e-7), formatFieldValue(true), formatFieldValue(false)]).toEqual([
      '50',
      '-0.25',
      '1e-7',
      'true',
      'false',
    ]);
  });

  it('percent-escapes, reversibly, only what line protocol cannot carry: newlines, carriage returns, backslashes and %', () => {
    const text = 'line 1\nline 2\r\n50% \\ 粤B12345 "q" a,b=c';
    expect(encodeText(text)).toBe('line 1%0Aline 2%0D%0A50%25 %5C 粤B12345 "q" a,b=c');
    expect(decodeText(encodeText(text))).toBe(text);
    expect(encodeText('gate-1')).toBe('gate-1');
    // Text that merely looks escaped comes back as it was, because % itself is escaped.
    expect(decodeText(encodeText('%0A%25'))).toBe('%0A%25');
  });

  it('quotes InfluxQL identifiers and string literals', () => {
    expect(identifier('a "b" \\c')).toBe('"a \\"b\\" \\\\c"');
    expect(stringLiteral("it's \\")).toBe("'it\\'s \\\\'");
  });
});

describe('line protocol against a real influxd', () => {
  let influxd: Influxd;
  let http: InfluxHttp;

  beforeAll(async () => {
    influxd = await Influxd.create();
    http = new InfluxHttp({ url: influxd.url, database: 'lp' });
    await http.query('CREATE DATABASE "lp"', { method: 'POST' });
  });
  afterAll(() => influxd?.remove());

  /** Writes one point with the given names and values, and reads its names and values back. */
  async function roundTrip(measurement: string, tagKey: string, tagValue: string, field: string, value: number | boolean | string, ts: number) {
    const line = `${seriesKey(measurement, [[tagKey, encodeText(tagValue)]])} ${fieldKey(encodeText(field))}${formatFieldValue(
      typeof value === 'string' ? encodeText(value) : value,
    )} ${ts}`;
    await http.write(line, 'autogen');
    const [result] = await http.query(
      `SELECT ${identifier(encodeText(field))}, ${identifier(tagKey)} FROM ${identifier(measurement)} WHERE ${identifier(tagKey)} = ${stringLiteral(
        encodeText(tagValue),
      )}`,
    );
    const series = result?.series?.[0];
    const row = series?.values[0] ?? [];
    return {
      measurement: series?.name,
      time: row[0],
      value: typeof row[1] === 'string' ? decodeText(row[1]) : row[1],
      tag: decodeText(String(row[2])),
      field: decodeText(String(series?.columns[1])),
    };
  }

  it.each([
    ['plain', 'm', 'device', 'gate-1', 'plate', 'AB123'],
    ['spaces, commas and equals signs in every name', 'lift car, east', 'tag key=1', 'v a,l=ue', 'field, k=ey', 'x'],
    ['quotes and backslashes in strings and tags', 'm2', 'device', 'gate "1" \\ north\\', 'text', 'say "hi" \\o/ \\'],
    ['newlines and carriage returns', 'm3', 'device', 'two\nlines\r', 'note', 'first\nsecond\r\nthird'],
    ['unicode and percent signs', 'm4', 'device', '粤B12345', 'plate', '粤B12345 100%'],
  ])('round-trips %s', async (_, measurement, tagKey, tagValue, field, value) => {
    const ts = Date.UTC(2026, 0, 1) + Math.floor(Math.random() * 1000);
    expect(await roundTrip(measurement, tagKey, tagValue, field, value, ts)).toEqual({ measurement, time: ts, value, tag: tagValue, field });
  });

  it('round-trips floats of every size and booleans, at millisecond timestamps', async () => {
    const numbers = [0, 50, -0.25, 1e-7, 123456789.125, 1.7976931348623157e308, -5e-324];
    for (const [i, value] of [...numbers, true, false].entries()) {
      const got = await roundTrip(`n${i}`, 'device', 'd', 'v', value, Date.UTC(2026, 0, 1, 0, 0, 0, 123));
      expect(got.value).toBe(value);
      expect(got.time).toBe(Date.UTC(2026, 0, 1, 0, 0, 0, 123));
    }
  });
});
