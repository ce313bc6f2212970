import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WorkOrderRecord, WorkOrderStatus } from '../src/index.js';
import { orderFor, raiseMeterAlarm } from './dispatch-fixtures.js';
import { securedApp } from './support.js';

interface ErrorResponse {
  error: { code: string; message: string; fields?: Array<{ field: string; message: string }> };
}

type Harness = Awaited<ReturnType<typeof securedApp>>;
type Method = 'GET' | 'POST';

/** Ids the routes must refuse before looking anything up: not a positive whole number a store can hold. */
const BAD_IDS = ['abc', '1.5', '-3', '0', '99999999999999999999'];
const UNKNOWN_ID = 987_654;

/**
 * The work-order and alarm API's answers to requests it cannot carry out: each says what is
 * wrong and where, in the catalogue's shape, and changes nothing.
 */
describe('work-order and alarm API: refused requests', () => {
  let h: Harness;
  let serial = 0;

  beforeAll(async () => {
    h = await securedApp();
  });
  afterAll(() => h.close());

  const call = (method: Method, url: string, payload?: unknown) =>
    h.app.inject({ method, url: `/api/v1${url}`, headers: h.bearer(h.adminToken), ...(payload === undefined ? {} : { payload: payload as object }) });
  const refused = async (status: number, method: Method, url: string, payload?: unknown) => {
    const response = await call(method, url, payload);
    expect(response.statusCode, response.body).toBe(status);
    return response.json<ErrorResponse>().error;
  };
  /** The fields a 400 names. */
  const fieldsOf = (error: ErrorResponse['error']) => error.fields?.map((issue) => issue.field);

  /** An active alarm of a meter of its own at tower-a. */
  const anAlarm = () => raiseMeterAlarm(h.stores.alarms, `meter-${++serial}`, h.clock.now);

  /** A work order for a fresh alarm, moved along `path` by the book. */
  async function anOrder(path: readonly WorkOrderStatus[] = []): Promise<WorkOrderRecord> {
    const alarm = await anAlarm();
    const { order } = await h.stores.orders.openForAlarm(orderFor(alarm));
    for (const to of path) {
      const moved = await h.stores.orders.transition(order.id, to, 'setup');
      if (!moved.ok) throw new Error(`setting up: ${JSON.stringify(moved)}`);
    }
    return (await h.stores.orders.get(order.id))!;
  }

  /** An order as GET answers it, with its timeline: what a refused request must leave as it was. */
  const seen = async (id: number) => {
    const response = await call('GET', `/work-orders/${id}`);
    expect(response.statusCode, response.body).toBe(200);
    const { work_order, timeline } = response.json<{ work_order: WorkOrderRecord; timeline: unknown[] }>();
    return { work_order, timeline };
  };
  const alarmSeen = async (id: number) => {
    const response = await call('GET', `/alarms/${id}`);
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ alarm: unknown; history: unknown[] }>();
  };

  describe('POST /work-orders/:id/transition', () => {
    it.each([
      { from: 'open', path: [], to: 'closed', legal: 'assigned, acknowledged, resolved, cancelled' },
      { from: 'on_hold', path: ['acknowledged', 'on_hold'], to: 'resolved', legal: 'in_progress, cancelled' },
      { from: 'resolved', path: ['resolved'], to: 'in_progress', legal: 'closed, assigned' },
      { from: 'closed', path: ['resolved', 'closed'], to: 'assigned', legal: 'nothing: it is final' },
      { from: 'cancelled', path: ['cancelled'], to: 'acknowledged', legal: 'nothing: it is final' },
    ] as const)('answers a move from $from to $to 409, naming both and where it may go', async ({ from, path, to, legal }) => {
      const order = await anOrder(path);
      const before = await seen(order.id);

      const error = await refused(409, 'POST', `/work-orders/${order.id}/transition`, { to, note: 'trying' });

      expect(error.code).toBe('illegal_transition');
      expect(error.message).toContain(`from ${from} to ${to}`);
      expect(error.message).toContain(`from ${from} it may go to ${legal}`);
      expect(fieldsOf(error)).toEqual(['body.to']);
      expect(await seen(order.id)).toEqual(before);
    });

    it.each([
      { body: { to: 'done' }, field: 'body.to' },
      { body: { to: 'CLOSED' }, field: 'body.to' },
      { body: { to: 3 }, field: 'body.to' },
      { body: {}, field: 'body.to' },
      { body: { to: 'cancelled', note: 'x'.repeat(2001) }, field: 'body.note' },
    ])('answers $body 400 naming $field, and leaves the order as it was', async ({ body, field }) => {
      const order = await anOrder();
      const before = await seen(order.id);

      const error = await refused(400, 'POST', `/work-orders/${order.id}/transition`, body);

      expect(error.code).toBe('invalid_request');
      expect(fieldsOf(error)).toEqual([field]);
      expect(await seen(order.id)).toEqual(before);
    });
  });

  describe('POST /work-orders/:id/comments', () => {
    it.each([
      { text: 'empty', body: { text: '' }, field: 'body.text' },
      { text: 'blank', body: { text: '   ' }, field: 'body.text' },
      { text: 'missing', body: {}, field: 'body.text' },
      { text: 'not text', body: { text: 42 }, field: 'body.text' },
      { text: 'too long', body: { text: 'x'.repeat(4001) }, field: 'body.text' },
      { text: 'no body at all', body: undefined, field: 'body' },
    ])('answers a comment with $text text 400 naming $field, and adds nothing', async ({ body, field }) => {
      const order = await anOrder();
      const before = await seen(order.id);

      const error = await refused(400, 'POST', `/work-orders/${order.id}/comments`, body);

      expect(error.code).toBe('invalid_request');
      expect(fieldsOf(error)).toEqual([field]);
      expect(await seen(order.id)).toEqual(before);
    });
  });

  /** A route about one thing by its id, and a body it takes: each request is valid but for its id. */
  interface IdRoute {
    method: Method;
    route: string;
    body?: object;
  }
  const ORDER_ROUTES: IdRoute[] = [
    { method: 'GET', route: '/work-orders/:id' },
    { method: 'POST', route: '/work-orders/:id/transition', body: { to: 'cancelled' } },
    { method: 'POST', route: '/work-orders/:id/comments', body: { text: 'parts ordered' } },
  ];
  const ALARM_ROUTES: IdRoute[] = [
    { method: 'GET', route: '/alarms/:id' },
    { method: 'POST', route: '/alarms/:id/ack' },
    { method: 'POST', route: '/alarms/:id/shelve', body: { minutes: 60, reason: 'meter being replaced' } },
    { method: 'POST', route: '/alarms/:id/unshelve' },
  ];

  describe.each([
    { thing: 'work order', code: 'work_order_not_found', routes: ORDER_ROUTES },
    { thing: 'alarm', code: 'alarm_not_found', routes: ALARM_ROUTES },
  ])('$thing ids', ({ code, routes }) => {
    it.each(routes)(`answers $method $route of an unknown id 404 ${code}, naming the id`, async (route) => {
      const error = await refused(404, route.method, route.route.replace(':id', String(UNKNOWN_ID)), route.body);

      expect(error.code).toBe(code);
      expect(error.message).toContain(String(UNKNOWN_ID));
    });

    it.each(routes)('answers $method $route of an id that is no id 400 naming params.id', async (route) => {
      for (const id of BAD_IDS) {
        const error = await refused(400, route.method, route.route.replace(':id', id), route.body);
        expect({ id, code: error.code, fields: fieldsOf(error) }).toEqual({ id, code: 'invalid_request', fields: ['params.id'] });
      }
    });
  });

  describe('POST /alarms/:id/shelve', () => {
    it.each([0, -30, 30 * 24 * 60 + 1, 1.5, '60', null, undefined])('answers minutes %j 400 naming body.minutes, and shelves nothing', async (minutes) => {
      const alarm = await anAlarm();
      const before = await alarmSeen(alarm.id);

      const error = await refused(400, 'POST', `/alarms/${alarm.id}/shelve`, { minutes, reason: 'meter being replaced' });

      expect(error.code).toBe('invalid_request');
      expect(fieldsOf(error)).toEqual(['body.minutes']);
      expect(await alarmSeen(alarm.id)).toEqual(before);
    });
  });

  describe('list filters', () => {
    it.each([
      { url: '/alarms?state=bogus', field: 'querystring.state' },
      { url: '/alarms?severity=loud', field: 'querystring.severity' },
      { url: '/alarms?acknowledged=yes', field: 'querystring.acknowledged' },
      { url: '/alarms?limit=0', field: 'querystring.limit' },
      { url: '/alarms?limit=many', field: 'querystring.limit' },
      { url: '/work-orders?status=done', field: 'querystring.status' },
      { url: '/work-orders?limit=1001', field: 'querystring.limit' },
    ])('answers GET $url 400 naming $field', async ({ url, field }) => {
      const error = await refused(400, 'GET', url);

      expect(error.code).toBe('invalid_request');
      expect(fieldsOf(error)).toEqual([field]);
    });
  });
});
