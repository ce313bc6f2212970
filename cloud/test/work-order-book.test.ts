import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmRecord, WorkOrderBook, WorkOrderRecord } from '../src/index.js';
import { LEGAL_TRANSITIONS, SLA_MS, WORK_ORDER_STATUSES, type Priority, type WorkOrderStatus } from '../src/work-orders/lifecycle.js';
import type { NewWorkOrder } from '../src/work-orders/work-order-book.js';
import { orderFor as newOrderFor, raiseMeterAlarm } from './dispatch-fixtures.js';
import { memoryStores } from './support.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ANA = { id: 'ana', name: 'Ana Li' };

/** The statuses an order passes through from `open` to reach each status, by the legal moves. */
const PATH_TO: Readonly<Record<WorkOrderStatus, readonly WorkOrderStatus[]>> = (() => {
  const paths: Partial<Record<WorkOrderStatus, WorkOrderStatus[]>> = { open: [] };
  const queue: WorkOrderStatus[] = ['open'];
  for (let from = queue.shift(); from !== undefined; from = queue.shift()) {
    for (const to of LEGAL_TRANSITIONS[from]) {
      if (paths[to]) continue;
      paths[to] = [...paths[from]!, to];
      queue.push(to);
    }
  }
  return paths as Record<WorkOrderStatus, WorkOrderStatus[]>;
})();

/**
 * The hub's work-order book over PGlite, on a clock the tests move. The tests share one database
 * (making one takes seconds); every order is for an alarm of its own.
 */
