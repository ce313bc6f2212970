import {
  acknowledgeAlarm,
  acknowledgeWorkOrder,
  fetchActiveAlarms,
  fetchUnfinishedWorkOrders,
  UNANSWERED,
  UNFINISHED,
  type Alarm,
  type Severity,
  type WorkOrder,
} from './api.js';
import { badge, statusBadge } from './elements.js';
import { formatDue, formatTime } from './format.js';
import { LiveTable, problemText } from './live-table.js';

/**
 * The two panels above the devices: the active alarms of the caller's sites and the work orders
 * still being worked, each with an Acknowledge button while nobody has answered (for those who may
 * acknowledge); a work order's row opens its detail.
 */

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, major: 1, minor: 2, warning: 3 };

/** What sets an alarm apart from a plain active one: who acknowledged it, flapping, shelved. */
function alarmFlags(alarm: Alarm): Node {
  const flags = document.createDocumentFragment();
  if (alarm.acknowledged) flags.append(badge('flag', 'acknowledged', `acknowledged${alarm.acknowledged_by ? ` by ${alarm.acknowledged_by}` : ''}`));
  if (alarm.flapping) flags.append(badge('flag', 'flapping'));
  // A device behind a gateway or bus that is down: that alarm pages for it.
  if (alarm.parent_id !== null) flags.append(badge('flag', 'grouped', 'grouped'));
  if (alarm.shelved_until !== null && alarm.shelved_until > Date.now()) flags.append(badge('flag', 'shelved', `shelved until ${formatTime(alarm.shelved_until)}`));
  return flags;
}

export interface AlarmBoard {
  /** Fetches both lists afresh: on start, and after the live feed reconnects. */
  load(): Promise<void>;
  alarm(alarm: Alarm): void;
  workOrder(order: WorkOrder): void;
}

export interface AlarmBoardOptions {
  /** Whether the person may acknowledge; a viewer gets no Acknowledge buttons. */
  canWrite: boolean;
  /** Opens a work order's detail. */
  openOrder: (order: WorkOrder) => void;
}

export function startAlarmBoard(alarmsPanel: HTMLElement, ordersPanel: HTMLElement, { canWrite, openOrder }: AlarmBoardOptions): AlarmBoard {
  const alarms = new LiveTable<Alarm>(alarmsPanel, {
    columns: [
      { name: 'severity', heading: 'Severity', cell: (alarm) => badge('severity', alarm.severity) },
      { name: 'rule', heading: 'Rule', cell: (alarm) => alarm.rule },
      { name: 'source', heading: 'Source', cell: (alarm) => alarm.source },
      { name: 'message', heading: 'Message', cell: (alarm) => alarm.message },
      { name: 'raised', heading: 'Raised', cell: (alarm) => formatTime(alarm.raised_at) },
      { name: 'flags', heading: '', cell: alarmFlags },
    ],
    belongs: (alarm) => alarm.state === 'active',
    order: (a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || b.raised_at - a.raised_at,
    changedAt: (alarm) => Math.max(alarm.raised_at, alarm.acknowledged_at ?? 0, alarm.cleared_at ?? 0),
    acknowledge: { needed: (alarm) => canWrite && !alarm.acknowledged, run: (alarm) => acknowledgeAlarm(alarm.id) },
    empty: 'No active alarms.',
  });

  const orders = new LiveTable<WorkOrder>(ordersPanel, {
    columns: [
      { name: 'id', heading: '#', cell: (order) => String(order.id) },
      { name: 'priority', heading: 'Priority', cell: (order) => badge('priority', order.priority) },
      { name: 'title', heading: 'Title', cell: (order) => order.title },
      { name: 'status', heading: 'Status', cell: (order) => statusBadge(order.status) },
      { name: 'assignee', heading: 'Assignee', cell: (order) => order.assignee_name ?? order.assignee ?? 'nobody' },
      { name: 'due', heading: 'SLA due', cell: (order) => formatDue(order.due_at, Date.now()) },
    ],
    belongs: (order) => UNFINISHED.includes(order.status),
    order: (a, b) => a.priority.localeCompare(b.priority) || a.due_at - b.due_at,
    changedAt: (order) => order.updated_at,
    acknowledge: {
      needed: (order) => canWrite && UNANSWERED.includes(order.status),
      // The hub acknowledges the order's alarm too, and announces both on the live feed.
      run: (order) => acknowledgeWorkOrder(order.id),
    },
    details: openOrder,
    empty: 'No open work orders.',
  });

  /** Fetches one list into its table, or says in the panel why it cannot. */
  const fill = async <T extends { id: number }>(table: LiveTable<T>, what: string, fetchList: () => Promise<T[]>) => {
    try {
      table.replaceAll(await fetchList());
      table.showProblem();
    } catch (error) {
      table.showProblem(`Cannot load ${what}: ${problemText(error)}`);
    }
  };

  return {
    load: async () => {
      await Promise.all([fill(alarms, 'the alarms', fetchActiveAlarms), fill(orders, 'the work orders', fetchUnfinishedWorkOrders)]);
    },
    alarm: (alarm) => alarms.update(alarm),
    workOrder: (order) => orders.update(order),
  };
}
