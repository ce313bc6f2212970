import { IANAZone } from 'luxon';
import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';

/**
 * Teams, responders, schedules, overrides and escalation policies: the shapes the store keeps and
 * the API takes. Types come from these schemas; cross-field rules are named validators below,
 * each issue naming the field it is about.
 */

/**
 * What a team repairs, which decides the alarms it gets: a lift's alarms go to `elevator`, a
 * meter's or a switchboard's to `electrical`, water meters and leaks to `plumbing`, chillers and
 * air handling to `hvac`, doors and access panels to `access`, barrier gates and plate cameras
 * to `parking`, guard matters to `security`. `general` is the fallback: the team a site's alarms
 * go to when no team of the alarm's trade serves the site.
 */
export const TRADES = ['elevator', 'electrical', 'plumbing', 'hvac', 'access', 'parking', 'security', 'general'] as const;
export const Trade = z.enum(TRADES);
export type Trade = z.infer<typeof Trade>;

/** Every site, in a team's `sites`. */
export const EVERY_SITE = '*';

export const TeamSites = z
  .array(z.union([z.literal(EVERY_SITE), Identifier]))
  .min(1)
  .max(1000)
  .refine((sites) => !sites.includes(EVERY_SITE) || sites.length === 1, `"${EVERY_SITE}" (every site) stands alone`)
  .describe('site ids, or ["*"] for every site');

/** A reference to a team's own channel (a WeCom or DingTalk group…), kept as given: the pager validates it. */
const ChannelRef = z.record(z.string(), z.unknown()).describe('e.g. {"kind":"wecom","group":"…"}; checked by the pager');

export const TeamFields = z.object({
  name: z.string().min(1).max(200),
  trade: Trade,
  sites: TeamSites,
  contractor: z.string().min(1).max(200).nullable().describe('the maintenance company, when the team is not in-house'),
  channels: z.array(ChannelRef).max(20),
});
export const Team = TeamFields.extend({ id: Identifier });
export type Team = z.infer<typeof Team>;

/** Words a step's targets use for roles; no responder may be called by one of them. */
export const ROLE_TARGETS = ['primary', 'secondary', 'manager'] as const;
export type RoleTarget = (typeof ROLE_TARGETS)[number];

export const ResponderId = Identifier.refine((id) => !(ROLE_TARGETS as readonly string[]).includes(id), 'primary, secondary and manager name roles in escalation steps');

export const RESPONDER_ROLES = ['technician', 'manager'] as const;

export const ResponderFields = z.object({
  name: z.string().min(1).max(200),
  user_id: z.number().int().positive().nullable().describe("the hub user this responder logs in as, if any"),
  email: z.email().max(254).nullable(),
  phone: z
    .string()
    .regex(/^\+?[0-9][0-9 ()-]{4,30}$/, 'digits, spaces, "(", ")" and "-", with a leading "+" for the country code')
    .nullable(),
  role: z.enum(RESPONDER_ROLES).describe('managers are paged by an escalation step that targets "manager"'),
});
export const Responder = ResponderFields.extend({ id: ResponderId, team: Identifier });
export type Responder = z.infer<typeof Responder>;

/** A path inside the object being validated, and what is wrong there. */
export interface FieldIssue {
  path: Array<string | number>;
  message: string;
}

/** A responder nobody can reach cannot be paged. */
export function responderIssues(responder: Pick<Responder, 'email' | 'phone'>): FieldIssue[] {
  return responder.email === null && responder.phone === null ? [{ path: ['email'], message: 'give an email or a phone, or both: a responder must be reachable' }] : [];
}

export const TimeZone = z
  .string()
  .max(64)
  .refine((zone) => IANAZone.isValidZone(zone), 'an IANA time zone, e.g. Asia/Shanghai or Europe/London')
  .describe('IANA time zone the hand-off time is in');

export const ROTATIONS = ['daily', 'weekly'] as const;

