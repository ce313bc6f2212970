import type { AlarmBook, AlarmRecord } from '../src/alarms/alarm-book.js';
import { SLA_MS } from '../src/work-orders/lifecycle.js';
import type { NewWorkOrder } from '../src/work-orders/work-order-book.js';

/** A major over-voltage alarm raised at `ts` at a meter of tower-a's gw-01 (a rule of its own, if given). */
export async function raiseMeterAlarm(alarms: AlarmBook, meter: string, ts: number, rule = 'over_voltage'): Promise<AlarmRecord> {
  const outcome = await alarms.apply({
    site: 'tower-a',
    gateway: 'gw-01',
    source: `tower-a.gw-01.${meter}`,
    rule,
    state: 'raised',
    severity: 'major',
    ts,
    message: 'L1 over 250 V',
  });
  if (outcome.kind !== 'raised') throw new Error(`no alarm raised: ${outcome.kind}`);
  return outcome.alarm;
}

/** The work order the desk would open for an electrician's alarm, nobody assigned; `more` changes fields. */
export const orderFor = (alarm: AlarmRecord, more: Partial<NewWorkOrder> = {}): NewWorkOrder => ({
  alarmId: alarm.id,
  alarmKey: `${alarm.site}/${alarm.source}/${alarm.rule}`,
  episode: alarm.episode,
  site: alarm.site,
  device: alarm.source,
  serves: null,
  trade: 'electrical',
  team: null,
  title: `${alarm.severity.toUpperCase()} ${alarm.rule}: ${alarm.source}`,
  description: alarm.message,
  priority: 'P2',
  slaMs: SLA_MS.P2,
  raisedAt: alarm.raised_at,
  assignee: null,
  escalationPolicy: null,
  ...more,
});
