import { z } from 'zod';
import { DEVICE_KINDS, EVENT_TYPES, type DeviceKind } from '../catalogue.js';
import { Severity } from '../contract/payloads.js';
import { Identifier } from '../ids.js';

/**
 * Alarm rules, the same at the edge (so that they fire while the uplink is down) and in the hub.
 * A rule applies to the devices it names, or to every device of a kind, or to every device.
 */
const common = {
  id: Identifier,
  severity: Severity,
  devices: z.array(Identifier).min(1).optional(),
  kind: z.enum(DEVICE_KINDS as [DeviceKind, ...DeviceKind[]]).optional(),
  /** Shown to the technician; {device}, {point} and {value} are filled in. */
  message: z.string().min(1).max(500).optional(),
  /** The condition must hold this long before the alarm is raised (debounces spikes). */
  on_delay_ms: z.number().int().min(0).max(86_400_000).default(0),
  /** The condition must be gone this long before the alarm clears (debounces chatter). */
  off_delay_ms: z.number().int().min(0).max(86_400_000).default(0),
};

const PointName = z.string().regex(/^[a-z][a-z0-9_]*$/, 'a catalogue point name');

/** Above (or below) a limit; clears only once back past the limit by the deadband (hysteresis). */
const Threshold = z
  .strictObject({
    ...common,
    type: z.literal('threshold'),
    point: PointName,
    above: z.number().finite().optional(),
    below: z.number().finite().optional(),
    deadband: z.number().finite().min(0).default(0),
  })
  .refine((rule) => (rule.above === undefined) !== (rule.below === undefined), {
    message: 'give exactly one of above and below',
    path: ['above'],
  });

/** A value that moves faster than it physically should (a meter jump, a tank draining). */
const RateOfChange = z.strictObject({
  ...common,
  type: z.literal('rate_of_change'),
  point: PointName,
  /** The largest change per hour, either way, that is normal. */
  max_per_hour: z.number().finite().positive(),
});

/** No good reading of the point (or of any point, when none is named) for `after_ms`. */
const Stale = z.strictObject({
  ...common,
  type: z.literal('stale'),
  point: PointName.optional(),
  after_ms: z.number().int().min(1000).max(30 * 86_400_000),
});

/** The device stopped answering its gateway. */
const CommLoss = z.strictObject({
  ...common,
  type: z.literal('comm_loss'),
});

/** A point in a state: passenger_trapped true, fault_code not 0. */
const State = z
  .strictObject({
    ...common,
    type: z.literal('state'),
    point: PointName,
    equals: z.union([z.number(), z.boolean(), z.string()]).optional(),
    not_equals: z.union([z.number(), z.boolean(), z.string()]).optional(),
  })
  .refine((rule) => (rule.equals === undefined) !== (rule.not_equals === undefined), {
    message: 'give exactly one of equals and not_equals',
    path: ['equals'],
  });

/** A discrete event (door.forced): raised when it happens, cleared after `clear_after_ms`. */
const EventRule = z.strictObject({
  ...common,
  type: z.literal('event'),
  event: z.enum(EVENT_TYPES),
  clear_after_ms: z.number().int().min(0).max(86_400_000).default(300_000),
});

export const AlarmRule = z.discriminatedUnion('type', [Threshold, RateOfChange, Stale, CommLoss, State, EventRule]);
export type AlarmRule = z.infer<typeof AlarmRule>;
export const AlarmRules = z.array(AlarmRule).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((rule, index) => {
    if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `rule "${rule.id}" is defined twice` });
    seen.add(rule.id);
  });
});
