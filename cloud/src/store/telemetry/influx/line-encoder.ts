import type { Quality } from '@gatehouse/protocols';
import type { TelemetryReading } from '../port.js';
import { fieldKey, formatFieldValue, seriesKey } from './line-protocol.js';
import { encodeText } from './text-codec.js';

/** Readings of a device whose kind the hub does not know yet are kept here. */
const UNCLASSIFIED = 'unclassified';
/** The field beside each point's value that holds the reading's quality. */
export const QUALITY_SUFFIX = '.quality';

export const measurementOf = (kind: string | null) => kind ?? UNCLASSIFIED;
export const valueField = (point: string) => encodeText(point);
const qualityField = (point: string) => `${encodeText(point)}${QUALITY_SUFFIX}`;

/** Lines of line protocol, each ending in a newline, as one string: what a request body is made of. */
export interface LineChunk {
  text: string;
  lines: number;
}

/** A point's field keys, escaped once, in the pieces a line is made of. */
interface PointFields {
  /** `{point}=` first on a line, and `,{point}=` after another field. */
  value: string;
  nextValue: string;
  /** `{point}.quality="good"` and so on (qualities hold nothing to escape), likewise. */
  quality: Record<Quality, string>;
  nextQuality: Record<Quality, string>;
}

/** Caches stay small in a hub (one entry per device and per point) but are capped all the same. */
const CACHE_LIMIT = 200_000;

/**
 * Readings as line protocol: one line per device and timestamp, holding each point's value
 * (absent when the value is null) and its quality. Consecutive readings of one device at one
 * timestamp share a line, which is how gateways send them; readings that do not share a line
 * still land in the same InfluxDB point, since lines with the same series and timestamp merge.
 *
 * Encoding is on the hub's write path, and its throughput is measured against influxd's own
 * (tests/bench/telemetry-store.ts), so: series keys and field keys are escaped once per device
 * and point and then reused, and a chunk is built as a list of pieces joined once, rather than
 * as line strings concatenated piece by piece and copied again when joined into a body.
 */
export class LineEncoder {
  private readonly seriesKeys = new Map<string, { kind: string | null; site: string; gateway: string; key: string }>();
  private readonly pointFields = new Map<string, PointFields>();

  /** Encodes readings into chunks of at most `maxLines` lines. */
  encode(readings: readonly TelemetryReading[], maxLines: number): LineChunk[] {
    const chunks: LineChunk[] = [];
    let parts: string[] = [];
    let lines = 0;
    let previous: TelemetryReading | undefined;
    const points: string[] = [];
    // Readings come in time order, many devices at one time: a line's end is made once per time.
    let endTs = NaN;
    let end = '';
    const endLine = (ts: number) => {
      if (ts !== endTs) [endTs, end] = [ts, ` ${ts}\n`];
      parts.push(end);
      if (++lines === maxLines) {
        chunks.push({ text: parts.join(''), lines });
        parts = [];
        lines = 0;
      }
    };
    for (const reading of readings) {
      const sameLine =
        previous !== undefined &&
        previous.device === reading.device &&
        previous.ts === reading.ts &&
        previous.kind === reading.kind &&
        previous.site === reading.site &&
        previous.gateway === reading.gateway &&
        // A point twice at one timestamp goes on a new line, so that the later value wins.
        !points.includes(reading.point);
      if (!sameLine) {
        if (previous) endLine(previous.ts);
        parts.push(this.seriesKeyOf(reading));
        points.length = 0;
      }
      points.push(reading.point);
      const fields = this.pointFields.get(reading.point) ?? this.fieldsOf(reading.point);
      const value = reading.value;
      if (value === null) {
        parts.push((sameLine ? fields.nextQuality : fields.quality)[reading.quality]);
      } else {
        const text = typeof value === 'number' ? String(value) : formatFieldValue(typeof value === 'string' ? encodeText(value) : value);
        parts.push(sameLine ? fields.nextValue : fields.value, text, fields.nextQuality[reading.quality]);
      }
      previous = reading;
    }
    if (previous) endLine(previous.ts);
    if (lines > 0) chunks.push({ text: parts.join(''), lines });
    return chunks;
  }

  private seriesKeyOf(reading: TelemetryReading): string {
    const entry = this.seriesKeys.get(reading.device);
    if (entry && entry.kind === reading.kind && entry.site === reading.site && entry.gateway === reading.gateway) return entry.key;
    // Tags in key order, as the line-protocol reference advises; the space before the fields with it.
    const key = `${seriesKey(measurementOf(reading.kind), [
      ['device', encodeText(reading.device)],
      ['gateway', encodeText(reading.gateway)],
      ['site', encodeText(reading.site)],
    ])} `;
    if (this.seriesKeys.size >= CACHE_LIMIT) this.seriesKeys.clear();
    this.seriesKeys.set(reading.device, { kind: reading.kind, site: reading.site, gateway: reading.gateway, key });
    return key;
  }

  private fieldsOf(point: string): PointFields {
    const value = fieldKey(valueField(point));
    const key = fieldKey(qualityField(point));
    const quality = { good: `${key}"good"`, bad: `${key}"bad"`, uncertain: `${key}"uncertain"` };
    const nextQuality = { good: `,${quality.good}`, bad: `,${quality.bad}`, uncertain: `,${quality.uncertain}` };
    const fields: PointFields = { value, nextValue: `,${value}`, quality, nextQuality };
    if (this.pointFields.size >= CACHE_LIMIT) this.pointFields.clear();
    this.pointFields.set(point, fields);
    return fields;
  }
}
