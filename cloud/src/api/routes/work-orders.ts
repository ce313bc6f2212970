import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SqlClient } from '../../store/sql.js';
import type { AlarmDesk } from '../../dispatch/alarm-desk.js';
import { LEGAL_TRANSITIONS, UNANSWERED, WORK_ORDER_STATUSES } from '../../work-orders/lifecycle.js';
import type { WorkOrderBook, WorkOrderRecord } from '../../work-orders/work-order-book.js';
import { principalOf, type RouteAccess, type SiteOfRoute } from '../access.js';
import { ackDone, ackForm, ackUnknown } from '../ack-page.js';
import { ApiError } from '../errors.js';
import { ErrorBody } from '../schemas.js';
import { visibleSites } from './alarms.js';

export interface WorkOrderRouteDeps {
  orders: WorkOrderBook;
  desk: AlarmDesk;
  db: SqlClient;
}

const orderNotFound = (id: string) => new ApiError(404, 'work_order_not_found', `no work order "${id}"`);

const Params = z.object({ id: z.coerce.number().int().positive().describe('work order id') });
const Status = z.enum(WORK_ORDER_STATUSES);

const WorkOrderBody = z.object({
  id: z.number(),
  alarm_id: z.number().nullable(),
  site: z.string(),
  device: z.string().nullable(),
  serves: z.string().nullable().describe('the unit, room or plant'),
  trade: z.string(),
  team: z.string().nullable(),
  title: z.string(),
  description: z.string(),
  priority: z.enum(['P1', 'P2', 'P3', 'P4']),
  status: Status,
  assignee: z.string().nullable().describe('responder id'),
  assignee_name: z.string().nullable(),
  escalation_policy: z.string().nullable(),
  episode: z.number(),
  reopened_from: z.number().nullable(),
  sla_started_at: z.number().describe('when the alarm was raised'),
  due_at: z.number().describe('SLA due time; it moves by the time spent on hold'),
  created_at: z.number(),
  updated_at: z.number(),
  resolved_at: z.number().nullable(),
  closed_at: z.number().nullable(),
});

const PageBody = z.object({
  id: z.string(),
  step: z.number(),
  round: z.number(),
  responder: z.string(),
  responder_name: z.string().describe("the responder's name, or the id of one since removed"),
  channel: z.string(),
  status: z.string().describe('pending, delivered, retrying, failed, or suppressed (this person was paged about the order minutes before it was reopened)'),
  attempts: z.number(),
  last_error: z.string().nullable(),
});

const WRITERS = ['admin', 'engineer', 'technician'] as const;

