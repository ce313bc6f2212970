/** The shapes of the hub's API the dashboard reads (see /api/v1/openapi.json). */
export interface Device {
  id: string;
  site: string;
  gateway: string;
  device: string;
  kind: string | null;
  profile: string | null;
  comm: { status: string; reason: string | null; last_good_read: number | null };
  gateway_state: string;
  last_seen: number | null;
}

export interface Reading {
  device: string;
  point: string;
  value: number | boolean | string | null;
  quality: 'good' | 'bad' | 'uncertain';
  ts: number;
}

export interface PointInfo {
  type: string;
  unit: string;
  description: string;
}

export type Catalogue = Record<string, Record<string, PointInfo>>;

export type Severity = 'critical' | 'major' | 'minor' | 'warning';

/** An alarm raised by a gateway's rule (or by the hub, for a gateway or a bus gone offline). */
export interface Alarm {
  id: number;
  site: string;
  source: string;
  rule: string;
  severity: Severity;
  state: 'active' | 'cleared';
  acknowledged: boolean;
  acknowledged_by: string | null;
  acknowledged_at: number | null;
  message: string;
  raised_at: number;
  cleared_at: number | null;
  flapping: boolean;
  shelved_until: number | null;
  /** The gateway's or bus's alarm that pages for this one. */
  parent_id: number | null;
}

export type WorkOrderStatus = 'open' | 'assigned' | 'acknowledged' | 'in_progress' | 'on_hold' | 'resolved' | 'closed' | 'cancelled';

/** Statuses of an order still being worked; resolved, closed and cancelled ones are done. */
export const UNFINISHED: readonly WorkOrderStatus[] = ['open', 'assigned', 'acknowledged', 'in_progress', 'on_hold'];
/** Statuses of an order nobody has acknowledged yet: the hub is still paging. */
export const UNANSWERED: readonly WorkOrderStatus[] = ['open', 'assigned'];

export type Priority = 'P1' | 'P2' | 'P3' | 'P4';

export interface WorkOrder {
  id: number;
  alarm_id: number | null;
  title: string;
  description: string;
  site: string;
  device: string | null;
  /** The unit, room or plant the device serves. */
  serves: string | null;
  trade: string;
  team: string | null;
  priority: Priority;
  status: WorkOrderStatus;
  /** The responder's id, and their name to show. */
  assignee: string | null;
  assignee_name: string | null;
  /** The order this one follows: its fault came back after that one was closed or cancelled. */
  reopened_from: number | null;
  due_at: number;
  created_at: number;
  updated_at: number;
}

/** One line of a work order's history; what `detail` holds depends on `kind`. */
export interface TimelineEntry {
  at: number;
  kind: string;
  /** Who did it; null when the hub did (the on-call schedule, escalation, the alarm). */
  actor: string | null;
  detail: Record<string, unknown>;
}

/** One page to one responder over one channel, for one escalation step. */
export interface Page {
  id: string;
  step: number;
  round: number;
  responder: string;
  /** Their name, or the id of a responder since removed. */
  responder_name: string;
  channel: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

export interface WorkOrderDetail {
  work_order: WorkOrder;
  timeline: TimelineEntry[];
  pages: Page[];
  /** Where the order may go from its status, as the hub's lifecycle says. */
  legal_moves: WorkOrderStatus[];
}

export type LiveMessage =
  | { type: 'hello' }
  | { type: 'readings'; readings: Reading[] }
  | { type: 'device'; device: Device }
  | { type: 'alarm'; alarm: Alarm }
  | { type: 'work_order'; work_order: WorkOrder };

/** The API answered 401: the session is missing or over, and the person must log in. */
export class LoggedOut extends Error {
  override name = 'LoggedOut';
}

/** The hub's own words for a refusal (`{"error": {"message": …}}`), or the HTTP status. */
async function problemOf(response: Response): Promise<string> {
  const body = (await response.json().catch(() => ({}))) as { error?: { message?: string } };
  return body.error?.message ?? `HTTP ${response.status}`;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  // The session travels in the hub's httpOnly cookie, which the page itself cannot read.
  const response = await fetch(path, { credentials: 'same-origin', ...init });
  if (response.status === 401) throw new LoggedOut(path);
  if (!response.ok) throw new Error(`${path}: ${await problemOf(response)}`);
  return (await response.json()) as T;
}

export interface Me {
  name: string;
  role: string;
  sites: string[];
}

/**
 * Whether this person may acknowledge alarms and move work orders on and comment on them: the
 * roles the hub's alarm and work-order routes let write (docs/api-access.md). Viewers only read.
 */
export const canWrite = (me: Me) => ['admin', 'engineer', 'technician'].includes(me.role);

/** Who is logged in, or undefined when nobody is. */
export async function fetchMe(): Promise<Me | undefined> {
  try {
    return await call<Me>('/api/v1/auth/me');
  } catch (error) {
    if (error instanceof LoggedOut) return undefined;
    throw error;
  }
}

/** Logs in; the hub sets the session cookie. Returns the hub's message when refused. */
export async function logIn(username: string, password: string): Promise<{ ok: true } | { ok: false; message: string }> {
  const response = await fetch('/api/v1/auth/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return response.ok ? { ok: true } : { ok: false, message: await problemOf(response) };
}

export const fetchDevices = () => call<{ devices: Device[] }>('/api/v1/devices').then((body) => body.devices);
export const fetchCatalogue = () => call<{ kinds: Catalogue }>('/api/v1/catalogue').then((body) => body.kinds);
export const fetchLatest = (id: string) =>
  call<{ readings: Array<Omit<Reading, 'device'>> }>(`/api/v1/devices/${encodeURIComponent(id)}/latest`).then((body) =>
    body.readings.map((reading) => ({ ...reading, device: id })),
  );

/** The API's largest page: the dashboard shows at most this many active alarms, and orders of each status. */
const MOST = 1000;

export const fetchActiveAlarms = () => call<{ alarms: Alarm[] }>(`/api/v1/alarms?state=active&limit=${MOST}`).then((body) => body.alarms);

/** Unfinished work orders; the API filters on one status at a time. */
export const fetchUnfinishedWorkOrders = () =>
  Promise.all(UNFINISHED.map((status) => call<{ work_orders: WorkOrder[] }>(`/api/v1/work-orders?status=${status}&limit=${MOST}`))).then((bodies) =>
    bodies.flatMap((body) => body.work_orders),
  );

/** Acknowledges an alarm; the hub acknowledges its work order too, and stops paging. */
export const acknowledgeAlarm = (id: number) => call<{ alarm: Alarm }>(`/api/v1/alarms/${id}/ack`, { method: 'POST' }).then((body) => body.alarm);

/** One work order with its timeline and the pages sent for it. */
export const fetchWorkOrder = (id: number) => call<WorkOrderDetail>(`/api/v1/work-orders/${id}`);

const postJson = <T>(path: string, body: unknown) =>
  call<T>(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** Moves a work order on; an illegal move is refused (409) with the moves that are legal. */
export const moveWorkOrder = (id: number, to: WorkOrderStatus, note?: string) =>
  postJson<{ work_order: WorkOrder }>(`/api/v1/work-orders/${id}/transition`, note ? { to, note } : { to }).then((body) => body.work_order);

/** Acknowledges a work order; the hub acknowledges its alarm too, and stops paging. */
export const acknowledgeWorkOrder = (id: number) => moveWorkOrder(id, 'acknowledged');

export const commentOnWorkOrder = (id: number, text: string) => postJson<{ ok: true }>(`/api/v1/work-orders/${id}/comments`, { text });
