import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpListener, type HttpListener } from '../support/http-listener.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { startMosquitto, type Mosquitto } from '../support/mosquitto.js';
import { createLiftTeam } from '../support/oncall.js';
import { PostgresServer } from '../support/postgres.js';
import { eventually, type Proc } from '../support/processes.js';
import { control, startAgent, startDeviceSim, writeAgentConfig } from './site-support.js';

/** The hubs' clock runs this many times faster than real time: an escalation minute is a second. */
const CLOCK_RATE = 60;
/** Minutes between escalation steps, on the hubs' clock. */
const STEP_MINUTES = 3;
const STEP_REAL_MS = (STEP_MINUTES * 60_000) / CLOCK_RATE;

interface WebhookPage {
  page: { id: string; workOrderId: string; ackUrl: string; title: string };
  recipient: { name: string };
}

interface WorkOrder {
  id: number;
  alarm_id: number | null;
  title: string;
  status: string;
  device: string | null;
  episode: number;
}

interface Alarm {
  id: number;
  source: string;
  rule: string;
  message: string;
  parent_id: number | null;
  state: string;
  flapping: boolean;
  episode: number;
  raised_at: number;
}

/**
 * Dispatch as it runs in production: two hub replicas on one PostgreSQL server, both subscribed
 * to one Mosquitto, so that each takes every alarm a gateway sends. The database decides: one
 * alarm, one work order, one page per escalation step, whichever replica gets there first; jobs
 * outlive a hub that is killed; a chattering input is held as flapping instead of paging on
 * every swing; and an alarm raised while the gateway's uplink was down pages once it is back.
 * The hubs' clock runs fast, so escalation minutes pass in seconds.
 */
