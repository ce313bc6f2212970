import { z } from 'zod';
import { Quality } from '@gatehouse/protocols';

/** Response shapes shared by several routes; they are also what /api/v1/openapi.json documents. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    fields: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  }),
});

export const DeviceParams = z.object({ id: z.string().min(1).max(200).describe('hub-wide device id: {site}.{gateway}.{device}') });

export const DeviceBody = z.object({
  id: z.string().describe('hub-wide device id: {site}.{gateway}.{device}'),
  site: z.string(),
  gateway: z.string(),
  device: z.string(),
  kind: z.string().nullable(),
  profile: z.string().nullable(),
  bus: z.string().nullable().describe('the field bus of its gateway it is wired to'),
  serves: z.string().nullable().describe('the unit, room or plant it serves'),
  status: z.enum(['online', 'offline', 'unknown']).describe("offline when it or its gateway is offline"),
  comm: z.object({
    status: z.string(),
    reason: z.string().nullable(),
    last_good_read: z.number().nullable(),
    consecutive_failures: z.number(),
    total_errors: z.number(),
  }),
  gateway_state: z.string(),
  last_seen: z.number().nullable().describe('milliseconds since the epoch'),
});

export const ReadingBody = z.object({
  point: z.string(),
  value: z.union([z.number(), z.boolean(), z.string(), z.null()]),
  unit: z.string().nullable(),
  quality: Quality,
  ts: z.number().describe('milliseconds since the epoch, when the gateway read the value'),
});

export const SiteBody = z.object({
  id: z.string(),
  name: z.string().nullable(),
  time_zone: z.string().describe('IANA time zone, e.g. Asia/Shanghai'),
  gateways: z.number(),
  devices: z.number(),
  devices_online: z.number(),
});

export const PrincipalBody = z.object({
  name: z.string(),
  kind: z.enum(['user', 'token']),
  role: z.string(),
  sites: z.array(z.string()).describe('the sites it may see; ["*"] for every site'),
});

export const INSTANT_HELP = 'an ISO-8601 date-time with an offset (2026-11-22T08:00:00Z, 2026-11-22T16:00:00+08:00) or milliseconds since the epoch';
const ISO_WITH_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/;

/** A time: epoch milliseconds or ISO-8601 with an offset (a local time without one is ambiguous across sites). */
export const Instant = z
  .string()
  .describe(INSTANT_HELP)
  .transform((text, context) => {
    const ms = /^\d{1,15}$/.test(text) ? Number(text) : ISO_WITH_OFFSET.test(text) ? Date.parse(text) : NaN;
    if (Number.isNaN(ms)) {
      context.addIssue({ code: 'custom', message: INSTANT_HELP });
      return z.NEVER;
    }
    return ms;
  });
