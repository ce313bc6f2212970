import type { OnCall } from '@gatehouse/cloud';
import type { TestHub } from './hub.js';

export interface EscalationStep {
  after_minutes: number;
  targets: string[];
  channels: string[];
}

/**
 * The lift contractor's team at tower-a, as an administrator sets it up: Li Wei on call, Zhang
 * Min his secondary, Chen Jie their manager, on a weekly rota handed over Mondays 09:00 Shanghai
 * time. The rota started on a Monday long past, so that Li Wei is on call whatever the time of
 * day a test runs (a rota starting today begins only at today's 09:00 in Shanghai). It escalates
 * by `steps`, once round.
 */
export async function createLiftTeam(hub: TestHub, { steps }: { steps: EscalationStep[] }): Promise<void> {
  const create = async (path: string, body: unknown) => {
    const { status, body: answer } = await hub.call('POST', path, body);
    if (status !== 201) throw new Error(`POST ${path}: ${status} ${JSON.stringify(answer)}`);
  };
  await create('/api/v1/teams', { id: 'lifts', name: 'Lift contractor', trade: 'elevator', sites: ['tower-a'], contractor: 'Shenzhen Lift Service', channels: [] });
  for (const [id, name, role] of [
    ['li-wei', 'Li Wei', 'technician'],
    ['zhang-min', 'Zhang Min', 'technician'],
    ['chen-jie', 'Chen Jie', 'manager'],
  ] as const) {
    await create('/api/v1/teams/lifts/responders', { id, name, role, user_id: null, email: `${id}@lift.example`, phone: null });
  }
  await create('/api/v1/schedules', {
    id: 'lifts-rota',
    team: 'lifts',
    name: 'Lift call-out',
    time_zone: 'Asia/Shanghai',
    rotation: 'weekly',
    handoff_time: '09:00',
    handoff_weekday: 1,
    start_date: '2025-01-06',
    responders: ['li-wei'],
    secondary_responders: ['zhang-min'],
  });
  await create('/api/v1/escalation-policies', { id: 'lifts-urgent', team: 'lifts', steps, repeat: 0, repeat_after_minutes: 10 });
}

/**
 * A team of `trade` at `site` in the on-call store itself, with one technician always on call
 * (a daily rota of one) and a policy of one step: page them over the webhook at once.
 */
/** What of the on-call store a team is made with (structural: the hub's own tests pass theirs). */
type OnCallWriter = Pick<OnCall, 'createTeam' | 'createResponder' | 'createSchedule' | 'createPolicy'>;

export async function seedOneStepTeam(oncall: OnCallWriter, site: string, team: string, trade: Parameters<OnCall['createTeam']>[0]['trade']): Promise<void> {
  await oncall.createTeam({ id: team, name: team, trade, sites: [site], contractor: null, channels: [] });
  await oncall.createResponder({ id: `${team}-tech`, team, name: `${team} technician`, user_id: null, email: `${team}@example.com`, phone: null, role: 'technician' });
  await oncall.createSchedule({
    id: `${team}-rota`,
    team,
    name: team,
    time_zone: 'Asia/Shanghai',
    rotation: 'daily',
    handoff_time: '09:00',
    handoff_weekday: null,
    start_date: '2026-11-01',
    responders: [`${team}-tech`],
    secondary_responders: null,
  });
  await oncall.createPolicy({ id: `${team}-policy`, team, steps: [{ after_minutes: 0, targets: ['primary'], channels: ['webhook'] }], repeat: 0, repeat_after_minutes: 30 });
}
