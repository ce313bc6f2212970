import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { Identifier } from '@gatehouse/protocols';
import type { Role } from '../../auth/roles.js';
import {
  EscalationFields,
  EscalationPolicy,
  EVERY_SITE,
  LAYERS,
  type OnCall,
  OnCallRefusal,
  Override,
  OVERRIDE_REASONS,
  Responder,
  ResponderFields,
  ResponderId,
  responderIssues,
  Schedule,
  ScheduleFields,
  scheduleIssues,
  seesTeam,
  siteBeyond,
  Team,
  TeamFields,
  type FieldIssue,
} from '../../oncall/index.js';
import type { AuditLog } from '../../store/audit-log.js';
import { actorOf, principalOf, type RouteAccess, type SiteOfRoute } from '../access.js';
import { ApiError, errors } from '../errors.js';
import { ErrorBody, Instant, INSTANT_HELP } from '../schemas.js';

export interface OnCallRouteDeps {
  oncall: OnCall;
  audit: AuditLog;
}

/**
 * The routes' site is the sites of the team they concern. A team serves a list of sites, and a
 * caller may read it through any one of them but change it only with all of them, which one site
 * from `of` cannot say: so `of` names none and the handler checks the team's sites once it has
 * the team (404 when the caller sees none of them, 403 when it would change a team that also
 * serves sites beyond its own). Declared all the same, so that the access table and the
 * authorisation test know that another site's caller gets a 404.
 */
const TEAM_SITES: SiteOfRoute = {
  describe: 'the sites of the team it concerns, checked by the handler',
  of: () => undefined,
  // Never asked for: `of` names no site.
  notFound: (params) => notFound('team', params.id ?? ''),
};

const READERS: readonly Role[] = ['admin', 'engineer', 'technician'];
const WRITERS: readonly Role[] = ['admin', 'engineer'];
const READ: RouteAccess = { roles: READERS, scope: 'oncall:read', site: TEAM_SITES };
const LIST: RouteAccess = { roles: READERS, scope: 'oncall:read', site: 'listed' };
const WRITE: RouteAccess = { roles: WRITERS, scope: 'oncall:write', site: TEAM_SITES };

type Noun = 'team' | 'responder' | 'schedule' | 'override' | 'escalation_policy';
const WORDS: Record<Noun, string> = { team: 'team', responder: 'responder', schedule: 'schedule', override: 'override', escalation_policy: 'escalation policy' };

const notFound = (noun: Noun, id: string) => new ApiError(404, `${noun}_not_found`, `no ${WORDS[noun]} "${id}"`);

const invalidBody = (issues: readonly FieldIssue[]) => errors.invalidRequest(issues.map((issue) => ({ field: ['body', ...issue.path].join('.'), message: issue.message })));

/** The store's refusals as API errors. */
function apiErrorOf(refusal: OnCallRefusal, noun: Noun): ApiError {
  switch (refusal.code) {
    case 'exists':
      return new ApiError(409, `${noun}_exists`, refusal.message);
    case 'not_in_team':
      return invalidBody(refusal.issues);
    case 'unknown_user':
      return new ApiError(404, 'user_not_found', refusal.message, [{ field: 'body.user_id', message: refusal.message }]);
    case 'in_use':
      return new ApiError(409, 'responder_in_use', refusal.message);
    case 'team_has_policy':
      return new ApiError(409, 'team_has_policy', refusal.message);
  }
}

const refusing =
  (noun: Noun) =>
  async <T>(write: Promise<T>): Promise<T> => {
    try {
      return await write;
    } catch (error) {
      throw error instanceof OnCallRefusal ? apiErrorOf(error, noun) : error;
    }
  };

/** A time in a JSON body: the API's instant, or a number of milliseconds. */
const BodyInstant = z
  .union([z.number(), z.string()])
  .describe(INSTANT_HELP)
  .transform((value, context) => {
    const parsed = Instant.safeParse(String(value));
    if (parsed.success) return parsed.data;
    context.addIssue({ code: 'custom', message: INSTANT_HELP });
    return z.NEVER;
  });

/** A cross-field validator as a schema refinement, so that its issues name their fields like the schema's own. */
const checkedBy =
  <T>(rules: (value: T) => FieldIssue[]) =>
  (value: T, context: z.core.$RefinementCtx<T>) => {
    for (const issue of rules(value)) context.addIssue({ code: 'custom', path: issue.path, message: issue.message });
  };

