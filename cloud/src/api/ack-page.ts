import escapeHtml from 'escape-html';
import type { WorkOrderRecord } from '../work-orders/work-order-book.js';

/**
 * The pages a technician sees on a phone after following a page's link: the work order the
 * page was about and a button that acknowledges it, then what became of it. Plain HTML with no
 * script, so that it works in any mail app's browser.
 */

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
  `<title>Gatehouse: ${escapeHtml(title)}</title>` +
  `<style>body{font:16px/1.4 system-ui,sans-serif;margin:1.5rem;max-width:32rem}dt{color:#555;font-size:.85rem}dd{margin:0 0 .6rem}` +
  `button{font-size:1.1rem;padding:.7rem 1.4rem}.done{color:#1a7f37}</style>` +
  `<body>${body}</body></html>`;

function describeOrder(order: WorkOrderRecord): string {
  const rows: Array<[string, string | null]> = [
    ['Work order', `#${order.id} · ${order.priority} · ${order.status.replaceAll('_', ' ')}`],
    ['Alarm', order.title],
    ['What happened', order.description],
    ['Where', [order.site, order.serves].filter(Boolean).join(' · ')],
    ['Assigned to', order.assignee_name ?? order.assignee],
    ['Due', new Date(order.due_at).toISOString().replace('T', ' ').slice(0, 16) + ' UTC'],
  ];
  return `<dl>${rows
    .filter(([, value]) => value)
    .map(([label, value]) => `<dt>${escapeHtml(label)}</dt><dd>${escapeHtml(value)}</dd>`)
    .join('')}</dl>`;
}

/** The link's page: the order, and the form whose POST acknowledges (a GET changes nothing). */
export function ackForm(code: string, order: WorkOrderRecord, recipient: string): string {
  return page(
    `acknowledge work order #${order.id}`,
    `<h1>Page for ${escapeHtml(recipient)}</h1>${describeOrder(order)}` +
      `<form method="post" action="/api/v1/acks/${escapeHtml(code)}"><p>Acknowledge it? Escalation stops and the work order is yours.</p>` +
      `<button type="submit">Acknowledge</button></form>`,
  );
}

/** After the button: the order as it now stands. */
export function ackDone(order: WorkOrderRecord): string {
  return page(`work order #${order.id} acknowledged`, `<h1 class="done">Acknowledged</h1><p>Nobody else will be paged about it.</p>${describeOrder(order)}`);
}

export function ackUnknown(): string {
  return page('unknown code', '<h1>No page has this code</h1><p>Check it against the message you received.</p>');
}
