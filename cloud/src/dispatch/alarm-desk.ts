import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { parseHubDeviceId } from '@gatehouse/protocols';
import type { AlarmBook, AlarmInput, AlarmOutcome, AlarmRecord } from '../alarms/alarm-book.js';
import type { JobRecord } from '../jobs/job.js';
import type { JobOutcome, JobQueue } from '../jobs/queue.js';
import type { LiveFeed } from '../live/live-feed.js';
import type { OnCall } from '../oncall/index.js';
import type { Registry } from '../store/registry.js';
import { epochMsAs } from '../store/sql-fragments.js';
import type { SqlClient } from '../store/sql.js';
import { PRIORITY_OF_SEVERITY, SEVERITY_RANK, SLA_MS, UNANSWERED } from '../work-orders/lifecycle.js';
import type { WorkOrderBook, WorkOrderRecord } from '../work-orders/work-order-book.js';
import type { PagingChannels } from './paging-settings.js';
import { BUS_OFFLINE, Topology } from './topology.js';
import { tradeOfKind } from './trades.js';

const MINUTE = 60_000;
const STEP_JOB = 'escalation.step';
const PAGE_JOB = 'page.deliver';
const GROUP_JOB = 'alarm.group';
/** A reopened order does not page a responder again who was paged about it this recently. */
const REPAGE_QUIET_MS = 15 * MINUTE;

interface StepPayload {
  order: number;
  episode: number;
  round: number;
  step: number;
}

interface GroupPayload {
  alarm: number;
  episode: number;
}

interface PagePayload extends StepPayload {
  responder: string;
  channel: string;
}

export interface AlarmDeskDeps {
  db: SqlClient;
  alarms: AlarmBook;
  orders: WorkOrderBook;
  oncall: OnCall;
  registry: Registry;
  jobs: JobQueue;
  channels: PagingChannels;
  live: LiveFeed;
  log: Logger;
  now: () => number;
  /** Where people reach the hub (known once it listens): acknowledgement links point here. */
  publicUrl: () => string;
  /**
   * How long a device's comm-loss alarm waits for others on its bus before it pages on its own
   * (a bus that fails takes its devices down over a poll round or two).
   */
  groupWaitMs: number;
}

/**
 * From alarm to person: applies alarm transitions, opens work orders by policy for the trade's
 * team, assigns the on-call technician, and runs the escalation policy as durable jobs (one per
 * step, one per page), until somebody acknowledges. Every job is keyed by order, episode, round
 * and step (and responder and channel for a page), so that replicas racing on one alarm, or a
 * hub resuming after a crash, enqueue each step and each page once.
 */
export class AlarmDesk {
  private readonly topology: Topology;

  constructor(private readonly deps: AlarmDeskDeps) {
    this.topology = new Topology(deps.alarms, deps.registry);
  }

  /** Registers the escalation and page handlers with the job queue. */
  register(): void {
    // A page is one HTTP call or one SMTP exchange; a lease well past their timeouts.
    this.deps.jobs.handle(STEP_JOB, (job) => this.runStep(job), { leaseMs: 30_000 });
    this.deps.jobs.handle(PAGE_JOB, (job) => this.deliverPage(job), { leaseMs: 60_000, concurrency: 8 });
    // One at a time here: the devices of a failing bus come due together and are grouped by the first.
    this.deps.jobs.handle(GROUP_JOB, (job) => this.group(job.payload as unknown as GroupPayload), { leaseMs: 30_000, concurrency: 1 });
  }

  async receive(input: AlarmInput): Promise<void> {
    await this.handle(input, await this.deps.alarms.apply(input));
  }

