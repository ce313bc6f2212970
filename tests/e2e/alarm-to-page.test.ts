import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpListener, type HttpListener } from '../support/http-listener.js';
import { startTestHub, type TestHub } from '../support/hub.js';
import { createLiftTeam } from '../support/oncall.js';
import { eventually, type Proc } from '../support/processes.js';
import { startSmtpServer, type SmtpServer } from '../support/smtp.js';
import { control, startAgent, startDeviceSim } from './site-support.js';

/** The hub's clock runs this many times faster than real time: an escalation minute is a second. */
const CLOCK_RATE = 60;
const WEBHOOK_SECRET = 'a webhook secret of the test';

interface WorkOrder {
  id: number;
  status: string;
  assignee: string | null;
  priority: string;
  trade: string;
  team: string | null;
}

interface WebhookPage {
  page: { id: string; severity: string; title: string; ackUrl: string; ackCode: string; workOrderId: string };
  recipient: { name: string };
}

/**
 * A trapped passenger, from the lift's controller to the technician's phone: the agent's rule
 * raises a critical alarm, the hub opens one work order for the elevator team, assigns it to
 * whoever is on call at that moment and pages them by webhook and e-mail (real HTTP and SMTP
 * servers); unanswered, the page escalates to the secondary on schedule (the hub's clock runs
 * fast); acknowledged, escalation stops.
 */
