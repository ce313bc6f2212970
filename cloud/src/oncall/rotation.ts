import { DateTime } from 'luxon';
import type { Layer, Override, Schedule } from './model.js';

/** Who is on call in a schedule at one instant: responder ids, or null when nobody is. */
export interface OnCallNow {
  primary: string | null;
  secondary: string | null;
}

export type Rotation = Pick<Schedule, 'time_zone' | 'rotation' | 'handoff_time' | 'handoff_weekday' | 'start_date' | 'responders' | 'secondary_responders'>;
export type Cover = Pick<Override, 'layer' | 'responder' | 'from' | 'to'>;

/**
 * Who is on call at `at` (ms since the epoch). Shifts hand off at `handoff_time` on the local
 * wall clock of the schedule's zone, every day or every week on `handoff_weekday`, so a shift
 * that spans a DST change is an hour shorter or longer. A hand-off time that a change skips
 * (02:30 on a spring-forward night) happens when the clock resumes (03:30); one that happens
 * twice happens the second time, in standard time (luxon's reading of the local time).
 *
 * The first shift, responders[0]'s, starts on `start_date` at the hand-off time; a weekly
 * schedule starting on another weekday has a short first shift. Before that nobody is on call
 * unless an override says so. The secondary is the next in the rotation, or the shift's
 * responder of `secondary_responders` when the schedule has a rotation of its own for it.
 *
 * An override covering `at` ([from, to)) replaces its layer's responder; of several, the last
 * in `overrides` wins (the store lists them in the order they were made).
 */
export function onCallAt(schedule: Rotation, overrides: readonly Cover[], at: number): OnCallNow {
  const shift = shiftAt(schedule, at);
  const secondaries = schedule.secondary_responders ?? (schedule.responders.length > 1 ? schedule.responders : null);
  const secondaryOffset = schedule.secondary_responders ? 0 : 1;
  const scheduled: OnCallNow = {
    primary: shift === null ? null : pick(schedule.responders, shift),
    secondary: shift === null || secondaries === null ? null : pick(secondaries, shift + secondaryOffset),
  };
  return { primary: coverOf(overrides, 'primary', at) ?? scheduled.primary, secondary: coverOf(overrides, 'secondary', at) ?? scheduled.secondary };
}

const pick = (rotation: readonly string[], shift: number) => rotation[shift % rotation.length] ?? null;

const coverOf = (overrides: readonly Cover[], layer: Layer, at: number) =>
  overrides.findLast((cover) => cover.layer === layer && cover.from <= at && at < cover.to)?.responder;

/** The number of hand-offs since the schedule started, or null before it has. */
function shiftAt(schedule: Rotation, at: number): number | null {
  const handoffOn = (date: DateTime) => handoffInstant(schedule, date);
  const start = calendarDate(schedule.start_date);
  if (at < handoffOn(start)) return null;

  const local = DateTime.fromMillis(at, { zone: schedule.time_zone });
  const today = calendarDate(local.toISODate()!);
  const period = schedule.rotation === 'weekly' ? 7 : 1;
  // The latest hand-off day on or before today, then back one period if today's is still to come.
  const sinceHandoffDay = schedule.rotation === 'weekly' ? (local.weekday - schedule.handoff_weekday! + 7) % 7 : 0;
  let lastHandoff = today.minus({ days: sinceHandoffDay });
  if (handoffOn(lastHandoff) > at) lastHandoff = lastHandoff.minus({ days: period });

  const days = lastHandoff.diff(start, 'days').days;
  if (days <= 0) return 0;
  // Hand-off days after the start, up to and including the last one: a weekly start date that
  // is not a hand-off weekday begins with a short shift of its own.
  return Math.floor((days - 1) / period) + 1;
}

/** A local date as midnight UTC, so that counting days between two of them ignores DST. */
const calendarDate = (isoDate: string) => DateTime.fromISO(isoDate, { zone: 'utc' });

function handoffInstant(schedule: Rotation, date: DateTime): number {
  const [hour, minute] = schedule.handoff_time.split(':').map(Number);
  return DateTime.fromObject({ year: date.year, month: date.month, day: date.day, hour, minute }, { zone: schedule.time_zone }).toMillis();
}
