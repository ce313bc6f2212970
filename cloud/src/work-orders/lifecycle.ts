import type { Severity } from '@gatehouse/protocols';

export const WORK_ORDER_STATUSES = ['open', 'assigned', 'acknowledged', 'in_progress', 'on_hold', 'resolved', 'closed', 'cancelled'] as const;
export type WorkOrderStatus = (typeof WORK_ORDER_STATUSES)[number];

/**
 * The legal moves of a work order. `resolved → assigned` is a reopening (the fault came back
 * before the order was closed); closed and cancelled orders are final, and a fault that comes
 * back after them gets a new order that refers to the old one.
 */
export const LEGAL_TRANSITIONS: Readonly<Record<WorkOrderStatus, readonly WorkOrderStatus[]>> = {
  open: ['assigned', 'acknowledged', 'resolved', 'cancelled'],
  assigned: ['open', 'acknowledged', 'resolved', 'cancelled'],
  acknowledged: ['in_progress', 'on_hold', 'resolved', 'cancelled'],
  in_progress: ['on_hold', 'resolved', 'cancelled'],
  on_hold: ['in_progress', 'cancelled'],
  resolved: ['closed', 'assigned'],
  closed: [],
  cancelled: [],
};

/** Statuses in which an order still counts as open for its alarm (one at a time per alarm). */
export const FINISHED: readonly WorkOrderStatus[] = ['resolved', 'closed', 'cancelled'];

/** Statuses in which nobody has answered yet: escalation goes on. */
export const UNANSWERED: readonly WorkOrderStatus[] = ['open', 'assigned'];

export function isLegal(from: WorkOrderStatus, to: WorkOrderStatus): boolean {
  return LEGAL_TRANSITIONS[from].includes(to);
}

export type Priority = 'P1' | 'P2' | 'P3' | 'P4';

export const PRIORITY_OF_SEVERITY: Readonly<Record<Severity, Priority>> = { critical: 'P1', major: 'P2', minor: 'P3', warning: 'P4' };

/** How long each priority may take from the alarm to resolution. */
export const SLA_MS: Readonly<Record<Priority, number>> = {
  P1: 4 * 3_600_000,
  P2: 24 * 3_600_000,
  P3: 3 * 86_400_000,
  P4: 7 * 86_400_000,
};

export const SEVERITY_RANK: Readonly<Record<Severity, number>> = { warning: 0, minor: 1, major: 2, critical: 3 };

export interface SlaClock {
  startedAt: number;
  slaMs: number;
  pausedMs: number;
  onHoldSince: number | null;
}

/**
 * When the order is due: the SLA runs from the alarm, and stands still while the order is on
 * hold (waiting for a part, for the tenant to be home), so the due time moves by the pause.
 */
export function dueAt(clock: SlaClock, now: number): number {
  const pausedNow = clock.onHoldSince === null ? 0 : Math.max(0, now - clock.onHoldSince);
  return clock.startedAt + clock.slaMs + clock.pausedMs + pausedNow;
}