  private async handle(input: AlarmInput, outcome: AlarmOutcome): Promise<void> {
    this.deps.log.info(
      { source: input.source, rule: input.rule, state: input.state, ts: input.ts, outcome: outcome.kind, ...(outcome.kind === 'ignored' ? { reason: outcome.reason } : {}) },
      'alarm transition',
    );
    switch (outcome.kind) {
      case 'ignored':
        return;
      case 'updated':
        this.announceAlarm(outcome.alarm);
        return;
      case 'flapping': {
        this.deps.log.warn({ alarm: outcome.alarm.id, source: outcome.alarm.source, rule: outcome.alarm.rule }, 'alarm flapping: held, no new pages');
        this.announceAlarm(outcome.alarm);
        // Held active, it keeps (or gets back) an open order, which is told why nobody is paged.
        const order = await this.openWorkOrder(outcome.alarm, { escalate: false });
        if (order) await this.deps.orders.note(order.id, 'alarm_flapping', null, { alarm: outcome.alarm.id });
        return;
      }
      case 'cleared':
        await this.cleared(outcome.alarm);
        this.announceAlarm(outcome.alarm);
        if (outcome.alarm.parent_id !== null) await this.releaseBus(outcome.alarm.parent_id, outcome.alarm.cleared_at ?? input.ts);
        return;
      case 'raised':
        this.announceAlarm(outcome.alarm);
        if (!outcome.pageable) {
          this.deps.log.info({ alarm: outcome.alarm.id, flapping: outcome.alarm.flapping, shelved_until: outcome.alarm.shelved_until }, 'alarm raised; not paged');
        } else if (outcome.alarm.rule_type === 'comm_loss' && parseHubDeviceId(outcome.alarm.source)) {
          await this.holdForGrouping(outcome.alarm);
        } else {
          await this.openWorkOrder(outcome.alarm, { escalate: true });
        }
        return;
    }
  }

  /**
   * A device stopped answering: if its gateway's or its bus's alarm already stands for it, it
   * goes under that one; else it waits `groupWaitMs` for others on its bus before it pages.
   */
  private async holdForGrouping(alarm: AlarmRecord): Promise<void> {
    if (await this.groupUnderCovering(alarm)) return;
    const payload: GroupPayload = { alarm: alarm.id, episode: alarm.episode };
    await this.deps.jobs.enqueue({ kind: GROUP_JOB, key: groupKey(alarm), payload, runAt: this.deps.now() + this.deps.groupWaitMs });
  }

  /** After the wait: under a covering alarm, under a new alarm of its bus with the others, or on its own. */
  private async group({ alarm: id, episode }: GroupPayload): Promise<void> {
    const alarm = await this.deps.alarms.get(id);
    if (!alarm || alarm.state !== 'active' || alarm.episode !== episode || alarm.parent_id !== null) return;
    if (await this.groupUnderCovering(alarm, id)) return;
    const bus = await this.topology.busOf(alarm);
    const together = bus && alarm.gateway ? await this.deps.alarms.ungroupedCommLossOnBus(alarm.site, alarm.gateway, bus) : [];
    if (!bus || !alarm.gateway || together.length < 2) {
      // Alone, unless another replica's job has just raised the bus's alarm over it.
      if (!(await this.groupUnderCovering(alarm, id))) await this.openWorkOrder(alarm, { escalate: true });
      return;
    }
    const input = this.topology.busAlarmFor(alarm.site, alarm.gateway, bus, together);
    // The bus's alarm first, with its order, so that the devices grouped next are noted on it.
    await this.handle(input, await this.deps.alarms.apply(input));
    const busAlarm = await this.deps.alarms.find(input.site, input.source, input.rule);
    if (busAlarm) await this.groupUnder(together, busAlarm, alarm.id);
  }

  /** `running`: the alarm whose group job is running this, which must not cancel itself. */
  private async groupUnderCovering(alarm: AlarmRecord, running?: number): Promise<boolean> {
    const covering = await this.topology.coveringAlarm(alarm);
    if (covering) await this.groupUnder([alarm], covering, running);
    return covering !== undefined;
  }