export const workOrderRoutes =
  (deps: WorkOrderRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const ORDER_SITE: SiteOfRoute = {
      describe: 'params.id is a work order of the site',
      // The access check runs before validation: an id the schema refuses is not looked up (the
      // database would refuse it with an error of its own), and the schema then answers 400 naming it.
      of: async (params) => {
        const parsed = Params.safeParse(params);
        return parsed.success ? (await deps.orders.get(parsed.data.id))?.site : undefined;
      },
      notFound: (params) => orderNotFound(params.id ?? ''),
    };
    const READ: RouteAccess = { roles: ['admin', 'engineer', 'technician', 'viewer'], scope: 'work-orders:read', site: ORDER_SITE };
    const WRITE: RouteAccess = { roles: WRITERS, scope: 'work-orders:write', site: ORDER_SITE };
    const existing = async (id: number): Promise<WorkOrderRecord> => {
      const order = await deps.orders.get(id);
      if (!order) throw orderNotFound(String(id));
      return order;
    };

    app.get(
      '/work-orders',
      {
        config: { access: { roles: ['admin', 'engineer', 'technician', 'viewer'], scope: 'work-orders:read', site: 'listed' } },
        schema: {
          summary: 'Work orders of the sites the caller sees, newest first',
          tags: ['work orders'],
          querystring: z.object({
            site: z.string().max(64).optional(),
            status: Status.optional(),
            assignee: z.string().max(64).optional(),
            trade: z.string().max(32).optional(),
            limit: z.coerce.number().int().min(1).max(1000).default(100),
          }),
          response: { 200: z.object({ work_orders: z.array(WorkOrderBody) }), 400: ErrorBody },
        },
      },
      async (request) => {
        const { site, ...filter } = request.query;
        const sites = visibleSites(principalOf(request), site);
        return { work_orders: sites?.length === 0 ? [] : await deps.orders.list({ ...filter, sites }) };
      },
    );

    app.get(
      '/work-orders/:id',
      {
        config: { access: READ },
        schema: {
          summary: 'One work order with its timeline and the pages sent for it',
          tags: ['work orders'],
          params: Params,
          response: {
            200: z.object({
              work_order: WorkOrderBody,
              timeline: z.array(z.object({ at: z.number(), kind: z.string(), actor: z.string().nullable(), detail: z.record(z.string(), z.unknown()) })),
              pages: z.array(PageBody),
              legal_moves: z.array(Status).describe('the statuses it may move to from its own, for the buttons that move it on'),
            }),
            404: ErrorBody,
          },
        },
      },
      async (request) => {
        const order = await existing(request.params.id);
        const pages = await deps.db.query<z.infer<typeof PageBody>>(
          `select p.id, p.step, p.round, p.responder, coalesce(r.name, p.responder) as responder_name, p.channel, p.status, p.attempts, p.last_error
           from pages p left join responders r on r.id = p.responder where p.work_order_id = $1 order by p.created_at, p.id`,
          [order.id],
        );
        return { work_order: order, timeline: await deps.orders.timeline(order.id), pages, legal_moves: [...LEGAL_TRANSITIONS[order.status]] };
      },
    );

    app.post(
      '/work-orders/:id/transition',
      {
        config: { access: WRITE },
        schema: {
          summary: 'Move a work order on: assigned → acknowledged → in_progress → on_hold → resolved → closed, or cancelled',
          description: `Legal moves: ${Object.entries(LEGAL_TRANSITIONS)
            .map(([from, to]) => `${from} → ${to.length > 0 ? to.join(', ') : 'none'}`)
            .join('; ')}. An illegal one is answered 409 naming both states.`,
          tags: ['work orders'],
          params: Params,
          body: z.object({ to: Status, note: z.string().max(2000).optional() }),
          response: { 200: z.object({ work_order: WorkOrderBody }), 400: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request) => {
        const order = await existing(request.params.id);
        const actor = principalOf(request).name;
        const { to, note } = request.body;
        if (to === 'acknowledged' && UNANSWERED.includes(order.status)) return { work_order: (await deps.desk.acknowledge(order.id, actor, 'api'))! };
        const moved = await deps.orders.transition(order.id, to, actor, note === undefined ? {} : { note });
        if (!moved.ok) {
          if (moved.reason === 'not_found') throw orderNotFound(String(order.id));
          const legal = LEGAL_TRANSITIONS[moved.from];
          throw new ApiError(
            409,
            'illegal_transition',
            `a work order cannot go from ${moved.from} to ${to}; from ${moved.from} it may go to ${legal.length > 0 ? legal.join(', ') : 'nothing: it is final'}`,
            [{ field: 'body.to', message: `not a legal move from ${moved.from}` }],
          );
        }
        if (!UNANSWERED.includes(moved.order.status)) await deps.desk.stopEscalation(order.id);
        deps.desk.announceOrder(moved.order);
        return { work_order: moved.order };
      },
    );

    app.post(
      '/work-orders/:id/comments',
      {
        config: { access: WRITE },
        schema: {
          summary: "Add a comment to a work order's timeline",
          tags: ['work orders'],
          params: Params,
          body: z.object({ text: z.string().trim().min(1).max(4000) }),
          response: { 201: z.object({ ok: z.literal(true) }), 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request, reply) => {
        const order = await existing(request.params.id);
        await deps.orders.note(order.id, 'comment', principalOf(request).name, { text: request.body.text });
        // Its timeline changed: dashboards showing it fetch it again.
        deps.desk.announceOrder(order);
        return reply.status(201).send({ ok: true as const });
      },
    );

    const AckParams = z.object({ code: z.string().regex(/^[A-Z2-9]{10}$/, 'the 10-character code of a page') });
    const ackNotFound = () => new ApiError(404, 'page_not_found', 'no page has this code: check it against the message');

    // A browser's form posts application/x-www-form-urlencoded; the form carries no field, so
    // the body is read (up to a little) and ignored.
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 1024 }, (_request, _body, done) => done(null, {}));
    /** HTML as it is: the route's JSON schema describes the answer to programs. */
    const sendHtml = (reply: FastifyReply, status: number, html: string) =>
      reply.status(status).type('text/html; charset=utf-8').serializer((body) => String(body)).send(html);
    /** A person's browser (the page's link), rather than a program, is asking. */
    const fromBrowser = (accept: string | undefined) => accept?.includes('text/html') ?? false;

    app.get(
      '/acks/:code',
      {
        config: { access: { roles: 'public' } },
        schema: {
          summary: "A page's acknowledgement link: the work order and a button that acknowledges it (a GET changes nothing)",
          tags: ['work orders'],
          params: AckParams,
        },
      },
      async (request, reply) => {
        const page = await deps.desk.pageOfCode(request.params.code);
        // Mail scanners follow links: acknowledging takes the POST of this form, never the GET.
        return page ? sendHtml(reply, 200, ackForm(request.params.code, page.order, page.responder)) : sendHtml(reply, 404, ackUnknown());
      },
    );

    app.post(
      '/acks/:code',
      {
        config: { access: { roles: 'public' } },
        schema: {
          summary: "Acknowledge a work order with a page's code: escalation stops",
          description:
            'The code is the credential: it names one page to one person, and is answered 404 when unknown. A browser (Accept: text/html) gets a page saying so; anything else gets JSON.',
          tags: ['work orders'],
          params: AckParams,
          response: { 200: z.object({ work_order: WorkOrderBody }), 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request, reply) => {
        const order = await deps.desk.acknowledgeByCode(request.params.code);
        if (fromBrowser(request.headers.accept)) return sendHtml(reply, order ? 200 : 404, order ? ackDone(order) : ackUnknown());
        if (!order) throw ackNotFound();
        return { work_order: order };
      },
    );
  };
