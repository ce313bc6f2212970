import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Severity } from '@gatehouse/protocols';
import type { AlarmBook, AlarmRecord } from '../../alarms/alarm-book.js';
import { EVERY_ROLE, seesEverySite, seesSite, type Principal } from '../../auth/roles.js';
import type { AlarmDesk } from '../../dispatch/alarm-desk.js';
import type { WorkOrderBook } from '../../work-orders/work-order-book.js';
import { principalOf, type RouteAccess, type SiteOfRoute } from '../access.js';
import { ApiError } from '../errors.js';
import { ErrorBody } from '../schemas.js';

export interface AlarmRouteDeps {
  alarms: AlarmBook;
  orders: WorkOrderBook;
  desk: AlarmDesk;
  now: () => number;
}

const alarmNotFound = (id: string) => new ApiError(404, 'alarm_not_found', `no alarm "${id}"`);

/** What sites the caller may see, for a list; undefined for every site. */
export const visibleSites = (principal: Principal, site: string | undefined): readonly string[] | undefined =>
  site === undefined ? (seesEverySite(principal) ? undefined : principal.sites) : seesSite(principal, site) ? [site] : [];

const AlarmParams = z.object({ id: z.coerce.number().int().positive().describe('alarm id') });

const AlarmBody = z.object({
  id: z.number(),
  site: z.string(),
  gateway: z.string().nullable(),
  source: z.string().describe('the hub device id, or {site}.{gateway} for a gateway of its own'),
  rule: z.string(),
  rule_type: z.string().nullable().describe('the kind of rule (comm_loss, threshold, …); null for the hub\'s own alarms'),
  severity: Severity,
  state: z.enum(['active', 'cleared']),
  input_state: z.enum(['raised', 'cleared']).describe('what the rule said last; differs from state while a flapping alarm is held'),
  acknowledged: z.boolean(),
  acknowledged_by: z.string().nullable(),
  acknowledged_at: z.number().nullable(),
  message: z.string(),
  value: z.unknown(),
  raised_at: z.number(),
  cleared_at: z.number().nullable(),
  episode: z.number().describe('how many times it has been raised'),
  flapping: z.boolean(),
  shelved_until: z.number().nullable(),
  shelved_by: z.string().nullable(),
  parent_id: z.number().nullable(),
});

const HistoryBody = z.array(z.object({ at: z.number(), kind: z.string(), actor: z.string().nullable(), detail: z.record(z.string(), z.unknown()) }));

export const alarmRoutes =
  (deps: AlarmRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const ALARM_SITE: SiteOfRoute = {
      describe: 'params.id is an alarm of the site',
      // The access check runs before validation: an id the schema refuses is not looked up (the
      // database would refuse it with an error of its own), and the schema then answers 400 naming it.
      of: async (params) => {
        const parsed = AlarmParams.safeParse(params);
        return parsed.success ? (await deps.alarms.get(parsed.data.id))?.site : undefined;
      },
      notFound: (params) => alarmNotFound(params.id ?? ''),
    };
    const READ: RouteAccess = { roles: EVERY_ROLE, scope: 'alarms:read', site: ALARM_SITE };
    const existing = async (id: number): Promise<AlarmRecord> => {
      const alarm = await deps.alarms.get(id);
      if (!alarm) throw alarmNotFound(String(id));
      return alarm;
    };

    app.get(
      '/alarms',
      {
        config: { access: { roles: EVERY_ROLE, scope: 'alarms:read', site: 'listed' } },
        schema: {
          summary: 'Alarms of the sites the caller sees: active first, newest first',
          tags: ['alarms'],
          querystring: z.object({
            site: z.string().max(64).optional(),
            state: z.enum(['active', 'cleared']).optional(),
            severity: Severity.optional(),
            acknowledged: z.enum(['true', 'false']).transform((text) => text === 'true').optional(),
            source: z.string().max(200).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: { 200: z.object({ alarms: z.array(AlarmBody) }), 400: ErrorBody },
        },
      },
      async (request) => {
        const { site, ...filter } = request.query;
        const sites = visibleSites(principalOf(request), site);
        return { alarms: sites?.length === 0 ? [] : await deps.alarms.list({ ...filter, sites }) };
      },
    );

    app.get(
      '/alarms/:id',
      {
        config: { access: READ },
        schema: {
          summary: 'One alarm and its full history',
          tags: ['alarms'],
          params: AlarmParams,
          response: { 200: z.object({ alarm: AlarmBody, history: HistoryBody }), 404: ErrorBody },
        },
      },
      async (request) => ({ alarm: await existing(request.params.id), history: await deps.alarms.history(request.params.id) }),
    );

    app.post(
      '/alarms/:id/ack',
      {
        config: { access: { roles: ['admin', 'engineer', 'technician'], scope: 'alarms:write', site: ALARM_SITE } },
        schema: {
          summary: 'Acknowledge an alarm: its work order is acknowledged too, and escalation stops',
          tags: ['alarms'],
          params: AlarmParams,
          response: { 200: z.object({ alarm: AlarmBody }), 404: ErrorBody },
        },
      },
      async (request) => {
        const alarm = await existing(request.params.id);
        const actor = principalOf(request).name;
        const order = await deps.orders.openOfAlarm(`${alarm.site}/${alarm.source}/${alarm.rule}`);
        if (order) await deps.desk.acknowledge(order.id, actor, 'alarm acknowledged');
        return { alarm: (await deps.alarms.acknowledge(alarm.id, actor)) ?? alarm };
      },
    );

    app.post(
      '/alarms/:id/shelve',
      {
        config: { access: { roles: ['admin', 'engineer'], scope: 'alarms:write', site: ALARM_SITE } },
        schema: {
          summary: 'Shelve an alarm for a while (planned work, a known fault): it raises no work order and pages nobody meanwhile',
          tags: ['alarms'],
          params: AlarmParams,
          body: z.object({
            minutes: z.number().int().min(1).max(30 * 24 * 60).describe('how long'),
            reason: z.string().min(1).max(500),
          }),
          response: { 200: z.object({ alarm: AlarmBody }), 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        await existing(request.params.id);
        const until = deps.now() + request.body.minutes * 60_000;
        return { alarm: (await deps.alarms.shelve(request.params.id, until, principalOf(request).name, request.body.reason))! };
      },
    );

    app.post(
      '/alarms/:id/unshelve',
      {
        config: { access: { roles: ['admin', 'engineer'], scope: 'alarms:write', site: ALARM_SITE } },
        schema: { summary: 'Take an alarm off the shelf', tags: ['alarms'], params: AlarmParams, response: { 200: z.object({ alarm: AlarmBody }), 404: ErrorBody } },
      },
      async (request) => {
        await existing(request.params.id);
        return { alarm: (await deps.alarms.shelve(request.params.id, null, principalOf(request).name, null))! };
      },
    );
  };