const IdParams = z.object({ id: Identifier });
const ResponderParams = z.object({ id: Identifier, responder: Identifier });
const OverrideParams = z.object({ id: Identifier, override: z.coerce.number().int().positive() });
const TeamQuery = z.object({ team: Identifier.optional().describe('only this team’s') });

const TeamCreate = TeamFields.extend({ id: Identifier, contractor: TeamFields.shape.contractor.default(null), channels: TeamFields.shape.channels.default([]) });
const ResponderCreate = ResponderFields.extend({
  id: ResponderId,
  user_id: ResponderFields.shape.user_id.default(null),
  email: ResponderFields.shape.email.default(null),
  phone: ResponderFields.shape.phone.default(null),
}).superRefine(checkedBy(responderIssues));
const ScheduleCreate = ScheduleFields.extend({
  id: Identifier,
  team: Identifier,
  handoff_weekday: ScheduleFields.shape.handoff_weekday.default(null),
  secondary_responders: ScheduleFields.shape.secondary_responders.default(null),
}).superRefine(checkedBy(scheduleIssues));
const OverrideCreate = z
  .object({
    layer: z.enum(LAYERS).default('primary').describe('the layer the responder takes over'),
    responder: ResponderId,
    from: BodyInstant,
    to: BodyInstant.describe(`${INSTANT_HELP}; the override covers [from, to)`),
    reason: z.enum(OVERRIDE_REASONS),
  })
  .superRefine(checkedBy(({ from, to }) => (to > from ? [] : [{ path: ['to'], message: 'must be after from' }])));
const PolicyCreate = EscalationFields.extend({
  id: Identifier,
  team: Identifier,
  repeat: EscalationFields.shape.repeat.default(0),
  repeat_after_minutes: EscalationFields.shape.repeat_after_minutes.default(30),
});

const OnCallBody = z.object({
  schedule: z.string(),
  at: z.number().describe('milliseconds since the epoch'),
  primary: Responder.nullable(),
  secondary: Responder.nullable().describe('null when the rotation has one responder and no secondary rotation'),
});

/**
 * Teams, responders, on-call schedules with overrides, and escalation policies. Engineers and
 * administrators change them, technicians read them; every change is audited with before and
 * after.
 */
