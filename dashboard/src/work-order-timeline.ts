import type { TimelineEntry } from './api.js';
import { formatTime, words } from './format.js';

/**
 * A work order's timeline entry in words. The kinds and what their `detail` holds are written by
 * the hub's work-order book (created, assigned, status, reopened, alarm_raised_again), its alarm
 * desk (escalation, pages, the alarm's news) and the comments route.
 */

/** A detail value as text: the hub writes strings, numbers, and lists of strings. */
function say(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(say).join(', ');
  return value === null || value === undefined ? '' : JSON.stringify(value);
}

/** `s` when a count is not one. */
const plural = (count: unknown) => (Number(count) === 1 ? '' : 's');

export function timelineWords({ kind, detail: d }: TimelineEntry): string {
  const page = `Page to ${say(d.name ?? d.responder)} by ${say(d.channel)}`;
  switch (kind) {
    case 'created':
      return `Opened for alarm #${say(d.alarm)}${d.reopened_from ? `, following order #${say(d.reopened_from)} (its fault came back after it was finished)` : ''}`;
    case 'assigned':
      return `Assigned to ${say(d.name ?? d.assignee)}${d.by ? ` by the ${say(d.by)}` : ''}`;
    case 'escalated':
      return `Escalation step ${say(d.step)}, round ${say(d.round)}: paging ${say(d.names ?? d.responders) || 'nobody'} by ${say(d.channels)}`;
    case 'page_delivered':
      return `${page} delivered${Number(d.attempt) > 1 ? ` on attempt ${say(d.attempt)}` : ''}`;
    case 'page_retrying':
      return `${page} failed on attempt ${say(d.attempt)}, trying again: ${say(d.error)}`;
    case 'page_failed':
      return `${page} failed for good on attempt ${say(d.attempt)}: ${say(d.error)}`;
    case 'page_suppressed':
      return `${page} not sent: ${say(d.reason)}`;
    case 'status': {
      // `via` comes with an acknowledgement, `reason` with a move the hub made, `note` with a person's.
      const why = [d.via && `via ${say(d.via)}`, d.reason && say(d.reason)].filter(Boolean).join(', ');
      return `Moved from ${words(say(d.from))} to ${words(say(d.to))}${why ? ` (${why})` : ''}${d.note ? `: ${say(d.note)}` : ''}`;
    }
    case 'alarm_cleared':
      return `Alarm #${say(d.alarm)} cleared${typeof d.at === 'number' ? ` at ${formatTime(d.at)}` : ''}`;
    case 'alarm_raised_again':
      return `The alarm was raised again while the order was open (episode ${say(d.episode)})`;
    case 'reopened':
      return `Reopened: ${say(d.reason)} (episode ${say(d.episode)})`;
    case 'alarm_flapping':
      return `Alarm #${say(d.alarm)} is flapping: it is held active and nobody is paged for it`;
    case 'alarm_grouped_under':
      return `Its alarm is now part of ${say(d.source)}'s${d.work_order ? ` (work order #${say(d.work_order)})` : ''}: no more pages for it here`;
    case 'alarm_grouped':
      return `${say(d.source)} stopped answering too (alarm #${say(d.alarm)}): grouped under this order, not paged on its own`;
    case 'escalation_stopped':
      return `Escalation stopped: ${say(d.jobs_cancelled)} pending page${plural(d.jobs_cancelled)} or step${plural(d.jobs_cancelled)} cancelled`;
    case 'comment':
      return say(d.text);
    default: {
      // A kind this page does not know yet: its name and whatever it holds.
      const held = Object.entries(d).map(([key, value]) => `${words(key)}: ${say(value)}`);
      return `${words(kind)}${held.length > 0 ? ` (${held.join('; ')})` : ''}`;
    }
  }
}
