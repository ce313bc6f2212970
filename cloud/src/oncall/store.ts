import { epochMsAs, SqlFilter } from '../store/sql-fragments.js';
import type { SqlClient, SqlTransaction } from '../store/sql.js';
import { OnCallRefusal } from './errors.js';
import { ROLE_TARGETS, type EscalationPolicy, type FieldIssue, type Override, type Responder, type Schedule, type Target, type Team, type Trade } from './model.js';
import { onCallAt } from './rotation.js';

/** A responder an escalation step pages, and the target that named them. */
export interface PagedResponder extends Responder {
  as: Target;
}

export type OverrideInput = Omit<Override, 'id'>;

const iso = (at: number) => new Date(at).toISOString();

const TEAM_COLUMNS = 'id, name, trade, sites, contractor, channels';
const RESPONDER_COLUMNS = 'id, team, name, user_id::float8 as user_id, email, phone, role';
const SCHEDULE_COLUMNS = `id, team, name, time_zone, rotation, handoff_time, handoff_weekday::int as handoff_weekday,
  to_char(start_date, 'YYYY-MM-DD') as start_date, responders, secondary_responders`;
const OVERRIDE_COLUMNS = `id::float8 as id, schedule, layer, responder, ${epochMsAs('starts_at', '"from"')}, ${epochMsAs('ends_at', '"to"')}, reason`;
const POLICY_COLUMNS = 'id, team, steps, repeat, repeat_after_minutes';

/**
 * Teams, their responders, on-call schedules with their overrides, and escalation policies; and
 * the questions paging asks of them: which team serves a site for a trade, who a step pages,
 * what a team's policy is. Writes that name responders check, in the same transaction and under
 * the team's row lock, that they are the team's own.
 */
export class OnCall {
  constructor(
    private readonly db: SqlClient,
    private readonly now: () => number = Date.now,
  ) {}

  // Teams.

  async listTeams(): Promise<Team[]> {
    return this.db.query<Team>(`select ${TEAM_COLUMNS} from teams order by id`);
  }

  async getTeam(id: string): Promise<Team | undefined> {
    return (await this.db.query<Team>(`select ${TEAM_COLUMNS} from teams where id = $1`, [id]))[0];
  }

  async createTeam(team: Team): Promise<Team> {
    const [row] = await this.db.query<Team>(
      `insert into teams (id, name, trade, sites, contractor, channels) values ($1, $2, $3, $4, $5, $6::jsonb)
       on conflict do nothing returning ${TEAM_COLUMNS}`,
      [team.id, team.name, team.trade, team.sites, team.contractor, JSON.stringify(team.channels)],
    );
    if (!row) throw new OnCallRefusal('exists', team.id, `a team "${team.id}" exists already`);
    return row;
  }

  async updateTeam(team: Team): Promise<Team | undefined> {
    const [row] = await this.db.query<Team>(
      `update teams set name = $2, trade = $3, sites = $4, contractor = $5, channels = $6::jsonb where id = $1 returning ${TEAM_COLUMNS}`,
      [team.id, team.name, team.trade, team.sites, team.contractor, JSON.stringify(team.channels)],
    );
    return row;
  }

  /** Deletes a team with its responders, schedules, overrides and policy. */
  async deleteTeam(id: string): Promise<Team | undefined> {
    return (await this.db.query<Team>(`delete from teams where id = $1 returning ${TEAM_COLUMNS}`, [id]))[0];
  }

  /**
   * The team serving `site` for `trade`: one that names the site beats one serving every site;
   * between equals, the first by id. Null when none does: the caller tries the `general` trade.
   */
  async teamFor(site: string, trade: Trade): Promise<Team | null> {
    const [row] = await this.db.query<Team>(
      `select ${TEAM_COLUMNS} from teams where trade = $2 and ($1 = any(sites) or '*' = any(sites))
       order by ($1 = any(sites)) desc, id limit 1`,
      [site, trade],
    );
    return row ?? null;
  }

  // Responders.

  async listResponders(team: string): Promise<Responder[]> {
    return this.db.query<Responder>(`select ${RESPONDER_COLUMNS} from responders where team = $1 order by id`, [team]);
  }

  async getResponder(id: string): Promise<Responder | undefined> {
    return (await this.db.query<Responder>(`select ${RESPONDER_COLUMNS} from responders where id = $1`, [id]))[0];
  }

