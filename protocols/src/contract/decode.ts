import type { z } from 'zod';
import { fieldIssues, type FieldIssue } from '../validation.js';
import type { Channel } from './topics.js';
import {
  AlarmsPayload,
  CommandPayload,
  CommandResultPayload,
  ConfigPayload,
  DevicesPayload,
  EventsPayload,
  StatusPayload,
  TelemetryPayload,
} from './payloads.js';

export const PAYLOAD_SCHEMAS = {
  status: StatusPayload,
  telemetry: TelemetryPayload,
  events: EventsPayload,
  alarms: AlarmsPayload,
  devices: DevicesPayload,
  config: ConfigPayload,
  cmd: CommandPayload,
  'cmd/result': CommandResultPayload,
} as const satisfies Record<Channel, z.ZodType>;

export type PayloadOf<C extends Channel> = z.infer<(typeof PAYLOAD_SCHEMAS)[C]>;

export type DecodeResult<T> = { ok: true; payload: T } | { ok: false; issues: FieldIssue[] };

/** Parses and validates one MQTT payload of a channel; never throws. */
export function decodePayload<C extends Channel>(channel: C, raw: Uint8Array | string): DecodeResult<PayloadOf<C>> {
  let json: unknown;
  try {
    json = JSON.parse(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'));
  } catch (error) {
    return { ok: false, issues: [{ path: '(root)', message: `not JSON: ${(error as Error).message}` }] };
  }
  const result = PAYLOAD_SCHEMAS[channel].safeParse(json);
  if (result.success) return { ok: true, payload: result.data as PayloadOf<C> };
  return { ok: false, issues: fieldIssues(result.error) };
}
