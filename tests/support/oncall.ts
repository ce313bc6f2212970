import type { TestHub } from './hub.js';

export interface EscalationStep {
  after_minutes: number;
  targets: string[];
  channels: string[];
}

/**
 * The lift contractor's team at tower-a, as an administrator sets it up: Li Wei on call, Zhang
 * Min his secondary, Chen Jie their manager, on a weekly rota handed over Mondays 09:00 Shanghai
 * time since `startDate`, escalating by `steps` once round.
 */
export async function createLiftTeam(hub: TestHub, { startDate, steps }: { startDate: string; steps: EscalationStep[] }): Promise<void> {
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
    start_date: startDate,
    responders: ['li-wei'],
    secondary_responders: ['zhang-min'],
  });
  await create('/api/v1/escalation-policies', { id: 'lifts-urgent', team: 'lifts', steps, repeat: 0, repeat_after_minutes: 10 });
}