  async createResponder(responder: Responder): Promise<Responder> {
    await this.checkUser(responder.user_id);
    const [row] = await this.db.query<Responder>(
      `insert into responders (id, team, name, user_id, email, phone, role) values ($1, $2, $3, $4, $5, $6, $7)
       on conflict do nothing returning ${RESPONDER_COLUMNS}`,
      [responder.id, responder.team, responder.name, responder.user_id, responder.email, responder.phone, responder.role],
    );
    if (!row) throw new OnCallRefusal('exists', responder.id, `a responder "${responder.id}" exists already`);
    return row;
  }

  /** Changes a responder's name, contacts, user or role; the team stays. */
  async updateResponder(responder: Responder): Promise<Responder | undefined> {
    await this.checkUser(responder.user_id);
    const [row] = await this.db.query<Responder>(
      `update responders set name = $2, user_id = $3, email = $4, phone = $5, role = $6 where id = $1 returning ${RESPONDER_COLUMNS}`,
      [responder.id, responder.name, responder.user_id, responder.email, responder.phone, responder.role],
    );
    return row;
  }

  /**
   * Deletes a responder and their overrides; refused while a schedule's rotation or an
   * escalation step names them, because quietly changing who is paged is worse than an error.
   */
  async deleteResponder(id: string): Promise<Responder | undefined> {
    return this.db.transaction(async (tx) => {
      const [responder] = await tx.query<Responder>(`select ${RESPONDER_COLUMNS} from responders where id = $1`, [id]);
      if (!responder) return undefined;
      await lockTeam(tx, responder.team);
      const users = await tx.query<{ kind: string; id: string }>(
        `select 'schedule' as kind, id from schedules where $1 = any(responders) or $1 = any(coalesce(secondary_responders, '{}'))
         union all
         select 'escalation policy', id from escalation_policies where exists (select 1 from jsonb_array_elements(steps) step where step->'targets' ? $1)
         order by 1, 2`,
        [id],
      );
      if (users.length > 0) {
        const named = users.map((user) => `${user.kind} "${user.id}"`).join(', ');
        throw new OnCallRefusal('in_use', id, `responder "${id}" is still named by ${named}: take them out of it first`);
      }
      await tx.query('delete from responders where id = $1', [id]);
      return responder;
    });
  }

  /**
   * The responders `targets` name in a team at `at`, once each, in the order named: the primary
   * and secondary of every schedule of the team, its managers, responders by id. A target that
   * finds nobody (no schedule, nobody on call) adds nobody.
   */
  async resolveTargets(team: string, targets: readonly Target[], at: number): Promise<PagedResponder[]> {
    const responders = await this.listResponders(team);
    const schedules = await this.listSchedules(team);
    const covers = await this.coversAt(
      schedules.map((schedule) => schedule.id),
      at,
    );
    const onCall = schedules.map((schedule) => onCallAt(schedule, covers.filter((cover) => cover.schedule === schedule.id), at));
    const byId = new Map(responders.map((responder) => [responder.id, responder]));
    const paged = new Map<string, PagedResponder>();
    const page = (id: string | null, as: Target) => {
      const responder = id === null ? undefined : byId.get(id);
      if (responder && !paged.has(responder.id)) paged.set(responder.id, { ...responder, as });
    };
    for (const target of targets) {
      if (target === 'primary' || target === 'secondary') onCall.forEach((now) => page(now[target], target));
      else if (target === 'manager') responders.filter((responder) => responder.role === 'manager').forEach((manager) => page(manager.id, target));
      else page(target, target);
    }
    return [...paged.values()];
  }

  // Schedules and overrides.

  async listSchedules(team?: string): Promise<Schedule[]> {
    const where = new SqlFilter().when(team, (p) => `team = ${p}`);
    return this.db.query<Schedule>(`select ${SCHEDULE_COLUMNS} from schedules ${where.where} order by id`, where.params);
  }

  async getSchedule(id: string): Promise<Schedule | undefined> {
    return (await this.db.query<Schedule>(`select ${SCHEDULE_COLUMNS} from schedules where id = $1`, [id]))[0];
  }