describe('WorkOrderBook', () => {
  const clock = { now: Date.UTC(2026, 10, 22, 8, 0, 0) };
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let orders: WorkOrderBook;
  let serial = 0;

  beforeAll(async () => {
    stores = await memoryStores(() => clock.now);
    orders = stores.orders;
  });
  afterAll(() => stores.db.close());
  beforeEach(() => {
    clock.now += DAY;
  });

  /** A fresh alarm of a meter of its own, raised five minutes ago. */
  const anAlarm = () => raiseMeterAlarm(stores.alarms, `meter-${++serial}`, clock.now - 5 * MINUTE);

  /** The order of an electrician's alarm at flat 12B. */
  const orderFor = (alarm: AlarmRecord, more: Partial<NewWorkOrder> = {}) => newOrderFor(alarm, { serves: 'Unit 12B', team: 'electricians', ...more });

  /** A new order (open, nobody assigned) moved along the legal moves to `status`. */
  async function orderAt(status: WorkOrderStatus): Promise<WorkOrderRecord> {
    const { order } = await orders.openForAlarm(orderFor(await anAlarm()));
    for (const to of PATH_TO[status]) {
      const moved = await orders.transition(order.id, to, 'setup');
      if (!moved.ok) throw new Error(`setting up an order ${status}: ${JSON.stringify(moved)}`);
    }
    return (await orders.get(order.id))!;
  }

  const alarmOf = async (order: WorkOrderRecord): Promise<AlarmRecord> => (await stores.alarms.get(order.alarm_id!))!;
  const kindsOf = async (id: number) => (await orders.timeline(id)).map((entry) => entry.kind);

  describe('openForAlarm', () => {
    it.each([
      { who: 'the on-call technician', assignee: ANA, status: 'assigned', timeline: ['created', 'assigned'] },
      { who: 'nobody', assignee: null, status: 'open', timeline: ['created'] },
    ] as const)('creates an order for a new alarm, assigned to $who', async ({ assignee, status, timeline }) => {
      const alarm = await anAlarm();

      const opened = await orders.openForAlarm(orderFor(alarm, { assignee }));

      expect(opened).toMatchObject({
        kind: 'created',
        order: { alarm_id: alarm.id, status, assignee: assignee?.id ?? null, assignee_name: assignee?.name ?? null, episode: 1, reopened_from: null, created_at: clock.now },
      });
      expect(await kindsOf(opened.order.id)).toEqual(timeline);
      expect(await orders.openOfAlarm(`tower-a/${alarm.source}/over_voltage`)).toEqual(opened.order);
    });

    it('answers the order already open for the alarm, noting a new episode of it', async () => {
      const alarm = await anAlarm();
      const { order } = await orders.openForAlarm(orderFor(alarm));

      expect(await orders.openForAlarm(orderFor(alarm))).toEqual({ kind: 'already_open', order });
      expect(await kindsOf(order.id)).toEqual(['created']);

      clock.now += MINUTE;
      expect(await orders.openForAlarm(orderFor(alarm, { episode: 2 }))).toMatchObject({ kind: 'already_open', order: { id: order.id, status: 'open', episode: 2 } });
      expect((await orders.timeline(order.id)).at(-1)).toEqual({ at: clock.now, kind: 'alarm_raised_again', actor: null, detail: { episode: 2 } });
    });

    it('reopens a resolved order (resolved → assigned) when its alarm raises again before it was closed', async () => {
      const alarm = await anAlarm();
      const { order } = await orders.openForAlarm(orderFor(alarm, { assignee: ANA }));
      await orders.transition(order.id, 'resolved', 'Ana Li');
      clock.now += HOUR;

      const reopened = await orders.openForAlarm(orderFor(alarm, { episode: 2 }));

      expect(reopened).toMatchObject({ kind: 'reopened', order: { id: order.id, status: 'assigned', assignee: 'ana', episode: 2, resolved_at: null, updated_at: clock.now } });
      expect((await orders.timeline(order.id)).at(-1)).toEqual({
        at: clock.now,
        kind: 'reopened',
        actor: null,
        detail: { episode: 2, reason: 'the alarm was raised again' },
      });
      expect(await orders.openOfAlarm(`tower-a/${alarm.source}/over_voltage`)).toEqual(reopened.order);
    });

    it('restarts the SLA of a reopened order from the new raise, and gives an order nobody had to whoever is on call now', async () => {
      const alarm = await anAlarm();
      const { order } = await orders.openForAlarm(orderFor(alarm));
      await orders.transition(order.id, 'resolved', 'system');
      clock.now += 2 * HOUR;
      const raisedAgain = clock.now - MINUTE;

      const { order: reopened } = await orders.openForAlarm(orderFor(alarm, { episode: 2, priority: 'P1', slaMs: SLA_MS.P1, raisedAt: raisedAgain, assignee: ANA }));

      expect(reopened).toMatchObject({ status: 'assigned', assignee: 'ana', priority: 'P1', sla_started_at: raisedAgain, due_at: raisedAgain + SLA_MS.P1 });
    });

    it.each(['closed', 'cancelled'] as const)('opens a new order referring to the old one when the alarm raises again after it was %s', async (finished) => {
      const old = await orderAt(finished);

      const opened = await orders.openForAlarm(orderFor(await alarmOf(old), { episode: 2 }));

      expect(opened).toMatchObject({ kind: 'created', order: { status: 'open', episode: 2, reopened_from: old.id } });
      expect(opened.order.id).not.toBe(old.id);
      expect(await orders.get(old.id)).toEqual(old);
    });

    it.each(['resolved', 'closed', 'cancelled'] as const)('opens nothing for a replay of the episode a %s order was for', async (finished) => {
      const old = await orderAt(finished);

      const again = await orders.openForAlarm(orderFor(await alarmOf(old)));

      expect(again).toEqual({ kind: 'already_open', order: old });
      expect(await orders.openOfAlarm(`tower-a/${old.device!}/over_voltage`)).toBeUndefined();
    });
  });

  describe('transition', () => {
    it.each(WORK_ORDER_STATUSES)('moves an order from %s to the legal statuses only, and notes each move', async (from) => {
      const legal = LEGAL_TRANSITIONS[from];
      const outcomes: Record<string, string> = {};
      for (const to of WORK_ORDER_STATUSES.filter((status) => status !== from)) {
        clock.now += MINUTE;
        const order = await orderAt(from);
        const timeline = await orders.timeline(order.id);
        const moved = await orders.transition(order.id, to, 'Ana Li', { note: 'by hand' });
        if (moved.ok) {
          outcomes[to] = `moved to ${moved.order.status}`;
          expect((await orders.timeline(order.id)).slice(timeline.length)).toEqual([
            { at: clock.now, kind: 'status', actor: 'Ana Li', detail: { from, to, note: 'by hand' } },
          ]);
        } else {
          outcomes[to] = `refused (${moved.reason} from ${'from' in moved ? moved.from : '?'})`;
          expect(await orders.get(order.id)).toEqual(order);
          expect(await orders.timeline(order.id)).toEqual(timeline);
        }
      }
      const expected = Object.fromEntries(
        WORK_ORDER_STATUSES.filter((status) => status !== from).map((to) => [to, legal.includes(to) ? `moved to ${to}` : `refused (illegal from ${from})`]),
      );
      expect(outcomes).toEqual(expected);
    });

    it('keeps closed and cancelled orders final, and lets a resolved one be reopened or closed', () => {
      expect(LEGAL_TRANSITIONS.closed).toEqual([]);
      expect(LEGAL_TRANSITIONS.cancelled).toEqual([]);
      expect([...LEGAL_TRANSITIONS.resolved].sort()).toEqual(['assigned', 'closed']);
    });

    it('answers a move to the status an order has as unchanged, noting nothing; and an unknown order as not found', async () => {
      const order = await orderAt('in_progress');

      expect(await orders.transition(order.id, 'in_progress', 'Ana Li')).toEqual({ ok: true, order, changed: false });
      expect(await kindsOf(order.id)).toEqual(['created', 'status', 'status']);
      expect(await orders.transition(987_654, 'closed', 'Ana Li')).toEqual({ ok: false, reason: 'not_found' });
    });

    it('stamps resolved_at and closed_at, and clears resolved_at when a resolved order is reopened', async () => {
      const order = await orderAt('in_progress');
      clock.now += HOUR;
      const resolvedAt = clock.now;
      expect(await orders.transition(order.id, 'resolved', 'Ana Li')).toMatchObject({ ok: true, order: { resolved_at: resolvedAt, closed_at: null } });
      clock.now += HOUR;
      expect(await orders.transition(order.id, 'assigned', 'Ana Li')).toMatchObject({ ok: true, order: { resolved_at: null } });
      await orders.transition(order.id, 'resolved', 'Ana Li');
      clock.now += HOUR;
      expect(await orders.transition(order.id, 'closed', 'Ana Li')).toMatchObject({ ok: true, order: { resolved_at: clock.now - HOUR, closed_at: clock.now } });
    });
  });

  describe('SLA', () => {
    it.each(Object.entries(SLA_MS) as Array<[Priority, number]>)('makes a %s order due its SLA after the alarm was raised', async (priority, slaMs) => {
      const alarm = await anAlarm();

      const { order } = await orders.openForAlarm(orderFor(alarm, { priority, slaMs }));

      expect(order).toMatchObject({ priority, sla_started_at: alarm.raised_at, due_at: alarm.raised_at + slaMs });
    });

    it('stops the SLA clock while the order is on hold: the due time moves by the time on hold', async () => {
      const alarm = await anAlarm();
      const { order } = await orders.openForAlarm(orderFor(alarm, { priority: 'P1', slaMs: SLA_MS.P1 }));
      const due = alarm.raised_at + SLA_MS.P1;
      const dueNow = async () => (await orders.get(order.id))!.due_at;
      await orders.transition(order.id, 'acknowledged', 'Ana Li');

      clock.now += HOUR;
      await orders.transition(order.id, 'on_hold', 'Ana Li', { note: 'waiting for a breaker' });
      clock.now += 2 * HOUR;
      expect(await dueNow()).toBe(due + 2 * HOUR);
      await orders.transition(order.id, 'in_progress', 'Ana Li');
      clock.now += 3 * HOUR;
      expect(await dueNow()).toBe(due + 2 * HOUR);

      await orders.transition(order.id, 'on_hold', 'Ana Li', { note: 'tenant not home' });
      clock.now += 30 * MINUTE;
      await orders.transition(order.id, 'cancelled', 'Ana Li');
      clock.now += DAY;
      expect(await dueNow()).toBe(due + 2.5 * HOUR);
    });
  });

  describe('policyFor', () => {
    beforeAll(async () => {
      // The catch-all ('*', '*') is the migration's: major, not resolved on clear.
      await orders.setPolicy('policy-a', '*', { min_severity: 'minor', resolve_on_clear: true });
      await orders.setPolicy('*', 'leak', { min_severity: 'warning', resolve_on_clear: false });
      await orders.setPolicy('*', 'door_open', { min_severity: 'critical', resolve_on_clear: true });
      await orders.setPolicy('policy-a', 'door_open', { min_severity: 'major', resolve_on_clear: false });
    });

    it.each([
      { site: 'policy-a', rule: 'door_open', decides: 'the site and rule row', policy: { min_severity: 'major', resolve_on_clear: false } },
      // The code and the policy routes put a row for the rule before a row for the site.
      { site: 'policy-a', rule: 'leak', decides: 'the rule row, before the site row', policy: { min_severity: 'warning', resolve_on_clear: false } },
      { site: 'policy-a', rule: 'over_voltage', decides: 'the site row', policy: { min_severity: 'minor', resolve_on_clear: true } },
      { site: 'policy-b', rule: 'door_open', decides: 'the rule row', policy: { min_severity: 'critical', resolve_on_clear: true } },
      { site: 'policy-b', rule: 'over_voltage', decides: 'the catch-all', policy: { min_severity: 'major', resolve_on_clear: false } },
    ])('lets $decides decide for $rule at $site', async ({ site, rule, policy }) => {
      expect(await orders.policyFor(site, rule)).toEqual(policy);
    });

    it('replaces a row set again', async () => {
      await orders.setPolicy('policy-c', '*', { min_severity: 'minor', resolve_on_clear: false });
      await orders.setPolicy('policy-c', '*', { min_severity: 'warning', resolve_on_clear: true });

      expect(await orders.policyFor('policy-c', 'over_voltage')).toEqual({ min_severity: 'warning', resolve_on_clear: true });
    });
  });

  it('keeps a timeline in order, each entry with who did it', async () => {
    const t = clock.now;
    const { order } = await orders.openForAlarm(orderFor(await anAlarm(), { assignee: ANA }));
    clock.now = t + MINUTE;
    await orders.transition(order.id, 'acknowledged', 'Ana Li', { via: 'sms page' });
    clock.now = t + 2 * MINUTE;
    await orders.note(order.id, 'comment', 'Ben Wu', { text: 'breaker in stock' });
    clock.now = t + 3 * MINUTE;
    await orders.assign(order.id, { id: 'cai', name: 'Cai Xu' }, 'Ben Wu');
    clock.now = t + 4 * MINUTE;
    await orders.transition(order.id, 'in_progress', 'Cai Xu');

    expect((await orders.timeline(order.id)).map(({ at, kind, actor }) => ({ at: at - t, kind, actor }))).toEqual([
      { at: 0, kind: 'created', actor: null },
      { at: 0, kind: 'assigned', actor: null },
      { at: MINUTE, kind: 'status', actor: 'Ana Li' },
      { at: 2 * MINUTE, kind: 'comment', actor: 'Ben Wu' },
      { at: 3 * MINUTE, kind: 'assigned', actor: 'Ben Wu' },
      { at: 4 * MINUTE, kind: 'status', actor: 'Cai Xu' },
    ]);
    expect(await orders.get(order.id)).toMatchObject({ status: 'in_progress', assignee: 'cai', assignee_name: 'Cai Xu' });
  });
});
