// The demo's on-call data: a team per trade for the demo's site, its people, a weekly rota and an
// escalation policy, made through the hub's REST API as an engineer would make them.

/**
 * The hub sends an alarm to the site's team of the device's trade (cloud/src/dispatch/trades.ts),
 * or to its general team. A team has one trade: the guard house takes the doors (`access`), and
 * the car park's gates (`parking`, whose faults are minor and open no work order) fall to general.
 */
const TEAMS = [
  {
    id: 'lifts',
    name: 'Lift contractor',
    trade: 'elevator',
    contractor: 'Shenzhen Lift Service Co.',
    domain: 'lift-service.example',
    technicians: [['li-wei', 'Li Wei'], ['zhang-min', 'Zhang Min']],
    manager: ['chen-jie', 'Chen Jie'],
  },
  {
    id: 'electrical',
    name: 'Electricians',
    trade: 'electrical',
    contractor: null,
    domain: 'tower-a.example',
    technicians: [['wang-fang', 'Wang Fang'], ['liu-yang', 'Liu Yang']],
    manager: ['zhao-lei', 'Zhao Lei'],
  },
  {
    id: 'security',
    name: 'Security (access control)',
    trade: 'access',
    contractor: null,
    domain: 'tower-a.example',
    technicians: [['sun-hao', 'Sun Hao'], ['zhou-ting', 'Zhou Ting']],
    manager: ['wu-gang', 'Wu Gang'],
  },
  {
    id: 'general',
    name: 'Engineering (general)',
    trade: 'general',
    contractor: null,
    domain: 'tower-a.example',
    technicians: [['huang-lin', 'Huang Lin'], ['xu-jing', 'Xu Jing']],
    manager: ['ma-qiang', 'Ma Qiang'],
  },
];

const emailOf = (team, id) => `${id}@${team.domain}`;

/**
 * A fixed Monday in the past, so that the rota is the same on every run and somebody is always
 * on call: shifts hand over every Monday at 09:00 Shanghai time, the technicians taking turns.
 */
const ROTA_START = '2025-01-06';

/** The primary now, the secondary 5 minutes on, the manager 10 minutes on, while nobody acknowledges. */
const ESCALATION_STEPS = [
  { after_minutes: 0, targets: ['primary'], channels: ['webhook'] },
  { after_minutes: 5, targets: ['secondary'], channels: ['webhook'] },
  { after_minutes: 5, targets: ['manager'], channels: ['webhook'] },
];

/** The team a paged person belongs to, by their email address; undefined for somebody else. */
export function teamOfEmail(email) {
  return TEAMS.find((team) => [...team.technicians, team.manager].some(([id]) => emailOf(team, id) === email))?.id;
}

/**
 * Makes the teams, their responders, rotas and escalation policies for `site`. The demo's data
 * persists between runs, so what already exists (409) is left as it is.
 * Resolves with who is on call now in each team: `[{team, primary}]`.
 */
export async function ensureOnCall(hubUrl, session, site) {
  const call = async (method, path, body) => {
    const response = await fetch(`${hubUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${session}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok && !(method === 'POST' && response.status === 409)) {
      throw new Error(`${method} /api/v1${path}: HTTP ${response.status} ${await response.text()}`);
    }
    return response.json();
  };
  const onCall = [];
  for (const team of TEAMS) {
    const { id, name, trade, contractor, technicians, manager } = team;
    await call('POST', '/teams', { id, name, trade, sites: [site], contractor });
    for (const [responder, person] of technicians) {
      await call('POST', `/teams/${id}/responders`, { id: responder, name: person, role: 'technician', email: emailOf(team, responder) });
    }
    await call('POST', `/teams/${id}/responders`, { id: manager[0], name: manager[1], role: 'manager', email: emailOf(team, manager[0]) });
    await call('POST', '/schedules', {
      id: `${id}-rota`,
      team: id,
      name: `${name} call-out`,
      time_zone: 'Asia/Shanghai',
      rotation: 'weekly',
      handoff_time: '09:00',
      handoff_weekday: 1,
      start_date: ROTA_START,
      responders: technicians.map(([responder]) => responder),
      // No rota of its own: the secondary is the technician next in turn.
      secondary_responders: null,
    });
    await call('POST', '/escalation-policies', { id: `${id}-escalation`, team: id, steps: ESCALATION_STEPS });
    const now = await call('GET', `/schedules/${id}-rota/on-call`);
    onCall.push({ team: id, primary: now.primary?.name ?? 'nobody' });
  }
  return onCall;
}