  async createSchedule(schedule: Schedule): Promise<Schedule> {
    return this.db.transaction(async (tx) => {
      await lockTeam(tx, schedule.team);
      await checkMembers(tx, schedule.team, rotationMembers(schedule));
      const [row] = await tx.query<Schedule>(
        `insert into schedules (id, team, name, time_zone, rotation, handoff_time, handoff_weekday, start_date, responders, secondary_responders)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict do nothing returning ${SCHEDULE_COLUMNS}`,
        scheduleParams(schedule),
      );
      if (!row) throw new OnCallRefusal('exists', schedule.id, `a schedule "${schedule.id}" exists already`);
      return row;
    });
  }

  /** Replaces a schedule's definition; its team stays. */
  async updateSchedule(schedule: Schedule): Promise<Schedule | undefined> {
    return this.db.transaction(async (tx) => {
      await lockTeam(tx, schedule.team);
      await checkMembers(tx, schedule.team, rotationMembers(schedule));
      const [row] = await tx.query<Schedule>(
        `update schedules set name = $3, time_zone = $4, rotation = $5, handoff_time = $6, handoff_weekday = $7, start_date = $8,
                responders = $9, secondary_responders = $10
         where id = $1 and team = $2 returning ${SCHEDULE_COLUMNS}`,
        scheduleParams(schedule),
      );
      return row;
    });
  }

  /** Deletes a schedule with its overrides. */
  async deleteSchedule(id: string): Promise<Schedule | undefined> {
    return (await this.db.query<Schedule>(`delete from schedules where id = $1 returning ${SCHEDULE_COLUMNS}`, [id]))[0];
  }

  /** Who is on call in a schedule at `at` (now by default), with their contacts. */
  async whoIsOnCall(schedule: Schedule, at: number = this.now()): Promise<{ at: number; primary: Responder | null; secondary: Responder | null }> {
    const now = onCallAt(schedule, await this.coversAt([schedule.id], at), at);
    const responder = async (id: string | null) => (id === null ? null : ((await this.getResponder(id)) ?? null));
    return { at, primary: await responder(now.primary), secondary: await responder(now.secondary) };
  }

  /** A schedule's overrides, by start. */
  async listOverrides(schedule: string): Promise<Override[]> {
    return this.db.query<Override>(`select ${OVERRIDE_COLUMNS} from schedule_overrides where schedule = $1 order by starts_at, id`, [schedule]);
  }

  async addOverride(team: string, override: OverrideInput): Promise<Override> {
    return this.db.transaction(async (tx) => {
      await lockTeam(tx, team);
      await checkMembers(tx, team, [{ path: ['responder'], id: override.responder }]);
      const [row] = await tx.query<Override>(
        `insert into schedule_overrides (schedule, layer, responder, starts_at, ends_at, reason) values ($1, $2, $3, $4, $5, $6)
         returning ${OVERRIDE_COLUMNS}`,
        [override.schedule, override.layer, override.responder, iso(override.from), iso(override.to), override.reason],
      );
      return row!;
    });
  }

  async deleteOverride(schedule: string, id: number): Promise<Override | undefined> {
    return (await this.db.query<Override>(`delete from schedule_overrides where schedule = $1 and id = $2 returning ${OVERRIDE_COLUMNS}`, [schedule, id]))[0];
  }

  /** The overrides of these schedules covering `at`, in the order they were made (the later wins). */
  private async coversAt(schedules: readonly string[], at: number): Promise<Override[]> {
    if (schedules.length === 0) return [];
    return this.db.query<Override>(
      `select ${OVERRIDE_COLUMNS} from schedule_overrides where schedule = any($1::text[]) and starts_at <= $2 and ends_at > $2 order by id`,
      [schedules, iso(at)],
    );
  }

  // Escalation policies.

  async listPolicies(team?: string): Promise<EscalationPolicy[]> {
    const where = new SqlFilter().when(team, (p) => `team = ${p}`);
    return this.db.query<EscalationPolicy>(`select ${POLICY_COLUMNS} from escalation_policies ${where.where} order by id`, where.params);
  }

  async getPolicy(id: string): Promise<EscalationPolicy | undefined> {
    return (await this.db.query<EscalationPolicy>(`select ${POLICY_COLUMNS} from escalation_policies where id = $1`, [id]))[0];
  }

  async policyOf(team: string): Promise<EscalationPolicy | null> {
    return (await this.listPolicies(team))[0] ?? null;
  }

