import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmInput } from '../src/alarms/alarm-book.js';
import { PagingChannels } from '../src/index.js';
import { startHttpListener, type HttpListener } from '../../tests/support/http-listener.js';
import { seedOneStepTeam } from '../../tests/support/oncall.js';
import { memoryStores } from './support.js';

const MINUTE = 60_000;
const SITE = 'tower-a';
const GATEWAY = 'gw-lifts';

interface WebhookPage {
  page: { workOrderId: string; title: string };
  recipient: { name: string };
}

/**
 * The alarm desk on an embedded database with the clock in the test's hands: which team an
 * alarm goes to, and how the comm-loss alarms of devices behind one gateway or one bus are
 * grouped under a single alarm that pages once. Pages go to a real HTTP listener.
 */
describe('the alarm desk', () => {
  let clock = Date.parse('2026-11-23T02:00:00Z');
  const now = () => clock;
  let webhook: HttpListener;
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let dispatch: ReturnType<(typeof stores)['dispatchDeps']>;

  /** Lets `ms` pass on the hub's clock and runs whatever jobs fell due (again until none do). */
  const pass = async (ms: number) => {
    clock += ms;
    while ((await stores.jobs.runDue()) > 0);
  };
  const pages = () => webhook.requests.map((request) => JSON.parse(request.body) as WebhookPage);
  const commLoss = (device: string, state: 'raised' | 'cleared', at = clock): AlarmInput => ({
    site: SITE,
    gateway: GATEWAY,
    source: `${SITE}.${GATEWAY}.${device}`,
    rule: 'comm-loss',
    rule_type: 'comm_loss',
    state,
    severity: 'major',
    ts: at,
    message: `${device} is not answering`,
  });
  const gatewayOffline = (state: 'raised' | 'cleared', at = clock): AlarmInput => ({
    site: SITE,
    gateway: GATEWAY,
    source: `${SITE}.${GATEWAY}`,
    rule: 'gateway_offline',
    state,
    severity: 'major',
    ts: at,
    message: 'gateway lost its connection',
  });
  const alarmOf = async (source: string) => (await stores.alarms.list({ sites: [SITE], source, limit: 10 }))[0];
  const openOrders = async () => (await stores.orders.list({ sites: [SITE], limit: 100 })).filter((order) => !['resolved', 'closed', 'cancelled'].includes(order.status));

  beforeAll(async () => {
    webhook = await startHttpListener();
  });
  afterAll(async () => {
    await webhook.close();
  });

  beforeEach(async () => {
    stores = await memoryStores(now);
    dispatch = stores.dispatchDeps(new PagingChannels({ webhook: { type: 'webhook', url: `${webhook.url}/pages`, secret: 'the desk test secret' } }));
    dispatch.desk.register();
    const { oncall } = stores;
    for (const [team, trade] of [
      ['lifts', 'elevator'],
      ['facilities', 'general'],
    ] as const) {
      await seedOneStepTeam(oncall, SITE, team, trade);
    }
    await stores.registry.applyInventory(SITE, GATEWAY, {
      v: 1,
      ts: clock,
      devices: ['lift-1', 'lift-2', 'lift-3', 'lift-4'].map((device, index) => ({
        device,
        kind: 'elevator',
        profile: 'reference-elevator',
        // Three lifts share the machine room's RS-485 line; the fourth has a line of its own.
        bus: index < 3 ? 'machine-room' : 'lift-4-line',
        comm: { status: 'online' as const, last_good_read: clock, consecutive_failures: 0, total_errors: 0 },
      })),
    });
  });

  const pagesSince = (before: number) => pages().slice(before);

  it('pages for one lift that stops answering on its own, after waiting for others on its bus', async () => {
    const before = pages().length;
    await dispatch.desk.receive(commLoss('lift-4', 'raised'));
    await pass(0);
    expect(pagesSince(before)).toEqual([]);
    await pass(30_000);
    expect(await openOrders()).toEqual([expect.objectContaining({ device: `${SITE}.${GATEWAY}.lift-4`, trade: 'elevator', team: 'lifts' })]);
    expect(pagesSince(before)).toHaveLength(1);
  });

  it('groups the lifts of a failed bus under one bus alarm that opens one work order and pages once', async () => {
    const before = pages().length;
    for (const [index, device] of ['lift-1', 'lift-2', 'lift-3'].entries()) await dispatch.desk.receive(commLoss(device, 'raised', clock + index * 400));
    await pass(30_000);

    const bus = await alarmOf(`${SITE}.${GATEWAY}.bus:machine-room`);
    expect(bus).toMatchObject({ rule: 'bus_offline', state: 'active', severity: 'major' });
    expect(bus!.message).toContain('3 devices are not answering');
    for (const device of ['lift-1', 'lift-2', 'lift-3']) expect(await alarmOf(`${SITE}.${GATEWAY}.${device}`)).toMatchObject({ state: 'active', parent_id: bus!.id });
    const orders = await openOrders();
    // The bus carries lifts only, so the order is the lift team's.
    expect(orders).toEqual([expect.objectContaining({ alarm_id: bus!.id, trade: 'elevator', team: 'lifts' })]);
    // The order's timeline says what became of its escalation, should the page be missing.
    expect(pagesSince(before), JSON.stringify(await stores.orders.timeline(orders[0]!.id))).toHaveLength(1);
    // It names the three lifts it stands for, and their own waits are over.
    const grouped = (await stores.orders.timeline(orders[0]!.id)).filter((entry) => entry.kind === 'alarm_grouped');
    expect(grouped.map((entry) => entry.detail.source).sort()).toEqual(['lift-1', 'lift-2', 'lift-3'].map((lift) => `${SITE}.${GATEWAY}.${lift}`));
    expect(await stores.jobs.list({ keyPrefix: 'group:', state: 'pending' })).toEqual([]);

    // While the bus is down, a lift that is lost again goes straight under it.
    await dispatch.desk.receive(commLoss('lift-1', 'cleared'));
    await pass(1000);
    await dispatch.desk.receive(commLoss('lift-1', 'raised'));
    await pass(30_000);
    expect(await alarmOf(`${SITE}.${GATEWAY}.lift-1`)).toMatchObject({ parent_id: bus!.id, episode: 2 });
    expect(pagesSince(before)).toHaveLength(1);

    // The bus's alarm clears when the last of its lifts answers again, and notes it on the order.
    for (const device of ['lift-1', 'lift-2']) await dispatch.desk.receive(commLoss(device, 'cleared'));
    expect(await alarmOf(`${SITE}.${GATEWAY}.bus:machine-room`)).toMatchObject({ state: 'active' });
    await pass(1000);
    await dispatch.desk.receive(commLoss('lift-3', 'cleared'));
    expect(await alarmOf(`${SITE}.${GATEWAY}.bus:machine-room`)).toMatchObject({ state: 'cleared' });
    const timeline = await stores.orders.timeline(orders[0]!.id);
    expect(timeline.map((entry) => entry.kind)).toEqual(expect.arrayContaining(['alarm_grouped', 'alarm_cleared']));
  });

  it('puts the comm-loss alarms a gateway reports after an outage under its offline alarm', async () => {
    await dispatch.desk.receive(gatewayOffline('raised'));
    await pass(0);
    const gateway = await alarmOf(`${SITE}.${GATEWAY}`);
    // The gateway's own alarm pages the general team once.
    expect(await openOrders()).toEqual([expect.objectContaining({ alarm_id: gateway!.id, team: 'facilities' })]);
    const before = pages().length;

    // Its lifts were lost during the outage; the agent's alarms arrive once it is back.
    const lostAt = clock + 20_000;
    await pass(5 * MINUTE);
    await dispatch.desk.receive(gatewayOffline('cleared'));
    for (const device of ['lift-1', 'lift-4']) await dispatch.desk.receive(commLoss(device, 'raised', lostAt));
    await pass(30_000);
    for (const device of ['lift-1', 'lift-4']) expect(await alarmOf(`${SITE}.${GATEWAY}.${device}`)).toMatchObject({ state: 'active', parent_id: gateway!.id });
    expect(pagesSince(before)).toEqual([]);
    expect((await openOrders()).filter((order) => order.device !== null)).toEqual([]);

    // A lift lost long after the gateway came back is its own matter again.
    await pass(10 * MINUTE);
    await dispatch.desk.receive(commLoss('lift-4', 'cleared'));
    await dispatch.desk.receive(commLoss('lift-4', 'raised', clock + 1));
    await pass(30_000);
    expect(await alarmOf(`${SITE}.${GATEWAY}.lift-4`)).toMatchObject({ parent_id: null, episode: 2 });
    expect(pagesSince(before)).toHaveLength(1);
  });

  it('takes a lift that paged on its own under its bus when the rest of the bus follows, and stops paging for it', async () => {
    const before = pages().length;
    await dispatch.desk.receive(commLoss('lift-1', 'raised'));
    await pass(30_000);
    const [alone] = await openOrders();
    expect(alone).toMatchObject({ device: `${SITE}.${GATEWAY}.lift-1` });
    expect(pagesSince(before)).toHaveLength(1);

    // A minute on, the other two lifts of the line go too: it was the line after all.
    await pass(60_000);
    for (const device of ['lift-2', 'lift-3']) await dispatch.desk.receive(commLoss(device, 'raised'));
    await pass(30_000);
    const bus = await alarmOf(`${SITE}.${GATEWAY}.bus:machine-room`);
    expect(await alarmOf(`${SITE}.${GATEWAY}.lift-1`)).toMatchObject({ parent_id: bus!.id });
    const timeline = await stores.orders.timeline(alone!.id);
    expect(timeline.map((entry) => entry.kind)).toEqual(expect.arrayContaining(['alarm_grouped_under']));
    expect(await stores.jobs.list({ keyPrefix: `escalate:wo:${alone!.id}:`, state: 'pending' })).toEqual([]);
    // One more page, the bus's; none again for the lift.
    expect(pagesSince(before)).toHaveLength(2);
  });
});