describe('a trapped passenger becomes a work order and a page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-alarm-page-'));
  let hub: TestHub;
  let webhook: HttpListener;
  let smtp: SmtpServer;
  let lift: Awaited<ReturnType<typeof startDeviceSim>>;
  let agent: Proc;
  const config = join(dir, 'gw-lifts.yaml');

  const call = (method: string, path: string, body?: unknown) => hub.call(method, path, body);
  const pagesTo = (name: string) => webhook.requests.map((request) => JSON.parse(request.body) as WebhookPage).filter((page) => page.recipient.name === name);

  beforeAll(async () => {
    [webhook, smtp] = await Promise.all([startHttpListener(), startSmtpServer()]);
    const paging = join(dir, 'paging.json');
    writeFileSync(
      paging,
      JSON.stringify({
        webhook: { type: 'webhook', url: `${webhook.url}/pages`, secret: WEBHOOK_SECRET },
        email: { type: 'email', host: smtp.host, port: smtp.port, from: 'gatehouse@tower-a.example' },
      }),
    );
    hub = await startTestHub(join(dir, 'hub'), { GATEHOUSE_PAGING_FILE: paging, GATEHOUSE_CLOCK_RATE: String(CLOCK_RATE) });

    await createLiftTeam(hub, {
      steps: [
        { after_minutes: 0, targets: ['primary'], channels: ['webhook', 'email'] },
        { after_minutes: 5, targets: ['secondary'], channels: ['webhook'] },
        { after_minutes: 5, targets: ['manager'], channels: ['webhook'] },
      ],
    });

    lift = await startDeviceSim('reference-elevator', [3], ['--tick-ms', '100']);
    const { file } = await hub.enrolGateway('tower-a', 'gw-lifts');
    writeFileSync(
      config,
      [
        'site: tower-a',
        'gateway: gw-lifts',
        `data_dir: ${join(dir, 'gw-lifts')}`,
        `uplink: { url: "${hub.mqttUrl}", credentials_file: "${file}", reconnect_max_ms: 500 }`,
        'metrics: { port: 0 }',
        'buses:',
        `  - { id: lift-room, transport: tcp, host: 127.0.0.1, port: ${lift.port}, timeout_ms: 500 }`,
        'devices:',
        '  - { id: lift-1, bus: lift-room, unit: 3, profile: reference-elevator, poll_interval_ms: 200 }',
        'alarms:',
        '  - { id: passenger-trapped, type: state, kind: elevator, point: passenger_trapped, equals: true, severity: critical, message: "passenger trapped in {device}" }',
      ].join('\n'),
    );
    agent = startAgent(config);
    await agent.waitForLog('agent started');
    await eventually(async () => ((await hub.api('/api/v1/devices/tower-a.gw-lifts.lift-1/latest')).ok ? true : undefined), 'the lift known to the hub');
  });

  afterAll(async () => {
    await agent?.stop();
    await lift?.proc.stop();
    await hub?.stop();
    await Promise.all([webhook?.close(), smtp?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  it('pages the on-call technician within 2 s, escalates unanswered, and stops when acknowledged', async () => {
    const trappedAt = Date.now();
    await control(lift.control, 3, 'trap');
    const [first] = await webhook.waitForRequests(1, 10_000);
    const pagedAfterMs = Date.now() - trappedAt;
    const page = JSON.parse(first!.body) as WebhookPage;
    expect(page).toMatchObject({ recipient: { name: 'Li Wei' }, page: { severity: 'critical' } });
    expect(pagedAfterMs).toBeLessThan(2000);

    const mail = await eventually(async () => (await smtp.messages()).find((message) => message.to.includes('li-wei@lift.example')), 'the e-mail page');
    // Each page has its own code: the e-mail's link acknowledges as well as the webhook's.
    expect(mail.text).toMatch(/\/api\/v1\/acks\/[A-Z2-9]{10}/);

    const { body: listed } = await call('GET', '/api/v1/work-orders?site=tower-a');
    const orders = listed.work_orders as WorkOrder[];
    expect(orders).toHaveLength(1);
    expect(orders[0]).toMatchObject({ status: 'assigned', assignee: 'li-wei', priority: 'P1', trade: 'elevator', team: 'lifts' });
    const { body: alarms } = await call('GET', '/api/v1/alarms?site=tower-a&state=active');
    expect(alarms.alarms).toEqual([expect.objectContaining({ rule: 'passenger-trapped', severity: 'critical', source: 'tower-a.gw-lifts.lift-1' })]);

    // Nobody answers: five escalation minutes on, the secondary is paged.
    await eventually(async () => (pagesTo('Zhang Min').length > 0 ? true : undefined), 'the page to the secondary', 20_000);

    const acked = await fetch(page.page.ackUrl, { method: 'POST' });
    expect(acked.status).toBe(200);
    expect(((await acked.json()) as { work_order: WorkOrder }).work_order.status).toBe('acknowledged');

    const { body: detail } = await call('GET', `/api/v1/work-orders/${orders[0]!.id}`);
    const timeline = detail.timeline as Array<{ kind: string; detail: Record<string, unknown> }>;
    expect(timeline.map((entry) => entry.kind)).toEqual(expect.arrayContaining(['created', 'assigned', 'escalated', 'page_delivered', 'status', 'escalation_stopped']));
    expect(timeline.find((entry) => entry.kind === 'escalation_stopped')?.detail.jobs_cancelled).toBeGreaterThan(0);
    expect(detail.pages).toEqual(expect.arrayContaining([expect.objectContaining({ responder: 'li-wei', channel: 'email', status: 'delivered' })]));
    // The manager's step was a pending job; acknowledging cancelled it, so nobody else is paged.
    expect(pagesTo('Chen Jie')).toEqual([]);
    expect(webhook.requests).toHaveLength(2);
  });

  it('a gateway its operator stops is a warning that pages nobody; one whose connection is lost opens a work order', async () => {
    const gatewayAlarm = async () => ((await call('GET', '/api/v1/alarms?site=tower-a&source=tower-a.gw-lifts')).body.alarms as Array<{ id: number; state: string; severity: string; episode: number; message: string }>)[0];
    const ordersOf = async (alarmId: number) => ((await call('GET', '/api/v1/work-orders?site=tower-a')).body.work_orders as Array<{ alarm_id: number; priority: string }>).filter((order) => order.alarm_id === alarmId);

    // Stopped, as an installer restarting it would: the agent says goodbye.
    await agent.stop();
    const stopped = await eventually(async () => {
      const alarm = await gatewayAlarm();
      return alarm?.state === 'active' ? alarm : undefined;
    }, 'the gateway alarm of a stop');
    expect(stopped).toMatchObject({ severity: 'warning', message: 'gateway gw-lifts was stopped' });
    expect(await ordersOf(stopped.id)).toEqual([]);

    agent = startAgent(config);
    await agent.waitForLog('agent started');
    await eventually(async () => ((await gatewayAlarm())?.state === 'cleared' ? true : undefined), 'the gateway back online');

    // Killed: the broker publishes its Last Will, and the loss opens an order.
    await agent.stop('SIGKILL');
    const lost = await eventually(async () => {
      const alarm = await gatewayAlarm();
      return alarm?.state === 'active' && alarm.episode === stopped.episode + 1 ? alarm : undefined;
    }, 'the gateway alarm of a lost connection');
    expect(lost).toMatchObject({ severity: 'major', message: 'gateway gw-lifts lost its connection to the hub' });
    expect(await eventually(async () => (await ordersOf(lost.id)).find((order) => order.priority === 'P2'), "the lost gateway's work order")).toBeDefined();
  });
});
