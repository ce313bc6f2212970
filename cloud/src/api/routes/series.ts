import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AGGREGATIONS, NUMERIC_AGGREGATIONS, windowStart } from '../../store/telemetry/port.js';
import { errors } from '../errors.js';
import { catalogueEntry } from '../point-lookup.js';
import { DeviceParams, ErrorBody, INSTANT_HELP, Instant } from '../schemas.js';
import { READ_DEVICE, type DeviceRouteDeps } from './devices.js';

/**
 * The most windows one series answer holds: 30 days at 15 minutes is 2,880, a year of hours
 * 8,760. More than a chart can show, and a bound on what one request costs the store.
 */
export const MAX_SERIES_POINTS = 10_000;

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const Window = z
  .string()
  .regex(/^[1-9]\d{0,6}[smhd]$/, 'a window such as 30s, 15m, 1h or 1d')
  .describe('window length: a number and s, m, h or d; windows are aligned to the epoch (UTC)')
  .transform((text) => Number(text.slice(0, -1)) * (UNIT_MS[text.slice(-1)] ?? 0));

const SeriesQuerystring = z.object({
  point: z.string().regex(/^[a-z][a-z0-9_]*$/, 'a catalogue point name').describe('e.g. active_power_kw'),
  from: Instant,
  to: Instant.describe(`${INSTANT_HELP}; the range is [from, to)`),
  every: Window,
  agg: z.enum(AGGREGATIONS).default('mean').describe('how the readings of a window become one value; mean, min, max and sum need a numeric point'),
});

const SeriesBody = z.object({
  device: z.string(),
  point: z.string(),
  unit: z.string().nullable(),
  agg: z.enum(AGGREGATIONS),
  every_ms: z.number(),
  from: z.number(),
  to: z.number(),
  points: z
    .array(z.object({ ts: z.number().describe('start of the window, ms since the epoch'), value: z.union([z.number(), z.boolean(), z.string()]) }))
    .describe('one per window that holds a reading; a window without one is absent'),
});

/** A shortest window that keeps [from, to) within the limit, in whole seconds. */
const shortestWindow = (from: number, to: number) => `${Math.ceil((to - from) / MAX_SERIES_POINTS / 1000) + 1}s`;

export const seriesRoutes =
  (deps: DeviceRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/devices/:id/series',
      {
        config: { access: READ_DEVICE },
        schema: {
          summary: "One point of a device over time, aggregated into windows (e.g. 30 days at 15 minutes)",
          tags: ['devices'],
          params: DeviceParams,
          querystring: SeriesQuerystring,
          response: { 200: SeriesBody, 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { point, from, to, every, agg } = request.query;
        if (to <= from) throw errors.invalidRequest([{ field: 'querystring.to', message: 'must be after from' }]);
        const windows = Math.ceil((to - windowStart(from, every)) / every);
        if (windows > MAX_SERIES_POINTS) {
          throw errors.invalidRequest([
            {
              field: 'querystring.every',
              message: `from..to in windows of ${every / 1000}s makes ${windows} windows, more than ${MAX_SERIES_POINTS}: use every=${shortestWindow(from, to)} or longer, or a shorter range`,
            },
          ]);
        }
        const device = await deps.registry.getDevice(request.params.id);
        if (!device) throw errors.deviceNotFound(request.params.id);
        const entry = catalogueEntry(device.kind, point);
        if (entry && entry.type !== 'number' && NUMERIC_AGGREGATIONS.has(agg)) {
          throw errors.invalidRequest([{ field: 'querystring.agg', message: `${agg} needs a numeric point; ${point} is ${entry.type}: use last or count` }]);
        }
        const points = await deps.telemetry.series({ device: { id: device.id, kind: device.kind }, point, from, to, every, agg });
        return {
          device: device.id,
          point,
          unit: entry?.unit ?? null,
          agg,
          every_ms: every,
          from,
          to,
          points: points.flatMap((p) => (p.value === null ? [] : [{ ts: p.ts, value: p.value }])),
        };
      },
    );
  };