  /**
   * Puts comm-loss alarms under the alarm that pages for them. Their own waits are over; one
   * that already paged on its own (lost well before the rest of its bus) keeps its order, told
   * where it now belongs, but pages no more.
   */
  private async groupUnder(members: readonly AlarmRecord[], parent: AlarmRecord, running?: number): Promise<void> {
    const { alarms, orders, jobs, log } = this.deps;
    await alarms.group(
      members.map((member) => member.id),
      parent.id,
    );
    log.info({ alarms: members.length, sources: members.map((member) => member.source), under: parent.source, rule: parent.rule }, 'comm-loss alarms grouped; not paged on their own');
    const parentOrder = await orders.openOfAlarm(alarmKey(parent));
    for (const member of members) {
      if (member.id !== running) await jobs.cancel({ key: groupKey(member) });
      if (parentOrder) await orders.note(parentOrder.id, 'alarm_grouped', null, { alarm: member.id, source: member.source });
      const own = await orders.openOfAlarm(alarmKey(member));
      if (own) {
        await orders.note(own.id, 'alarm_grouped_under', null, { alarm: parent.id, source: parent.source, work_order: parentOrder?.id ?? null });
        await this.stopEscalation(own.id);
      }
      this.announceAlarm({ ...member, parent_id: parent.id });
    }
  }

  /** A device under a bus's alarm answers again: once they all do, the bus's alarm clears. */
  private async releaseBus(parentId: number, at: number): Promise<void> {
    const parent = await this.deps.alarms.get(parentId);
    if (!parent || parent.rule !== BUS_OFFLINE || parent.state !== 'active' || (await this.deps.alarms.activeChildren(parentId)) > 0) return;
    await this.receive(this.topology.busCleared(parent, at));
  }

  /** Acknowledges a work order: escalation stops, and its alarm is acknowledged too. */
  async acknowledge(orderId: number, actor: string, via: string): Promise<WorkOrderRecord | undefined> {
    const order = await this.deps.orders.get(orderId);
    if (!order) return undefined;
    if (UNANSWERED.includes(order.status)) {
      const moved = await this.deps.orders.transition(orderId, 'acknowledged', actor, { via });
      if (!moved.ok) return order;
    }
    await this.stopEscalation(orderId);
    const alarm = order.alarm_id === null ? undefined : await this.deps.alarms.acknowledge(order.alarm_id, actor);
    if (alarm) this.announceAlarm(alarm);
    const updated = await this.deps.orders.get(orderId);
    if (updated) this.announceOrder(updated);
    return updated;
  }

  /** The page a code was sent in: its order as it stands, and to whom it went over what. */
  async pageOfCode(code: string): Promise<{ order: WorkOrderRecord; responder: string; channel: string } | undefined> {
    const rows = await this.deps.db.query<{ work_order_id: string; responder: string; channel: string }>(
      'select work_order_id, responder, channel from pages where ack_code = $1',
      [code],
    );
    const page = rows[0];
    const order = page && (await this.deps.orders.get(Number(page.work_order_id)));
    if (!page || !order) return undefined;
    const responder = await this.deps.oncall.getResponder(page.responder);
    return { order, responder: responder?.name ?? page.responder, channel: page.channel };
  }

  /** Acknowledges through a page's code (the link or the code in the message). */
  async acknowledgeByCode(code: string): Promise<WorkOrderRecord | undefined> {
    const page = await this.pageOfCode(code);
    return page && this.acknowledge(page.order.id, page.responder, `${page.channel} page`);
  }

  /** After a work order left the unanswered states by hand: no more pages for it. */
  async stopEscalation(orderId: number): Promise<void> {
    const cancelled =
      (await this.deps.jobs.cancel({ keyPrefix: `escalate:wo:${orderId}:` })) + (await this.deps.jobs.cancel({ keyPrefix: `page:wo:${orderId}:` }));
    if (cancelled > 0) await this.deps.orders.note(orderId, 'escalation_stopped', null, { jobs_cancelled: cancelled });
  }