  async createPolicy(policy: EscalationPolicy): Promise<EscalationPolicy> {
    return this.db.transaction(async (tx) => {
      await lockTeam(tx, policy.team);
      const [existing] = await tx.query<{ id: string }>('select id from escalation_policies where team = $1', [policy.team]);
      if (existing) throw new OnCallRefusal('team_has_policy', policy.team, `team "${policy.team}" has escalation policy "${existing.id}" already: change that one`);
      await checkMembers(tx, policy.team, stepMembers(policy));
      const [row] = await tx.query<EscalationPolicy>(
        `insert into escalation_policies (id, team, steps, repeat, repeat_after_minutes) values ($1, $2, $3::jsonb, $4, $5)
         on conflict do nothing returning ${POLICY_COLUMNS}`,
        [policy.id, policy.team, JSON.stringify(policy.steps), policy.repeat, policy.repeat_after_minutes],
      );
      if (!row) throw new OnCallRefusal('exists', policy.id, `an escalation policy "${policy.id}" exists already`);
      return row;
    });
  }

  /** Replaces a policy's steps and repeats; its team stays. */
  async updatePolicy(policy: EscalationPolicy): Promise<EscalationPolicy | undefined> {
    return this.db.transaction(async (tx) => {
      await lockTeam(tx, policy.team);
      await checkMembers(tx, policy.team, stepMembers(policy));
      const [row] = await tx.query<EscalationPolicy>(
        `update escalation_policies set steps = $3::jsonb, repeat = $4, repeat_after_minutes = $5 where id = $1 and team = $2 returning ${POLICY_COLUMNS}`,
        [policy.id, policy.team, JSON.stringify(policy.steps), policy.repeat, policy.repeat_after_minutes],
      );
      return row;
    });
  }

  async deletePolicy(id: string): Promise<EscalationPolicy | undefined> {
    return (await this.db.query<EscalationPolicy>(`delete from escalation_policies where id = $1 returning ${POLICY_COLUMNS}`, [id]))[0];
  }

  private async checkUser(userId: number | null): Promise<void> {
    if (userId === null) return;
    const found = await this.db.query('select 1 from users where id = $1', [userId]);
    if (found.length === 0) throw new OnCallRefusal('unknown_user', String(userId), `no user ${userId}`, [{ path: ['user_id'], message: `no user ${userId}` }]);
  }
}

/** Serialises the writes that check a team's membership against the deletion of its responders. */
async function lockTeam(tx: SqlTransaction, team: string): Promise<void> {
  await tx.query('select 1 from teams where id = $1 for update', [team]);
}

interface NamedMember {
  /** Where in the written object the id is. */
  path: FieldIssue['path'];
  id: string;
}

/** Refuses, naming each of them, `members` that are not responders of `team`. */
async function checkMembers(tx: SqlTransaction, team: string, members: readonly NamedMember[]): Promise<void> {
  if (members.length === 0) return;
  const ids = [...new Set(members.map((member) => member.id))];
  const found = await tx.query<{ id: string }>('select id from responders where team = $1 and id = any($2::text[])', [team, ids]);
  const known = new Set(found.map((row) => row.id));
  const issues = members.filter((member) => !known.has(member.id)).map((member) => ({ path: member.path, message: `no responder "${member.id}" in team "${team}"` }));
  if (issues.length > 0) throw new OnCallRefusal('not_in_team', team, issues.map((issue) => issue.message).join('; '), issues);
}

const rotationMembers = (schedule: Schedule): NamedMember[] => [
  ...schedule.responders.map((id, index) => ({ path: ['responders', index], id })),
  ...(schedule.secondary_responders ?? []).map((id, index) => ({ path: ['secondary_responders', index], id })),
];

const stepMembers = (policy: EscalationPolicy): NamedMember[] =>
  policy.steps.flatMap((step, stepIndex) =>
    step.targets.flatMap((target, targetIndex) =>
      (ROLE_TARGETS as readonly string[]).includes(target) ? [] : [{ path: ['steps', stepIndex, 'targets', targetIndex], id: target }],
    ),
  );

const scheduleParams = (schedule: Schedule) => [
  schedule.id,
  schedule.team,
  schedule.name,
  schedule.time_zone,
  schedule.rotation,
  schedule.handoff_time,
  schedule.handoff_weekday,
  schedule.start_date,
  schedule.responders,
  schedule.secondary_responders,
];
