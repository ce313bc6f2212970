import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { z } from 'zod';
import { fieldIssues, Identifier, Timestamp, type FieldIssue, type GatehouseEvent } from '@gatehouse/protocols';

/**
 * The plate-read formats LPR cameras push to the agent, each validated by a zod schema and
 * turned into one `PlateRead`: a generic JSON format (ours), and Hikvision's ISAPI ANPR event
 * notification (`EventNotificationAlert` with `eventType` ANPR), which a Hikvision ANPR camera
 * posts to an "HTTP listening" / alarm host URL, as XML or multipart/form-data with the XML in a
 * part named `anpr.xml` beside the pictures (newer firmware may send the same alert as JSON).
 * Source: Hikvision, Device Network SDK (Traffic) Developer Guide V6.1.4.X (2022-03-11),
 * "XML_EventNotificationAlert_ANPR", and Intelligent Security API (ANPR) Developer Guide,
 * ch. 5 "Alarm or Event Receiving".
 */

export const PLATE_COLOURS = ['blue', 'yellow', 'white', 'black', 'green', 'yellow_green', 'other', 'unknown'] as const;
export type PlateColour = (typeof PLATE_COLOURS)[number];
export const DIRECTIONS = ['in', 'out', 'unknown'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/** A plate read, whatever format it came in. */
export interface PlateRead {
  camera: string;
  plate: string;
  colour: PlateColour;
  /** 0 to 1; null when the camera gave none. */
  confidence: number | null;
  /** The camera's lane number; null when it gave none. */
  lane: number | null;
  direction: Direction;
  ts: number;
  format: 'generic' | 'hikvision';
}

export type ParseResult = { ok: true; read: PlateRead } | { ok: true; ignored: string } | { ok: false; issues: FieldIssue[] };

const failed = (path: string, message: string): ParseResult => ({ ok: false, issues: [{ path, message }] });

/** Letters of any script (Chinese plates begin with a province character), digits, '-', '·' and spaces. */
const Plate = z
  .string()
  .trim()
  .min(1, 'a plate number')
  .max(16)
  .regex(/^(?:[\p{L}\p{N}][\p{L}\p{N}·\- ]*)?$/u, 'letters, digits, "-", "·" and spaces')
  .transform((plate) => plate.toUpperCase());

/** An ISO 8601 date-time (with its offset, or the gateway's local time without) → ms since the epoch. */
const DateTime = z
  .string()
  .trim()
  .min(1)
  .transform((text, ctx) => {
    const ms = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? Date.parse(text) : Number.NaN;
    if (Number.isNaN(ms)) {
      ctx.addIssue({ code: 'custom', message: 'an ISO 8601 date-time, e.g. 2026-05-01T08:30:00+08:00' });
      return z.NEVER;
    }
    return ms;
  })
  .pipe(Timestamp);

/** The generic format: one JSON object per read. */
export const GenericPlateRead = z.strictObject({
  camera: Identifier,
  plate: Plate,
  colour: z.enum(PLATE_COLOURS).default('unknown'),
  /** 0 to 1. */
  confidence: z.number().min(0).max(1),
  lane: z.number().int().min(0).max(255).nullable().default(null),
  direction: z.enum(DIRECTIONS).default('unknown'),
  /** Milliseconds since the epoch or an ISO 8601 date-time; default: when the agent received it. */
  ts: z.union([Timestamp, DateTime]).optional(),
});

export function parseGenericPlateRead(body: unknown, receivedAt: number): ParseResult {
  const result = GenericPlateRead.safeParse(body);
  if (!result.success) return { ok: false, issues: fieldIssues(result.error) };
  const { ts, ...read } = result.data;
  return { ok: true, read: { ...read, ts: ts ?? receivedAt, format: 'generic' } };
}

/** XML leaves values as text and empty elements as ''; an empty optional element is absent. */
const blankIsAbsent = (value: unknown) => (value === '' ? undefined : value);
const optionalInteger = (max: number) => z.preprocess(blankIsAbsent, z.coerce.number().int().min(0).max(max).optional());

const HikvisionAnpr = z.object({
  licensePlate: z.preprocess((value) => (typeof value === 'number' ? String(value) : value), Plate),
  /** Lane number. */
  line: optionalInteger(255),
  /** forward, reverse or unknown: the vehicle's direction relative to the camera. */
  direction: z.preprocess(blankIsAbsent, z.string().optional()),
  /** 0 to 100. */
  confidenceLevel: z.preprocess(blankIsAbsent, z.coerce.number().min(0).max(100).optional()),
  plateColor: z.preprocess(blankIsAbsent, z.string().optional()),
});

const HikvisionAlert = z.object({
  ipAddress: z.string().optional(),
  channelID: z.unknown().optional(),
  dateTime: DateTime,
  eventType: z.string().min(1),
  eventState: z.string().optional(),
  ANPR: z.unknown().optional(),
});

/** Hikvision's plate colours onto ours; a colour not listed is `other`. */
const HIKVISION_COLOURS: Readonly<Record<string, PlateColour>> = {
  blue: 'blue',
  yellow: 'yellow',
  white: 'white',
  black: 'black',
  green: 'green',
  yellowgreen: 'yellow_green',
  unknown: 'unknown',
};

export interface HikvisionOptions {
  /** What the camera's `forward` (vehicles approaching it) means at this lane; `reverse` is the other. */
  forward: 'in' | 'out';
}

const xml = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true });