export const onCallRoutes =
  (deps: OnCallRouteDeps): FastifyPluginAsyncZod =>
  async (app) => {
    const { oncall } = deps;

    /** The team, if the caller sees it; otherwise a 404, as if it did not exist. */
    const readableTeam = async (request: FastifyRequest, id: string): Promise<Team> => {
      const team = await oncall.getTeam(id);
      if (!team || !seesTeam(principalOf(request), team)) throw notFound('team', id);
      return team;
    };
    /** The team, if the caller may change it: it must see every site the team serves. */
    const writableTeam = async (request: FastifyRequest, id: string): Promise<Team> => {
      const team = await readableTeam(request, id);
      const beyond = siteBeyond(principalOf(request), team.sites);
      if (beyond !== undefined) {
        throw errors.forbidden(`team "${id}" also serves ${beyond === EVERY_SITE ? 'every site' : `site "${beyond}"`}, which you may not act on`);
      }
      return team;
    };
    /** A team may be given only sites the caller may act on: another site is answered as if it did not exist. */
    const checkSitesGiven = (request: FastifyRequest, sites: readonly string[]) => {
      const beyond = siteBeyond(principalOf(request), sites);
      if (beyond === EVERY_SITE) throw errors.forbidden('only a caller with every site may make a team serve every site');
      if (beyond !== undefined) throw errors.siteNotFound(beyond);
    };
    const visibleTeams = async (request: FastifyRequest) => {
      const principal = principalOf(request);
      return new Set((await oncall.listTeams()).filter((team) => seesTeam(principal, team)).map((team) => team.id));
    };
    const audited = async (request: FastifyRequest, team: Team, action: string, target: string, change: { before?: unknown; after?: unknown }) => {
      request.audited = true;
      // A team of one site is that site's; the audit log's site column holds one site or none.
      const site = team.sites.length === 1 && team.sites[0] !== EVERY_SITE ? team.sites[0]! : null;
      await deps.audit.record({ ...actorOf(request), action, target, site, outcome: 'ok', ...change });
    };

    // Teams.

    app.get(
      '/teams',
      {
        config: { access: LIST },
        schema: { summary: 'Teams serving the sites the caller sees, with their trade and contractor', tags: ['on-call'], response: { 200: z.object({ teams: z.array(Team) }) } },
      },
      async (request) => {
        const principal = principalOf(request);
        return { teams: (await oncall.listTeams()).filter((team) => seesTeam(principal, team)) };
      },
    );

    app.post(
      '/teams',
      {
        config: { access: WRITE },
        schema: { summary: 'Create a team of one trade serving some sites, or every site', tags: ['on-call'], body: TeamCreate, response: { 201: Team, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody } },
      },
      async (request, reply) => {
        checkSitesGiven(request, request.body.sites);
        const team = await refusing('team')(oncall.createTeam(request.body));
        await audited(request, team, 'team.create', team.id, { after: team });
        return reply.status(201).send(team);
      },
    );

    app.get(
      '/teams/:id',
      { config: { access: READ }, schema: { summary: 'A team', tags: ['on-call'], params: IdParams, response: { 200: Team, 404: ErrorBody } } },
      async (request) => readableTeam(request, request.params.id),
    );

    app.patch(
      '/teams/:id',
      {
        config: { access: WRITE },
        schema: {
          summary: "Change a team's name, trade, sites, contractor or channels",
          tags: ['on-call'],
          params: IdParams,
          body: TeamFields.partial().strict(),
          response: { 200: Team, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const before = await writableTeam(request, request.params.id);
        if (request.body.sites) checkSitesGiven(request, request.body.sites);
        const after = await oncall.updateTeam({ ...before, ...request.body });
        if (!after) throw notFound('team', before.id);
        await audited(request, after, 'team.update', after.id, { before, after });
        return after;
      },
    );

    app.delete(
      '/teams/:id',
      {
        config: { access: WRITE },
        schema: { summary: 'Delete a team with its responders, schedules, overrides and escalation policy', tags: ['on-call'], params: IdParams, response: { 200: Team, 403: ErrorBody, 404: ErrorBody } },
      },
      async (request) => {
        const team = await writableTeam(request, request.params.id);
        if (!(await oncall.deleteTeam(team.id))) throw notFound('team', team.id);
        await audited(request, team, 'team.delete', team.id, { before: team });
        return team;
      },
    );

    // Responders.

    app.get(
      '/teams/:id/responders',
      {
        config: { access: READ },
        schema: { summary: "A team's responders, with their contacts", tags: ['on-call'], params: IdParams, response: { 200: z.object({ responders: z.array(Responder) }), 404: ErrorBody } },
      },
      async (request) => {
        const team = await readableTeam(request, request.params.id);
        return { responders: await oncall.listResponders(team.id) };
      },
    );

    app.post(
      '/teams/:id/responders',
      {
        config: { access: WRITE },
        schema: {
          summary: 'Add a responder to a team: a technician or a manager, reachable by email or phone',
          tags: ['on-call'],
          params: IdParams,
          body: ResponderCreate,
          response: { 201: Responder, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const team = await writableTeam(request, request.params.id);
        const responder = await refusing('responder')(oncall.createResponder({ ...request.body, team: team.id }));
        await audited(request, team, 'responder.create', responder.id, { after: responder });
        return reply.status(201).send(responder);
      },
    );

    const responderOf = async (request: FastifyRequest, team: Team, id: string): Promise<Responder> => {
      const responder = await oncall.getResponder(id);
      if (!responder || responder.team !== team.id) throw notFound('responder', id);
      return responder;
    };

    app.patch(
      '/teams/:id/responders/:responder',
      {
        config: { access: WRITE },
        schema: {
          summary: "Change a responder's name, contacts, user or role",
          tags: ['on-call'],
          params: ResponderParams,
          body: ResponderFields.partial().strict(),
          response: { 200: Responder, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const team = await writableTeam(request, request.params.id);
        const before = await responderOf(request, team, request.params.responder);
        const next = { ...before, ...request.body };
        const issues = responderIssues(next);
        if (issues.length > 0) throw invalidBody(issues);
        const after = await refusing('responder')(oncall.updateResponder(next));
        if (!after) throw notFound('responder', before.id);
        await audited(request, team, 'responder.update', after.id, { before, after });
        return after;
      },
    );

    app.delete(
      '/teams/:id/responders/:responder',
      {
        config: { access: WRITE },
        schema: {
          summary: 'Remove a responder and their overrides; refused while a rotation or an escalation step names them',
          tags: ['on-call'],
          params: ResponderParams,
          response: { 200: Responder, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request) => {
        const team = await writableTeam(request, request.params.id);
        const responder = await responderOf(request, team, request.params.responder);
        if (!(await refusing('responder')(oncall.deleteResponder(responder.id)))) throw notFound('responder', responder.id);
        await audited(request, team, 'responder.delete', responder.id, { before: responder });
        return responder;
      },
    );

    // Schedules.

    /** The schedule and its team, if the caller may read (or, with `writableTeam`, change) it. */
    const scheduleWith = async (request: FastifyRequest, id: string, teamOf: typeof readableTeam) => {
      const schedule = await oncall.getSchedule(id);
      if (!schedule) throw notFound('schedule', id);
      // A schedule of a team the caller does not see does not exist for it either.
      const team = await teamOf(request, schedule.team).catch((error: unknown) => {
        throw error instanceof ApiError && error.statusCode === 404 ? notFound('schedule', id) : error;
      });
      return { schedule, team };
    };

    app.get(
      '/schedules',
      {
        config: { access: LIST },
        schema: { summary: 'On-call schedules of the teams the caller sees', tags: ['on-call'], querystring: TeamQuery, response: { 200: z.object({ schedules: z.array(Schedule) }) } },
      },
      async (request) => {
        const teams = await visibleTeams(request);
        return { schedules: (await oncall.listSchedules(request.query.team)).filter((schedule) => teams.has(schedule.team)) };
      },
    );

    app.post(
      '/schedules',
      {
        config: { access: WRITE },
        schema: {
          summary: "Create a team's on-call schedule: a daily or weekly rotation of its responders, handed off at a local time",
          tags: ['on-call'],
          body: ScheduleCreate,
          response: { 201: Schedule, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const team = await writableTeam(request, request.body.team);
        const schedule = await refusing('schedule')(oncall.createSchedule(request.body));
        await audited(request, team, 'schedule.create', schedule.id, { after: schedule });
        return reply.status(201).send(schedule);
      },
    );

    app.get(
      '/schedules/:id',
      { config: { access: READ }, schema: { summary: 'An on-call schedule', tags: ['on-call'], params: IdParams, response: { 200: Schedule, 404: ErrorBody } } },
      async (request) => (await scheduleWith(request, request.params.id, readableTeam)).schedule,
    );

    app.patch(
      '/schedules/:id',
      {
        config: { access: WRITE },
        schema: {
          summary: "Change a schedule's rotation, hand-off, time zone or responders; its team stays",
          tags: ['on-call'],
          params: IdParams,
          body: ScheduleFields.partial().strict(),
          response: { 200: Schedule, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { schedule: before, team } = await scheduleWith(request, request.params.id, writableTeam);
        const next = { ...before, ...request.body };
        const issues = scheduleIssues(next);
        if (issues.length > 0) throw invalidBody(issues);
        const after = await refusing('schedule')(oncall.updateSchedule(next));
        if (!after) throw notFound('schedule', before.id);
        await audited(request, team, 'schedule.update', after.id, { before, after });
        return after;
      },
    );

    app.delete(
      '/schedules/:id',
      {
        config: { access: WRITE },
        schema: { summary: 'Delete a schedule with its overrides', tags: ['on-call'], params: IdParams, response: { 200: Schedule, 403: ErrorBody, 404: ErrorBody } },
      },
      async (request) => {
        const { schedule, team } = await scheduleWith(request, request.params.id, writableTeam);
        if (!(await oncall.deleteSchedule(schedule.id))) throw notFound('schedule', schedule.id);
        await audited(request, team, 'schedule.delete', schedule.id, { before: schedule });
        return schedule;
      },
    );

    app.get(
      '/schedules/:id/on-call',
      {
        config: { access: READ },
        schema: {
          summary: 'Who is on call in a schedule, primary and secondary, at a time (now by default), overrides included',
          tags: ['on-call'],
          params: IdParams,
          querystring: z.object({ at: Instant.optional() }),
          response: { 200: OnCallBody, 400: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { schedule } = await scheduleWith(request, request.params.id, readableTeam);
        return { schedule: schedule.id, ...(await oncall.whoIsOnCall(schedule, request.query.at)) };
      },
    );

    // Overrides.

    app.get(
      '/schedules/:id/overrides',
      {
        config: { access: READ },
        schema: { summary: "A schedule's overrides, by start", tags: ['on-call'], params: IdParams, response: { 200: z.object({ overrides: z.array(Override) }), 404: ErrorBody } },
      },
      async (request) => {
        const { schedule } = await scheduleWith(request, request.params.id, readableTeam);
        return { overrides: await oncall.listOverrides(schedule.id) };
      },
    );

    app.post(
      '/schedules/:id/overrides',
      {
        config: { access: WRITE },
        schema: {
          summary: 'Put another responder of the team on call in one layer for an interval: a holiday, a swap…',
          tags: ['on-call'],
          params: IdParams,
          body: OverrideCreate,
          response: { 201: Override, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request, reply) => {
        const { schedule, team } = await scheduleWith(request, request.params.id, writableTeam);
        const override = await refusing('override')(oncall.addOverride(team.id, { ...request.body, schedule: schedule.id }));
        await audited(request, team, 'override.create', `${schedule.id}/${override.id}`, { after: override });
        return reply.status(201).send(override);
      },
    );

    app.delete(
      '/schedules/:id/overrides/:override',
      {
        config: { access: WRITE },
        schema: { summary: 'Remove an override', tags: ['on-call'], params: OverrideParams, response: { 200: Override, 403: ErrorBody, 404: ErrorBody } },
      },
      async (request) => {
        const { schedule, team } = await scheduleWith(request, request.params.id, writableTeam);
        const override = await oncall.deleteOverride(schedule.id, request.params.override);
        if (!override) throw notFound('override', String(request.params.override));
        await audited(request, team, 'override.delete', `${schedule.id}/${override.id}`, { before: override });
        return override;
      },
    );

    // Escalation policies.

    const policyWith = async (request: FastifyRequest, id: string, teamOf: typeof readableTeam) => {
      const policy = await oncall.getPolicy(id);
      if (!policy) throw notFound('escalation_policy', id);
      const team = await teamOf(request, policy.team).catch((error: unknown) => {
        throw error instanceof ApiError && error.statusCode === 404 ? notFound('escalation_policy', id) : error;
      });
      return { policy, team };
    };

    app.get(
      '/escalation-policies',
      {
        config: { access: LIST },
        schema: {
          summary: 'Escalation policies of the teams the caller sees',
          tags: ['on-call'],
          querystring: TeamQuery,
          response: { 200: z.object({ escalation_policies: z.array(EscalationPolicy) }) },
        },
      },
      async (request) => {
        const teams = await visibleTeams(request);
        return { escalation_policies: (await oncall.listPolicies(request.query.team)).filter((policy) => teams.has(policy.team)) };
      },
    );

    app.post(
      '/escalation-policies',
      {
        config: { access: WRITE },
        schema: {
          summary: "Create a team's escalation policy (one per team): who is paged, how and how soon, and how often it repeats while unacknowledged",
          tags: ['on-call'],
          body: PolicyCreate,
          response: { 201: EscalationPolicy, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody, 409: ErrorBody },
        },
      },
      async (request, reply) => {
        const team = await writableTeam(request, request.body.team);
        const policy = await refusing('escalation_policy')(oncall.createPolicy(request.body));
        await audited(request, team, 'escalation_policy.create', policy.id, { after: policy });
        return reply.status(201).send(policy);
      },
    );

    app.get(
      '/escalation-policies/:id',
      { config: { access: READ }, schema: { summary: 'An escalation policy', tags: ['on-call'], params: IdParams, response: { 200: EscalationPolicy, 404: ErrorBody } } },
      async (request) => (await policyWith(request, request.params.id, readableTeam)).policy,
    );

    app.patch(
      '/escalation-policies/:id',
      {
        config: { access: WRITE },
        schema: {
          summary: "Change a policy's steps or repeats; its team stays",
          tags: ['on-call'],
          params: IdParams,
          body: EscalationFields.partial().strict(),
          response: { 200: EscalationPolicy, 400: ErrorBody, 403: ErrorBody, 404: ErrorBody },
        },
      },
      async (request) => {
        const { policy: before, team } = await policyWith(request, request.params.id, writableTeam);
        const after = await refusing('escalation_policy')(oncall.updatePolicy({ ...before, ...request.body }));
        if (!after) throw notFound('escalation_policy', before.id);
        await audited(request, team, 'escalation_policy.update', after.id, { before, after });
        return after;
      },
    );

    app.delete(
      '/escalation-policies/:id',
      {
        config: { access: WRITE },
        schema: { summary: 'Delete an escalation policy', tags: ['on-call'], params: IdParams, response: { 200: EscalationPolicy, 403: ErrorBody, 404: ErrorBody } },
      },
      async (request) => {
        const { policy, team } = await policyWith(request, request.params.id, writableTeam);
        if (!(await oncall.deletePolicy(policy.id))) throw notFound('escalation_policy', policy.id);
        await audited(request, team, 'escalation_policy.delete', policy.id, { before: policy });
        return policy;
      },
    );
  };