  /** Alarms of flapping inputs that have settled: those that settled cleared are cleared now. */
  async settleFlapping(): Promise<void> {
    for (const alarm of await this.deps.alarms.settleFlapping()) {
      await this.cleared(alarm);
      this.announceAlarm(alarm);
    }
  }

  /**
   * Opens (or reopens) the order for an alarm's episode, if the policy wants one, and with
   * `escalate` starts paging for it. Undefined when the policy opens no order for this alarm.
   */
  private async openWorkOrder(alarm: AlarmRecord, { escalate }: { escalate: boolean }): Promise<WorkOrderRecord | undefined> {
    const { orders, oncall, registry, log } = this.deps;
    const policy = await orders.policyFor(alarm.site, alarm.rule);
    if (SEVERITY_RANK[alarm.severity] < SEVERITY_RANK[policy.min_severity]) return undefined;
    const device = parseHubDeviceId(alarm.source) ? await registry.getDevice(alarm.source) : undefined;
    const trade = tradeOfKind(device ? device.kind : await this.topology.kindOf(alarm));
    const team = (await oncall.teamFor(alarm.site, trade)) ?? (await oncall.teamFor(alarm.site, 'general'));
    const now = this.deps.now();
    const [primary] = team ? await oncall.resolveTargets(team.id, ['primary'], now) : [];
    const escalation = team ? await oncall.policyOf(team.id) : null;
    const priority = PRIORITY_OF_SEVERITY[alarm.severity];
    const where = device?.serves ? ` (${device.serves})` : '';
    const opened = await orders.openForAlarm({
      alarmId: alarm.id,
      alarmKey: alarmKey(alarm),
      episode: alarm.episode,
      site: alarm.site,
      device: device ? device.id : null,
      serves: device?.serves ?? null,
      trade,
      team: team?.id ?? null,
      title: `${alarm.severity.toUpperCase()} ${alarm.rule}: ${alarm.source}${where}`,
      description: alarm.message,
      priority,
      slaMs: SLA_MS[priority],
      raisedAt: alarm.raised_at,
      assignee: primary ? { id: primary.id, name: primary.name } : null,
      escalationPolicy: escalation?.id ?? null,
    });
    log.info({ alarm: alarm.id, work_order: opened.order.id, outcome: opened.kind, team: team?.id ?? null, assignee: primary?.id ?? null }, 'work order for alarm');
    this.announceOrder(opened.order);
    if (opened.kind === 'already_open' || !escalate) return opened.order;
    if (!team) log.warn({ site: alarm.site, trade }, 'no team serves this site for this trade, nor a general one: nobody is paged');
    else if (!escalation) log.warn({ team: team.id }, 'the team has no escalation policy: nobody is paged');
    else await this.enqueueStep({ order: opened.order.id, episode: opened.order.episode, round: 1, step: 1 }, now + (escalation.steps[0]?.after_minutes ?? 0) * MINUTE);
    return opened.order;
  }

  private async cleared(alarm: AlarmRecord): Promise<void> {
    const order = await this.deps.orders.openOfAlarm(alarmKey(alarm));
    if (!order) return;
    await this.deps.orders.note(order.id, 'alarm_cleared', null, { alarm: alarm.id, at: alarm.cleared_at });
    const policy = await this.deps.orders.policyFor(alarm.site, alarm.rule);
    if (!policy.resolve_on_clear) return;
    const resolved = await this.deps.orders.transition(order.id, 'resolved', null, { reason: 'the alarm cleared' });
    if (resolved.ok) {
      await this.stopEscalation(order.id);
      this.announceOrder(resolved.order);
    }
  }

  private async enqueueStep(step: StepPayload, runAt: number): Promise<void> {
    await this.deps.jobs.enqueue({ kind: STEP_JOB, key: stepKey(step), payload: step, runAt });
  }

