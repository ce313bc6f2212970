import { commentOnWorkOrder, fetchWorkOrder, moveWorkOrder, type Page, type TimelineEntry, type WorkOrder, type WorkOrderDetail as Detail } from './api.js';
import { badge, element, statusBadge } from './elements.js';
import { formatDue, formatTime } from './format.js';
import { problemText } from './live-table.js';
import { moveLabel } from './work-order-moves.js';
import { timelineWords } from './work-order-timeline.js';

/**
 * One work order in a dialog: its fields, its timeline, the pages sent for it, the moves it may
 * make next and a box for a comment. It is fetched again whenever the live feed brings the order,
 * since the feed carries the order but not its timeline.
 */

/** A field of the order: its label, and its value (undefined: not shown at all). */
const FIELDS: Array<[name: string, label: string, value: (order: WorkOrder) => string | Node | undefined]> = [
  ['status', 'Status', (order) => statusBadge(order.status)],
  ['priority', 'Priority', (order) => badge('priority', order.priority)],
  ['description', 'Description', (order) => order.description],
  ['site', 'Site', (order) => order.site],
  ['device', 'Device', (order) => order.device ?? '—'],
  ['serves', 'Serves', (order) => order.serves ?? '—'],
  ['trade', 'Trade', (order) => order.trade],
  ['team', 'Team', (order) => order.team ?? '—'],
  ['assignee', 'Assignee', (order) => order.assignee_name ?? order.assignee ?? 'nobody'],
  ['due', 'SLA due', (order) => formatDue(order.due_at, Date.now())],
  ['created', 'Created', (order) => formatTime(order.created_at)],
  ['reopened-from', 'Follows', (order) => (order.reopened_from === null ? undefined : `work order #${order.reopened_from}`)],
];

const PAGE_COLUMNS: Array<[name: string, heading: string, cell: (page: Page) => string]> = [
  ['responder', 'Responder', (page) => page.responder_name],
  ['channel', 'Channel', (page) => page.channel],
  ['step', 'Step', (page) => `step ${page.step}, round ${page.round}`],
  ['status', 'Status', (page) => page.status],
  ['attempts', 'Attempts', (page) => String(page.attempts)],
  ['error', 'Last error', (page) => page.last_error ?? ''],
];

export interface WorkOrderDetail {
  open(id: number): void;
  /** An order from the live feed or the board: the open one is fetched again. */
  workOrder(order: WorkOrder): void;
  /** Fetches the open order again, after the live feed reconnects. */
  reload(): void;
}

export interface WorkOrderDetailOptions {
  /** Whether the person may move orders on and comment; a viewer only reads. */
  canWrite: boolean;
  /** The order as the hub answered a move: the board shows it at once. */
  moved: (order: WorkOrder) => void;
}

export function startWorkOrderDetail(dialog: HTMLDialogElement, { canWrite, moved }: WorkOrderDetailOptions): WorkOrderDetail {
  const part = <T extends HTMLElement>(selector: string) => dialog.querySelector<T>(selector)!;
  const title = part('.title');
  const problem = part('.problem');
  const fields = part('dl.fields');
  const moves = part('.moves');
  const form = part<HTMLFormElement>('form.comment');
  const text = part<HTMLTextAreaElement>('textarea');
  const timeline = part('ol.timeline');
  const pagesTable = part<HTMLTableElement>('table.pages');
  const headings = element('tr');
  for (const [name, heading] of PAGE_COLUMNS) headings.append(element('th', name, heading));
  pagesTable.createTHead().append(headings);
  const pages = pagesTable.createTBody();
  const noPages = part('.no-pages');
  part('.read-only').hidden = canWrite;
  moves.hidden = !canWrite;
  form.hidden = !canWrite;

  /** The order shown, and the latest fetch of it: an answer to an older one is dropped. */
  let shown: number | undefined;
  let fetches = 0;
  /** A move or a comment in flight: the buttons wait for it. */
  let busy = false;
  /**
   * Whether the problem shown is that the order could not be fetched, which the next fetch clears;
   * a refusal of a move or a comment stays until the next one.
   */
  let loadFailed = false;

  const showProblem = (message: string, ofLoading: boolean) => {
    problem.textContent = message;
    loadFailed = ofLoading;
  };

  const refresh = async () => {
    const id = shown;
    if (id === undefined) return;
    const mine = ++fetches;
    try {
      const detail = await fetchWorkOrder(id);
      if (mine !== fetches || id !== shown) return;
      render(detail);
      if (loadFailed) showProblem('', false);
    } catch (error) {
      if (mine === fetches) showProblem(`Cannot load work order #${id}: ${problemText(error)}`, true);
    }
  };

  /** Sends a move or a comment, shows the hub's refusal if any, and fetches the order again. */
  const act = async (what: string, send: () => Promise<unknown>) => {
    busy = true;
    setBusy();
    showProblem('', false);
    try {
      await send();
      text.value = '';
    } catch (error) {
      showProblem(`Cannot ${what}: ${problemText(error)}`, false);
    } finally {
      busy = false;
      setBusy();
    }
    await refresh();
  };

  const setBusy = () => {
    for (const button of dialog.querySelectorAll<HTMLButtonElement>('.moves button, form.comment button')) button.disabled = busy;
  };

  const render = ({ work_order: order, timeline: entries, pages: sent, legal_moves: legal }: Detail) => {
    title.textContent = `#${order.id} ${order.title}`;
    dialog.dataset.status = order.status;
    fields.replaceChildren(
      ...FIELDS.flatMap(([name, label, value]) => {
        const shownValue = value(order);
        if (shownValue === undefined) return [];
        const dd = element('dd');
        dd.dataset.field = name;
        dd.append(shownValue);
        return [element('dt', '', label), dd];
      }),
    );
    moves.replaceChildren(
      ...legal.map((to) => {
        const label = moveLabel(order.status, to);
        const button = element('button', '', label);
        button.type = 'button';
        button.dataset.to = to;
        button.disabled = busy;
        button.addEventListener('click', () => void act(label.toLowerCase(), async () => moved(await moveWorkOrder(order.id, to, text.value.trim()))));
        return button;
      }),
    );
    timeline.replaceChildren(...entries.map(timelineItem));
    pages.replaceChildren(...sent.map(pageRow));
    noPages.hidden = sent.length > 0;
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = shown;
    const comment = text.value.trim();
    if (id !== undefined && comment) void act('add the comment', () => commentOnWorkOrder(id, comment));
  });
  part('button.close').addEventListener('click', () => dialog.close());
  dialog.addEventListener('close', () => {
    shown = undefined;
    fetches++;
  });

  return {
    open: (id) => {
      if (shown !== id) {
        shown = id;
        title.textContent = `Work order #${id}`;
        showProblem('', false);
        text.value = '';
        for (const list of [fields, moves, timeline, pages]) list.replaceChildren();
      }
      if (!dialog.open) dialog.showModal();
      void refresh();
    },
    workOrder: (order) => {
      if (order.id === shown) void refresh();
    },
    reload: () => void refresh(),
  };
}

function timelineItem(entry: TimelineEntry): HTMLLIElement {
  const item = element('li');
  item.dataset.kind = entry.kind;
  const at = element('time', '', formatTime(entry.at));
  at.dateTime = new Date(entry.at).toISOString();
  item.append(at, element('span', 'what', timelineWords(entry)), element('span', 'actor', entry.actor ?? ''));
  return item;
}

function pageRow(page: Page): HTMLTableRowElement {
  const row = element('tr');
  row.dataset.status = page.status;
  for (const [name, , cell] of PAGE_COLUMNS) row.append(element('td', name, cell(page)));
  return row;
}