export const ScheduleFields = z.object({
  name: z.string().min(1).max(200),
  time_zone: TimeZone,
  rotation: z.enum(ROTATIONS),
  handoff_time: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour').describe('local time in time_zone when the next responder takes over'),
  handoff_weekday: z.number().int().min(1).max(7).nullable().describe('weekly rotations: 1 = Monday … 7 = Sunday; null for daily'),
  start_date: z.iso.date().describe('local date the first shift, of responders[0], starts, at handoff_time'),
  responders: z.array(ResponderId).min(1).max(100).describe('the rotation, in order; each shift is the next one’s'),
  secondary_responders: z
    .array(ResponderId)
    .min(1)
    .max(100)
    .nullable()
    .describe('a rotation of its own for the secondary, handed off with the primary; null: the secondary is the next in responders'),
});
export const Schedule = ScheduleFields.extend({ id: Identifier, team: Identifier });
export type Schedule = z.infer<typeof Schedule>;

const duplicates = (ids: readonly string[], field: string): FieldIssue[] =>
  ids.flatMap((id, index) => (ids.indexOf(id) < index ? [{ path: [field, index], message: `"${id}" is in the rotation twice` }] : []));

export function scheduleIssues(schedule: Pick<Schedule, 'rotation' | 'handoff_weekday' | 'responders' | 'secondary_responders'>): FieldIssue[] {
  const issues: FieldIssue[] = [];
  if (schedule.rotation === 'weekly' && schedule.handoff_weekday === null) {
    issues.push({ path: ['handoff_weekday'], message: 'a weekly rotation needs the weekday it hands off on (1 = Monday … 7 = Sunday)' });
  }
  if (schedule.rotation === 'daily' && schedule.handoff_weekday !== null) {
    issues.push({ path: ['handoff_weekday'], message: 'a daily rotation hands off every day: set it to null' });
  }
  issues.push(...duplicates(schedule.responders, 'responders'), ...duplicates(schedule.secondary_responders ?? [], 'secondary_responders'));
  return issues;
}

export const LAYERS = ['primary', 'secondary'] as const;
export type Layer = (typeof LAYERS)[number];
export const OVERRIDE_REASONS = ['holiday', 'sick', 'swap', 'training', 'other'] as const;

/** Somebody else on call in one layer of a schedule for an interval [from, to). */
export const Override = z.object({
  id: z.number(),
  schedule: Identifier,
  layer: z.enum(LAYERS),
  responder: ResponderId,
  from: z.number().describe('milliseconds since the epoch'),
  to: z.number().describe('milliseconds since the epoch; the override ends just before'),
  reason: z.enum(OVERRIDE_REASONS),
});
export type Override = z.infer<typeof Override>;

export const PAGE_CHANNELS = ['email', 'sms', 'webhook', 'wecom', 'dingtalk'] as const;
export type PageChannel = (typeof PAGE_CHANNELS)[number];

/** Who an escalation step pages: the on-call primary or secondary, the team's managers, or a responder by id. */
export const Target = z.union([z.enum(ROLE_TARGETS), ResponderId]);
export type Target = z.infer<typeof Target>;

export const EscalationStep = z.object({
  after_minutes: z
    .number()
    .int()
    .min(0)
    .max(1440)
    .describe("minutes after the previous step's page; for the first step, after the alarm (or the round's start)"),
  targets: z.array(Target).min(1).max(20),
  channels: z.array(z.enum(PAGE_CHANNELS)).min(1).max(PAGE_CHANNELS.length),
});
export type EscalationStep = z.infer<typeof EscalationStep>;

export const EscalationFields = z.object({
  steps: z.array(EscalationStep).min(1).max(20),
  repeat: z.number().int().min(0).max(10).describe('how many more rounds of every step while nobody acknowledges'),
  repeat_after_minutes: z.number().int().min(1).max(1440).describe("minutes after a round's last page that the next round starts"),
});
export const EscalationPolicy = EscalationFields.extend({ id: Identifier, team: Identifier });
export type EscalationPolicy = z.infer<typeof EscalationPolicy>;