  /** One escalation step: a page to each of its targets on each of its channels, and the next step. */
  private async runStep(job: JobRecord): Promise<JobOutcome | void> {
    const step = job.payload as unknown as StepPayload;
    const { orders, oncall } = this.deps;
    const order = await orders.get(step.order);
    if (!order || !UNANSWERED.includes(order.status) || order.episode !== step.episode || !order.team || !order.escalation_policy) return;
    const policy = await oncall.getPolicy(order.escalation_policy);
    const current = policy?.steps[step.step - 1];
    if (!policy || !current) return;
    const now = this.deps.now();
    const responders = await oncall.resolveTargets(order.team, current.targets, now);
    // Nobody to page (a rota not started yet, no manager): said, and the next step still comes.
    if (responders.length === 0) this.deps.log.warn({ work_order: order.id, team: order.team, step: step.step, targets: current.targets }, 'escalation step found nobody to page');
    await orders.note(order.id, 'escalated', null, {
      round: step.round,
      step: step.step,
      responders: responders.map((r) => r.id),
      names: responders.map((r) => r.name),
      channels: current.channels,
    });
    const pages = responders.flatMap((responder) =>
      current.channels.map((channel) => {
        const payload: PagePayload = { ...step, responder: responder.id, channel };
        return { kind: PAGE_JOB, key: pageKey(payload), payload, runAt: now };
      }),
    );
    const next = policy.steps[step.step];
    const followUp =
      next !== undefined
        ? { step: { ...step, step: step.step + 1 }, runAt: now + next.after_minutes * MINUTE }
        : step.round <= policy.repeat
          ? { step: { ...step, round: step.round + 1, step: 1 }, runAt: now + (policy.repeat_after_minutes + (policy.steps[0]?.after_minutes ?? 0)) * MINUTE }
          : undefined;
    return {
      followUps: [...pages, ...(followUp ? [{ kind: STEP_JOB, key: stepKey(followUp.step), payload: followUp.step, runAt: followUp.runAt }] : [])],
    };
  }

  /**
   * One page to one person over one channel. Its row (and its acknowledgement code) is made
   * once; a retried job finds it and sends again only if it was not delivered.
   */
  private async deliverPage(job: JobRecord): Promise<void> {
    const payload = job.payload as unknown as PagePayload;
    const { orders, oncall, db } = this.deps;
    const order = await orders.get(payload.order);
    if (!order || !UNANSWERED.includes(order.status)) return;
    const id = pageKey(payload);
    const now = this.deps.now();
    await db.query(
      `insert into pages (id, work_order_id, step, round, responder, channel, status, ack_code, created_at)
       values ($1, $2, $3, $4, $5, $6, 'pending', $7, to_timestamp($8 / 1000.0)) on conflict (id) do nothing`,
      [id, order.id, payload.step, payload.round, payload.responder, payload.channel, ackCode(), now],
    );
    const [page] = await db.query<{ status: string; ack_code: string; attempts: number }>('select status, ack_code, attempts from pages where id = $1', [id]);
    if (!page || page.status === 'delivered' || page.status === 'suppressed') return;
    const responder = await oncall.getResponder(payload.responder);
    const pagedAgo = await this.recentlyPagedForEarlierEpisode(payload, now);
    if (pagedAgo !== undefined) {
      await db.query(`update pages set status = 'suppressed' where id = $1`, [id]);
      await orders.note(order.id, 'page_suppressed', null, {
        page: id,
        responder: payload.responder,
        name: responder?.name ?? payload.responder,
        channel: payload.channel,
        reason: `paged about this order ${Math.round(pagedAgo / 1000)} s ago, before it was reopened`,
      });
      return;
    }
    const team = order.team ? await oncall.getTeam(order.team) : undefined;
    const channel = this.deps.channels.channelFor(payload.channel, team?.channels ?? []);
    const alarm = order.alarm_id === null ? undefined : await this.deps.alarms.get(order.alarm_id);
    const outcome =
      !responder || !channel
        ? { ok: false as const, retryable: false, error: !responder ? `responder "${payload.responder}" no longer exists` : `no "${payload.channel}" channel is set up` }
        : await channel.deliver(
            {
              id,
              severity: alarm?.severity ?? 'major',
              site: order.site,
              device: order.device,
              title: order.title,
              body: `${order.description}\nWork order #${order.id}, ${order.priority}, due ${new Date(order.due_at).toISOString()}.`,
              workOrderId: String(order.id),
              ackUrl: `${this.deps.publicUrl()}/api/v1/acks/${page.ack_code}`,
              ackCode: page.ack_code,
              raisedAt: alarm?.raised_at ?? order.sla_started_at,
            },
            { name: responder.name, ...(responder.email ? { email: responder.email } : {}), ...(responder.phone ? { phone: responder.phone } : {}) },
          );
    const attempts = page.attempts + 1;
    const finalAttempt = !outcome.ok && (!outcome.retryable || job.attempts >= job.max_attempts);
    const status = outcome.ok ? 'delivered' : finalAttempt ? 'failed' : 'retrying';
    await db.query(
      `update pages set status = $2, attempts = $3, last_error = $4, delivered_at = case when $2 = 'delivered' then to_timestamp($5 / 1000.0) end where id = $1`,
      [id, status, attempts, outcome.ok ? null : outcome.error, this.deps.now()],
    );
    await orders.note(order.id, outcome.ok ? 'page_delivered' : finalAttempt ? 'page_failed' : 'page_retrying', null, {
      page: id,
      responder: payload.responder,
      name: responder?.name ?? payload.responder,
      channel: payload.channel,
      attempt: attempts,
      ...(outcome.ok ? {} : { error: outcome.error }),
    });
    if (!outcome.ok && !finalAttempt) throw new Error(outcome.error);
  }

