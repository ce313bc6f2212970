import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EVENT_TYPES } from '@gatehouse/protocols';
import { EVERY_ROLE, seesEverySite, seesSite } from '../../auth/roles.js';
import type { EventLog } from '../../store/event-log.js';
import { principalOf } from '../access.js';
import { DeviceParams, ErrorBody, INSTANT_HELP, Instant } from '../schemas.js';
import { READ_DEVICE } from './devices.js';

const EventBody = z.object({
  id: z.number(),
  site: z.string(),
  gateway: z.string(),
  device: z.string().describe('hub-wide device id'),
  type: z.string(),
  ts: z.number().describe('when it happened, ms since the epoch'),
  data: z.record(z.string(), z.unknown()).describe('plate.read: plate, colour, confidence, lane, direction; access.*: card, door…'),
});

const EventQuery = z.object({
  type: z.enum(EVENT_TYPES).optional(),
  from: Instant.optional(),
  to: Instant.optional().describe(`${INSTANT_HELP}; the range is [from, to)`),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** Device events (access, doors, plate reads, elevator faults), newest first. */
export const eventRoutes =
  (events: EventLog): FastifyPluginAsyncZod =>
  async (app) => {
    app.get(
      '/events',
      {
        config: { access: { roles: EVERY_ROLE, scope: 'devices:read', site: 'listed' } },
        schema: {
          summary: 'Device events of the sites the caller sees, newest first',
          tags: ['events'],
          querystring: EventQuery.extend({ site: z.string().max(64).optional() }),
          response: { 200: z.object({ events: z.array(EventBody) }), 400: ErrorBody },
        },
      },
      async (request) => {
        const principal = principalOf(request);
        const { site, ...filter } = request.query;
        const visible = site === undefined ? (seesEverySite(principal) ? undefined : principal.sites) : seesSite(principal, site) ? [site] : [];
        return { events: visible?.length === 0 ? [] : await events.list({ ...filter, sites: visible }) };
      },
    );

    app.get(
      '/devices/:id/events',
      {
        config: { access: READ_DEVICE },
        schema: {
          summary: "A device's events, newest first",
          tags: ['events'],
          params: DeviceParams,
          querystring: EventQuery,
          response: { 200: z.object({ events: z.array(EventBody) }), 400: ErrorBody },
        },
      },
      async (request) => ({ events: await events.list({ ...request.query, device: request.params.id }) }),
    );
  };
