import { z } from 'zod';
import { DEVICE_KINDS, EVENT_TYPES } from '../catalogue.js';
import { Identifier } from '../ids.js';

/**
 * Payload schemas of the edge↔cloud contract. Every payload carries `v`, the schema version, so
 * that a hub can serve gateways of several agent versions during a rolling upgrade.
 */
export const SCHEMA_VERSION = 1;
const version = z.literal(SCHEMA_VERSION);

/** Milliseconds since the Unix epoch. Bounded so that seconds or microseconds are caught. */
export const Timestamp = z
  .number()
  .int()
  .min(946_684_800_000, 'a millisecond timestamp after 2000-01-01')
  .max(4_102_444_800_000, 'a millisecond timestamp before 2100-01-01');

export const Quality = z.enum(['good', 'bad', 'uncertain']);

export const Reading = z.object({
  device: Identifier,
  point: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a catalogue point name'),
  ts: Timestamp,
  value: z.union([z.number().finite(), z.boolean(), z.string().max(256), z.null()]),
  quality: Quality,
});

/** Every outbound batch carries the gateway's sequence number, which survives restarts. */
const Sequence = z.number().int().nonnegative();

export const TelemetryPayload = z.object({
  v: version,
  seq: Sequence,
  readings: z.array(Reading).min(1).max(10_000),
});

const LaneCounts = z.object({
  alarms: z.number().int().nonnegative(),
  events: z.number().int().nonnegative(),
  telemetry: z.number().int().nonnegative(),
});

/** The gateway's store-and-forward backlog, so that the hub can show what has not arrived yet. */
export const OutboxStatus = z.object({
  depth: LaneCounts,
  bytes: z.number().int().nonnegative(),
  /** Age of the oldest message not yet acknowledged by the broker; null when there is none. */
  oldest_age_ms: z.number().int().nonnegative().nullable(),
  /** Messages dropped by the disk quota since the outbox was created. */
  dropped: LaneCounts,
});

export const StatusPayload = z.object({
  v: version,
  state: z.enum(['online', 'offline']),
  /**
   * Why a gateway is offline: its agent was stopped (it said goodbye), or its connection was
   * lost (its Last Will, which the broker publishes for it). Absent from agents older than it.
   */
  reason: z.enum(['shutdown', 'connection_lost']).optional(),
  ts: Timestamp,
  agent_version: z.string().min(1),
  config_version: z.string(),
  boot_id: z.string().min(1),
  /** False while the gateway's clock is not known to be right; its readings are then uncertain. */
  clock_synchronised: z.boolean().optional(),
  outbox: OutboxStatus.optional(),
});

export const GatehouseEvent = z.object({
  device: Identifier,
  type: z.enum(EVENT_TYPES),
  ts: Timestamp,
  data: z.record(z.string(), z.unknown()).default({}),
});

export const EventsPayload = z.object({
  v: version,
  seq: Sequence,
  events: z.array(GatehouseEvent).min(1),
});

export const Severity = z.enum(['critical', 'major', 'minor', 'warning']);

/** The kinds of alarm rule (see rules/schema.ts): the hub groups comm-loss alarms by topology. */
export const RULE_TYPES = ['threshold', 'rate_of_change', 'stale', 'comm_loss', 'state', 'event'] as const;

export const AlarmTransition = z.object({
  device: Identifier,
  rule: Identifier,
  state: z.enum(['raised', 'cleared']),
  severity: Severity,
  ts: Timestamp,
  message: z.string(),
  value: z.union([z.number().finite(), z.boolean(), z.string(), z.null()]).optional(),
  /** The kind of rule that fired; absent from agents older than it. */
  rule_type: z.enum(RULE_TYPES).optional(),
});

export const AlarmsPayload = z.object({
  v: version,
  seq: Sequence,
  alarms: z.array(AlarmTransition).min(1),
});

export const CommStatus = z.enum(['online', 'offline', 'unknown']);

export const DeviceInventoryEntry = z.object({
  device: Identifier,
  kind: z.enum(DEVICE_KINDS as [string, ...string[]]),
  profile: z.string().min(1),
  /** The gateway's bus the device is polled on; absent for devices that report themselves. */
  bus: Identifier.optional(),
  comm: z.object({
    status: CommStatus,
    /** Why the device is offline, in words an installer can act on. */
    reason: z.string().optional(),
    last_good_read: Timestamp.nullable(),
    consecutive_failures: z.number().int().nonnegative(),
    total_errors: z.number().int().nonnegative(),
  }),
});

export const DevicesPayload = z.object({
  v: version,
  ts: Timestamp,
  devices: z.array(DeviceInventoryEntry),
});

export const ConfigPayload = z.object({
  v: version,
  /** Opaque to the transport; the agent reports the version it runs in its status. */
  version: z.string().min(1),
  issued_at: Timestamp,
  /** The agent validates the body against its own configuration schema. */
  config: z.record(z.string(), z.unknown()),
});

export const CommandPayload = z.object({
  v: version,
  /** Correlation id; a command id seen before is answered, never executed twice. */
  id: z.string().min(8).max(64),
  ts: Timestamp,
  device: Identifier,
  action: z.enum(['open_barrier', 'unlock_door', 'write_register']),
  params: z.record(z.string(), z.unknown()).default({}),
  timeout_ms: z.number().int().positive().max(300_000).default(10_000),
});

export const CommandResultPayload = z.object({
  v: version,
  id: z.string().min(8).max(64),
  ts: Timestamp,
  status: z.enum(['ok', 'failed', 'rejected', 'timeout', 'duplicate']),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  data: z.record(z.string(), z.unknown()).optional(),
});

export type Reading = z.infer<typeof Reading>;
export type Quality = z.infer<typeof Quality>;
export type TelemetryPayload = z.infer<typeof TelemetryPayload>;
export type StatusPayload = z.infer<typeof StatusPayload>;
export type OutboxStatus = z.infer<typeof OutboxStatus>;
export type GatehouseEvent = z.infer<typeof GatehouseEvent>;
export type EventsPayload = z.infer<typeof EventsPayload>;
export type Severity = z.infer<typeof Severity>;
export type RuleType = (typeof RULE_TYPES)[number];
export type AlarmTransition = z.infer<typeof AlarmTransition>;
export type AlarmsPayload = z.infer<typeof AlarmsPayload>;
export type CommStatus = z.infer<typeof CommStatus>;
export type DeviceInventoryEntry = z.infer<typeof DeviceInventoryEntry>;
export type DevicesPayload = z.infer<typeof DevicesPayload>;
export type ConfigPayload = z.infer<typeof ConfigPayload>;
export type CommandPayload = z.infer<typeof CommandPayload>;
export type CommandResultPayload = z.infer<typeof CommandResultPayload>;