  /**
   * How long ago this responder was paged over this channel about an earlier episode of the
   * order, if within REPAGE_QUIET_MS: an alarm that clears and comes back (resolving and reopening
   * its order) must not page the same person again for every swing before it counts as flapping.
   */
  private async recentlyPagedForEarlierEpisode(page: PagePayload, now: number): Promise<number | undefined> {
    const [row] = await this.deps.db.query<{ delivered_at: number }>(
      `select ${epochMsAs('max(delivered_at)', 'delivered_at')} from pages
       where work_order_id = $1 and responder = $2 and channel = $3 and status = 'delivered' and not starts_with(id, $4)`,
      [page.order, page.responder, page.channel, `page:wo:${page.order}:e${page.episode}:`],
    );
    const ago = row?.delivered_at == null ? undefined : now - row.delivered_at;
    return ago !== undefined && ago < REPAGE_QUIET_MS ? ago : undefined;
  }

  private announceAlarm(alarm: AlarmRecord): void {
    this.deps.live.publish({ type: 'alarm', alarm });
  }

  /** Tells the live feed that an order changed (its status, or its timeline). */
  announceOrder(order: WorkOrderRecord): void {
    this.deps.live.publish({ type: 'work_order', work_order: order });
  }
}

/** One open work order per alarm key: the site, the source and the rule. */
export const alarmKey = (alarm: Pick<AlarmRecord, 'site' | 'source' | 'rule'>) => `${alarm.site}/${alarm.source}/${alarm.rule}`;

const groupKey = (alarm: Pick<AlarmRecord, 'id' | 'episode'>) => `group:alarm:${alarm.id}:e${alarm.episode}`;
const stepKey = (step: StepPayload) => `escalate:wo:${step.order}:e${step.episode}:r${step.round}:s${step.step}`;
const pageKey = (page: PagePayload) => `page:wo:${page.order}:e${page.episode}:r${page.round}:s${page.step}:${page.responder}:${page.channel}`;

/** Ten characters of an unambiguous alphabet (about 50 bits): short enough to type from an SMS. */
function ackCode(): string {
  const alphabet = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
  return [...randomBytes(10)].map((byte) => alphabet[byte % alphabet.length]).join('');
}