/** The alert object from an XML or JSON body, or the issue that stops it. */
function alertObject(text: string, kind: 'xml' | 'json'): { ok: true; alert: unknown } | { ok: false; issues: FieldIssue[] } {
  if (kind === 'json') {
    try {
      const parsed = JSON.parse(text) as unknown;
      const inner = (parsed as { EventNotificationAlert?: unknown } | null)?.EventNotificationAlert;
      return { ok: true, alert: inner ?? parsed };
    } catch (error) {
      return { ok: false, issues: [{ path: '(body)', message: `not JSON: ${(error as Error).message}` }] };
    }
  }
  const valid = XMLValidator.validate(text);
  if (valid !== true) return { ok: false, issues: [{ path: '(body)', message: `not well-formed XML: ${valid.err.msg} (line ${valid.err.line})` }] };
  const document = xml.parse(text) as Record<string, unknown>;
  if (!('EventNotificationAlert' in document)) return { ok: false, issues: [{ path: 'EventNotificationAlert', message: 'the root element must be EventNotificationAlert' }] };
  return { ok: true, alert: document.EventNotificationAlert };
}

/**
 * A Hikvision event notification, as text (`kind` from its content type). Alerts other than an
 * active ANPR one (heartbeats, video loss) are acknowledged and ignored, so that the camera does
 * not retry them.
 */
export function parseHikvisionAlert(text: string, kind: 'xml' | 'json', camera: string, options: HikvisionOptions): ParseResult {
  const found = alertObject(text, kind);
  if (!found.ok) return found;
  const envelope = HikvisionAlert.safeParse(found.alert);
  if (!envelope.success) return { ok: false, issues: fieldIssues(envelope.error) };
  const alert = envelope.data;
  if (alert.eventType.toUpperCase() !== 'ANPR') return { ok: true, ignored: `eventType ${alert.eventType}` };
  if (alert.eventState !== undefined && alert.eventState !== 'active') return { ok: true, ignored: `eventState ${alert.eventState}` };
  if (alert.ANPR === undefined) return failed('ANPR', 'Required: an ANPR alert carries its ANPR element');
  const anpr = HikvisionAnpr.safeParse(alert.ANPR);
  if (!anpr.success) return { ok: false, issues: fieldIssues(anpr.error).map((issue) => ({ ...issue, path: `ANPR.${issue.path}` })) };
  const { licensePlate, line, direction, confidenceLevel, plateColor } = anpr.data;
  const reverse = options.forward === 'in' ? 'out' : 'in';
  return {
    ok: true,
    read: {
      camera,
      plate: licensePlate,
      colour: plateColor === undefined ? 'unknown' : (HIKVISION_COLOURS[plateColor.toLowerCase()] ?? 'other'),
      confidence: confidenceLevel === undefined ? null : confidenceLevel / 100,
      lane: line ?? null,
      direction: direction === 'forward' ? options.forward : direction === 'reverse' ? reverse : 'unknown',
      ts: alert.dateTime,
      format: 'hikvision',
    },
  };
}

/** The catalogue event of a plate read. */
export function plateReadEvent(read: PlateRead): GatehouseEvent {
  return {
    device: read.camera,
    type: 'plate.read',
    ts: read.ts,
    data: {
      plate: read.plate,
      colour: read.colour,
      confidence: read.confidence,
      lane: read.lane,
      direction: read.direction,
      format: read.format,
    },
  };
}