describe('dispatch across hub replicas, restarts, flapping and uplink outages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-alarm-replicas-'));
  const clockOrigin = Date.now();
  let postgres: PostgresServer;
  let database: pg.Client;
  let broker: Mosquitto;
  let webhook: HttpListener;
  let lifts: Awaited<ReturnType<typeof startDeviceSim>>;
  let agent: Proc;
  const hubs = new Map<string, TestHub>();
  let pagingFile: string;

  const startReplica = async (name: string) => {
    const hub = await startTestHub(join(dir, name), {
      GATEHOUSE_DATABASE_URL: postgres.url,
      GATEHOUSE_MQTT_URL: broker.url,
      GATEHOUSE_HUB_ID: name,
      GATEHOUSE_PAGING_FILE: pagingFile,
      GATEHOUSE_CLOCK_RATE: String(CLOCK_RATE),
      // Replicas share the drill clock's origin, and a restarted hub picks it up where it was.
      GATEHOUSE_CLOCK_ORIGIN: String(clockOrigin),
      // Five seconds of real time for the lifts of a failed bus to be grouped.
      GATEHOUSE_ALARM_GROUP_WAIT_S: String(5 * CLOCK_RATE),
    });
    hubs.set(name, hub);
    return hub;
  };
  const anyHub = () => [...hubs.values()][0]!;
  const call = async (method: string, path: string, body?: unknown, hub = anyHub()) => {
    const { status, body: answer } = await hub.call(method, path, body);
    if (status >= 300) throw new Error(`${method} ${path}: ${status} ${JSON.stringify(answer)}`);
    return answer;
  };
  const pages = () => webhook.requests.map((request) => JSON.parse(request.body) as WebhookPage);
  const pagesFor = (order: number) => pages().filter((page) => page.page.workOrderId === String(order));
  const ordersOf = async (device: string, hub?: TestHub) =>
    ((await call('GET', '/api/v1/work-orders?site=tower-a', undefined, hub)).work_orders as WorkOrder[]).filter((order) => order.device === device);
  const alarmsOf = async (device: string, hub?: TestHub) =>
    ((await call('GET', `/api/v1/alarms?site=tower-a&source=${device}`, undefined, hub)).alarms as Alarm[]);
  /** Escalation jobs of a work order not yet finished, straight from the shared database. */
  const unfinishedJobs = async (order: number) =>
    Number(
      (
        await database.query<{ n: string }>(`select count(*) as n from jobs where state in ('pending', 'running') and (key like $1 or key like $2)`, [
          `escalate:wo:${order}:%`,
          `page:wo:${order}:%`,
        ])
      ).rows[0]!.n,
    );
  const theOrderOf = async (device: string) => eventually(async () => (await ordersOf(device))[0], `the work order of ${device}`);

  beforeAll(async () => {
    [postgres, broker, webhook] = await Promise.all([PostgresServer.create(), startMosquitto(), startHttpListener()]);
    database = new pg.Client({ connectionString: postgres.url });
    await database.connect();
    pagingFile = join(dir, 'paging.json');
    writeFileSync(pagingFile, JSON.stringify({ webhook: { type: 'webhook', url: `${webhook.url}/pages`, secret: 'a webhook secret of the test' } }));
    // Both replicas start together: the schema migration is taken by one under a lock.
    await Promise.all([startReplica('hub-a'), startReplica('hub-b')]);

    await createLiftTeam(anyHub(), {
      steps: [
        { after_minutes: 0, targets: ['primary'], channels: ['webhook'] },
        { after_minutes: STEP_MINUTES, targets: ['secondary'], channels: ['webhook'] },
        { after_minutes: STEP_MINUTES, targets: ['manager'], channels: ['webhook'] },
      ],
    });
    // A lift fault that clears resolves its order, so that a fault coming back reopens it: the
    // case where a chattering input would page on every swing.
    await call('PUT', '/api/v1/work-order-policies/tower-a/lift-fault', { min_severity: 'major', resolve_on_clear: true });

    lifts = await startDeviceSim('reference-elevator', [1, 2, 3, 4], ['--tick-ms', '100']);
    const config = writeAgentConfig(dir, 'gw-lifts', broker.url, [
      'buses:',
      `  - { id: lift-room, transport: tcp, host: 127.0.0.1, port: ${lifts.port}, timeout_ms: 500 }`,
      'devices:',
      ...[1, 2, 3, 4].map((unit) => `  - { id: lift-${unit}, bus: lift-room, unit: ${unit}, profile: reference-elevator, poll_interval_ms: 100 }`),
      'alarms:',
      '  - { id: trapped, type: state, devices: [lift-1, lift-2, lift-4], point: passenger_trapped, equals: true, severity: critical }',
      '  - { id: lift-fault, type: state, devices: [lift-3], point: fault_code, not_equals: 0, severity: major }',
      '  - { id: lift-lost, type: comm_loss, kind: elevator, severity: major }',
    ]);
    agent = startAgent(config);
    await agent.waitForLog('agent started');
    await eventually(async () => ((await anyHub().api('/api/v1/devices/tower-a.gw-lifts.lift-4/latest')).ok ? true : undefined), 'the lifts known to the hubs');
  }, 120_000);

  afterAll(async () => {
    await agent?.stop();
    await lifts?.proc.stop();
    await Promise.all([...hubs.values()].map((hub) => hub.stop()));
    await database?.end();
    await Promise.all([broker?.close(), webhook?.close()]);
    postgres?.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  it('two replicas taking the same alarm open one work order and send one page per escalation step', async () => {
    await control(lifts.control, 1, 'trap');
    const order = await theOrderOf('tower-a.gw-lifts.lift-1');
    // Every step ran, each once: primary, then secondary, then manager.
    await eventually(async () => (pagesFor(order.id).length >= 3 && (await unfinishedJobs(order.id)) === 0 ? true : undefined), 'all three steps paged', 30_000);
    expect(pagesFor(order.id).map((page) => page.recipient.name)).toEqual(['Li Wei', 'Zhang Min', 'Chen Jie']);
    for (const hub of hubs.values()) {
      expect(await ordersOf('tower-a.gw-lifts.lift-1', hub)).toEqual([expect.objectContaining({ id: order.id })]);
      expect(await alarmsOf('tower-a.gw-lifts.lift-1', hub)).toEqual([expect.objectContaining({ rule: 'trapped', state: 'active', episode: 1 })]);
    }
    // Both replicas took the alarm off the broker; the one that came second found it applied.
    const outcomes = [...hubs.values()].flatMap((hub) =>
      hub.proc.logs().filter((line) => line.msg === 'alarm transition' && line.source === 'tower-a.gw-lifts.lift-1' && line.state === 'raised'),
    );
    expect(outcomes.map((line) => line.outcome).sort()).toEqual(['ignored', 'raised']);
    expect(outcomes.find((line) => line.outcome === 'ignored')?.reason).toBe('replay');
  });

  it('a hub killed during escalation resumes it after the restart, without a lost or a repeated page', async () => {
    await control(lifts.control, 2, 'trap');
    const order = await theOrderOf('tower-a.gw-lifts.lift-2');
    await eventually(async () => (pagesFor(order.id).length === 1 ? true : undefined), 'the page to the primary');
    const secondStepDue = Date.now() + STEP_REAL_MS;
    // Both replicas die with the secondary's step pending; it falls due while they are down.
    await Promise.all([...hubs.values()].map((hub) => hub.proc.stop('SIGKILL')));
    hubs.clear();
    await sleep(Math.max(0, secondStepDue - Date.now()) + 500);
    expect(pagesFor(order.id)).toHaveLength(1);

    await startReplica('hub-a');
    await eventually(async () => (pagesFor(order.id).length >= 3 && (await unfinishedJobs(order.id)) === 0 ? true : undefined), 'the remaining steps paged', 30_000);
    expect(pagesFor(order.id).map((page) => page.recipient.name)).toEqual(['Li Wei', 'Zhang Min', 'Chen Jie']);
    const { timeline } = (await call('GET', `/api/v1/work-orders/${order.id}`)) as { timeline: Array<{ kind: string }> };
    expect(timeline.filter((entry) => entry.kind === 'page_delivered')).toHaveLength(3);
    await startReplica('hub-b');
  });

  it('a flapping lift fault is one alarm marked flapping, and pages once', async () => {
    const source = 'tower-a.gw-lifts.lift-3';
    const transitions = async () => {
      const [alarm] = await alarmsOf(source);
      if (!alarm) return 0;
      const { history } = (await call('GET', `/api/v1/alarms/${alarm.id}`)) as { history: Array<{ kind: string }> };
      return history.filter((entry) => entry.kind === 'raised' || entry.kind === 'cleared').length;
    };
    // Eight swings, each seen by the hub before the next: more than six in the window.
    for (let swing = 1; swing <= 8; swing++) {
      await control(lifts.control, 3, swing % 2 === 1 ? 'fault' : 'clear', swing % 2 === 1 ? { code: 17 } : {});
      await eventually(async () => ((await transitions()) >= swing ? true : undefined), `swing ${swing} at the hub`);
    }
    const [alarm] = await alarmsOf(source);
    expect(alarm).toMatchObject({ rule: 'lift-fault', flapping: true, state: 'active' });
    const orders = ((await call('GET', '/api/v1/work-orders?site=tower-a')).work_orders as WorkOrder[]).filter((order) => order.device === source);
    // Resolved and reopened with the swings before it counted as flapping; never a second order.
    expect(orders).toHaveLength(1);
    const primaryPages = pagesFor(orders[0]!.id).filter((page) => page.recipient.name === 'Li Wei');
    expect(primaryPages).toHaveLength(1);
    const { timeline } = (await call('GET', `/api/v1/work-orders/${orders[0]!.id}`)) as { timeline: Array<{ kind: string }> };
    expect(timeline.map((entry) => entry.kind)).toEqual(expect.arrayContaining(['reopened', 'page_suppressed', 'alarm_flapping']));
  });

  it('an alarm raised while the uplink is down arrives and pages after the reconnection', async () => {
    await broker.stop();
    const outageFrom = Date.now();
    await control(lifts.control, 4, 'trap');
    // The agent's rule fires at the gateway and the transition waits in its outbox.
    await agent.waitForLine((line) => (line.includes('"rule":"trapped"') && line.includes('lift-4') ? true : undefined));
    const outageTo = Date.now();
    await broker.start();
    const order = await theOrderOf('tower-a.gw-lifts.lift-4');
    await eventually(async () => (pagesFor(order.id).length > 0 ? true : undefined), 'the page for lift-4');
    expect(pagesFor(order.id)[0]!.recipient.name).toBe('Li Wei');
    const [alarm] = await alarmsOf('tower-a.gw-lifts.lift-4');
    // Raised at the gateway's time of the trap, during the outage, not at its arrival.
    expect(alarm!.raised_at).toBeGreaterThanOrEqual(outageFrom - 1000);
    expect(alarm!.raised_at).toBeLessThanOrEqual(outageTo);
  });

  it("the lifts of a bus that fails are grouped under the bus's alarm, which opens one work order and pages once", async () => {
    const lifts4 = [1, 2, 3, 4].map((unit) => `tower-a.gw-lifts.lift-${unit}`);
    const bus = 'tower-a.gw-lifts.bus:lift-room';
    const allOrders = async () => (await call('GET', '/api/v1/work-orders?site=tower-a')).work_orders as WorkOrder[];
    const ordersBefore = new Set((await allOrders()).map((order) => order.id));
    // The machine room's line goes dead: no lift answers the gateway.
    await lifts.proc.stop('SIGKILL');
    const busAlarm = await eventually(async () => (await alarmsOf(bus)).find((alarm) => alarm.state === 'active'), "the bus's alarm", 30_000);
    expect(busAlarm).toMatchObject({ rule: 'bus_offline', severity: 'major' });
    expect(busAlarm.message).toContain('4 devices are not answering');
    // The bus's alarm opens its order first, then takes the lifts under it.
    for (const lift of lifts4) {
      const lost = await eventually(async () => (await alarmsOf(lift)).find((alarm) => alarm.rule === 'lift-lost' && alarm.parent_id !== null), `${lift} grouped`);
      expect(lost).toMatchObject({ state: 'active', parent_id: busAlarm.id });
    }
    // A bus is no device: its order is found by its alarm.
    const order = await eventually(async () => (await allOrders()).find((entry) => entry.alarm_id === busAlarm.id), "the bus's work order");
    expect(order).toMatchObject({ status: 'assigned', device: null, title: `MAJOR bus_offline: ${bus}` });
    await eventually(async () => (pagesFor(order.id).length > 0 ? true : undefined), "the page for the bus's order");
    // One new order, the bus's, and one page to the technician on call for the four lifts.
    expect((await allOrders()).filter((entry) => !ordersBefore.has(entry.id)).map((entry) => entry.id)).toEqual([order.id]);
    expect(pagesFor(order.id).filter((page) => page.recipient.name === 'Li Wei')).toHaveLength(1);
  });
});
