import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, People, type SqlClient } from '../src/index.js';
import {
  escalationPlan,
  OnCall,
  OnCallRefusal,
  onCallAt,
  Schedule,
  scheduleIssues,
  type Cover,
  type EscalationPolicy,
  type Rotation,
} from '../src/oncall/index.js';
import { emptyEmbeddedDatabase, emptyPostgresDatabase, type SqlHarness } from './sql-conformance.js';

const at = (iso: string) => Date.parse(iso);
const MINUTE = 60_000;

const rotation = (fields: Partial<Rotation>): Rotation => ({
  time_zone: 'UTC',
  rotation: 'daily',
  handoff_time: '09:00',
  handoff_weekday: null,
  start_date: '2026-01-01',
  responders: ['ana', 'ben', 'cai'],
  secondary_responders: null,
  ...fields,
});

interface Case {
  name: string;
  at: string;
  primary: string | null;
  secondary: string | null;
}

function table(schedule: Rotation, cases: Case[], overrides: Cover[] = []) {
  it.each(cases)('$name ($at)', (c) => {
    expect(onCallAt(schedule, overrides, at(c.at))).toEqual({ primary: c.primary, secondary: c.secondary });
  });
}

describe('onCallAt: who is on call', () => {
  describe('a daily rotation in Europe/London across the spring-forward night (29 March 2026, 01:00 GMT → 02:00 BST)', () => {
    table(rotation({ time_zone: 'Europe/London', start_date: '2026-03-27', responders: ['ana', 'ben', 'cai', 'dov'] }), [
      { name: 'nobody before the first hand-off', at: '2026-03-27T08:59:59Z', primary: null, secondary: null },
      { name: 'the first shift starts at 09:00 GMT on the start date', at: '2026-03-27T09:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'a shift lasts until the next hand-off', at: '2026-03-28T08:59:59.999Z', primary: 'ana', secondary: 'ben' },
      { name: 'the hand-off is exactly at the hand-off time', at: '2026-03-28T09:00:00Z', primary: 'ben', secondary: 'cai' },
      { name: 'the night the clocks change, the shift is an hour shorter', at: '2026-03-29T07:59:59Z', primary: 'ben', secondary: 'cai' },
      { name: '09:00 BST is 08:00 UTC', at: '2026-03-29T08:00:00Z', primary: 'cai', secondary: 'dov' },
      { name: 'the secondary wraps around to the first', at: '2026-03-30T08:00:00Z', primary: 'dov', secondary: 'ana' },
      { name: 'the primary wraps around', at: '2026-03-31T08:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'months later, still in step', at: '2026-07-01T07:59:00Z', primary: 'dov', secondary: 'ana' },
    ]);
  });

  describe('a daily rotation in Europe/London across the fall-back night (25 October 2026, 02:00 BST → 01:00 GMT)', () => {
    table(rotation({ time_zone: 'Europe/London', start_date: '2026-10-24', responders: ['ana', 'ben'] }), [
      { name: '09:00 BST is 08:00 UTC', at: '2026-10-24T08:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'the shift over the change is an hour longer', at: '2026-10-25T08:59:59Z', primary: 'ana', secondary: 'ben' },
      { name: '09:00 GMT is 09:00 UTC', at: '2026-10-25T09:00:00Z', primary: 'ben', secondary: 'ana' },
    ]);
  });

  describe('a weekly rotation in America/New_York, handed off on Mondays at 08:00, across 8 March 2026 (EST → EDT)', () => {
    table(rotation({ time_zone: 'America/New_York', rotation: 'weekly', handoff_weekday: 1, handoff_time: '08:00', start_date: '2026-03-02', responders: ['ana', 'ben'] }), [
      { name: 'nobody before the first Monday 08:00 EST', at: '2026-03-02T12:59:59Z', primary: null, secondary: null },
      { name: 'the first week starts Monday 08:00 EST (13:00 UTC)', at: '2026-03-02T13:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'the week holds over the weekend and the clock change', at: '2026-03-08T18:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'not yet at 07:59 EDT on the next Monday', at: '2026-03-09T11:59:59Z', primary: 'ana', secondary: 'ben' },
      { name: 'Monday 08:00 EDT is 12:00 UTC', at: '2026-03-09T12:00:00Z', primary: 'ben', secondary: 'ana' },
      { name: 'mid-week', at: '2026-03-12T03:00:00Z', primary: 'ben', secondary: 'ana' },
      { name: 'the third week is the first responder again', at: '2026-03-16T12:00:00Z', primary: 'ana', secondary: 'ben' },
    ]);
  });

  describe('a weekly rotation that starts on a Thursday: its first shift ends at the first Monday hand-off', () => {
    table(rotation({ time_zone: 'America/New_York', rotation: 'weekly', handoff_weekday: 1, handoff_time: '08:00', start_date: '2026-03-05', responders: ['ana', 'ben', 'cai'] }), [
      { name: 'nobody before Thursday 08:00', at: '2026-03-05T12:59:00Z', primary: null, secondary: null },
      { name: 'the short first shift', at: '2026-03-05T13:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'the first Monday hand-off', at: '2026-03-09T12:00:00Z', primary: 'ben', secondary: 'cai' },
      { name: 'a full week later', at: '2026-03-16T12:00:00Z', primary: 'cai', secondary: 'ana' },
    ]);
  });

  describe('Asia/Shanghai (UTC+8, no DST) with a secondary rotation of its own', () => {
    table(rotation({ time_zone: 'Asia/Shanghai', handoff_time: '08:30', start_date: '2026-11-20', responders: ['ana', 'ben', 'cai'], secondary_responders: ['xu', 'yan'] }), [
      { name: '08:30 CST is 00:30 UTC', at: '2026-11-20T00:30:00Z', primary: 'ana', secondary: 'xu' },
      { name: 'the local day, not the UTC day, decides: 08:29 CST on the 21st', at: '2026-11-21T00:29:59Z', primary: 'ana', secondary: 'xu' },
      { name: 'the next hand-off', at: '2026-11-21T00:30:00Z', primary: 'ben', secondary: 'yan' },
      { name: 'each rotation wraps at its own length', at: '2026-11-22T00:30:00Z', primary: 'cai', secondary: 'xu' },
    ]);
  });

  describe('a hand-off at midnight in Asia/Shanghai is 16:00 UTC the day before', () => {
    table(rotation({ time_zone: 'Asia/Shanghai', handoff_time: '00:00', start_date: '2026-11-21', responders: ['ana', 'ben'] }), [
      { name: 'before', at: '2026-11-20T15:59:59Z', primary: null, secondary: null },
      { name: 'at midnight CST', at: '2026-11-20T16:00:00Z', primary: 'ana', secondary: 'ben' },
      { name: 'the next midnight', at: '2026-11-21T16:00:00Z', primary: 'ben', secondary: 'ana' },
    ]);
  });

  describe('hand-off times that a DST change skips or repeats (America/New_York)', () => {
    describe('02:30 does not exist on 8 March 2026: that hand-off happens at 03:30 EDT', () => {
      table(rotation({ time_zone: 'America/New_York', handoff_time: '02:30', start_date: '2026-03-06', responders: ['ana', 'ben'] }), [
        { name: '02:30 EST on the 7th', at: '2026-03-07T07:30:00Z', primary: 'ben', secondary: 'ana' },
        { name: '03:00 EDT on the 8th, still the shift before', at: '2026-03-08T07:00:00Z', primary: 'ben', secondary: 'ana' },
        { name: '03:30 EDT on the 8th', at: '2026-03-08T07:30:00Z', primary: 'ana', secondary: 'ben' },
        { name: '02:30 EDT on the 9th', at: '2026-03-09T06:30:00Z', primary: 'ben', secondary: 'ana' },
      ]);
    });
    describe('01:30 happens twice on 1 November 2026: the hand-off is the second, in EST', () => {
      table(rotation({ time_zone: 'America/New_York', handoff_time: '01:30', start_date: '2026-10-31', responders: ['ana', 'ben'] }), [
        { name: '01:30 EDT, the first time', at: '2026-11-01T05:30:00Z', primary: 'ana', secondary: 'ben' },
        { name: '01:30 EST, the second time', at: '2026-11-01T06:30:00Z', primary: 'ben', secondary: 'ana' },
      ]);
    });
  });

  it('has no secondary when the rotation has one responder and no secondary rotation', () => {
    expect(onCallAt(rotation({ responders: ['ana'] }), [], at('2026-05-01T12:00:00Z'))).toEqual({ primary: 'ana', secondary: null });
  });

  describe('overrides (London, daily 09:00 from 27 March 2026: ana, ben, cai, dov)', () => {
    const schedule = rotation({ time_zone: 'Europe/London', start_date: '2026-03-27', responders: ['ana', 'ben', 'cai', 'dov'] });
    const overrides: Cover[] = [
      // ben's shift on the 28th is a holiday: eve covers it, to the minute of the hand-off.
      { layer: 'primary', responder: 'eve', from: at('2026-03-28T09:00:00Z'), to: at('2026-03-29T08:00:00Z') },
      // cai and dov swap the 29th and the 30th.
      { layer: 'primary', responder: 'dov', from: at('2026-03-29T08:00:00Z'), to: at('2026-03-30T08:00:00Z') },
      { layer: 'primary', responder: 'cai', from: at('2026-03-30T08:00:00Z'), to: at('2026-03-31T08:00:00Z') },
      // The secondary layer has its own: ana stands in for the afternoon of the 31st…
      { layer: 'secondary', responder: 'ana', from: at('2026-03-31T12:00:00Z'), to: at('2026-03-31T18:00:00Z') },
      // …but a later override of the same hours wins.
      { layer: 'secondary', responder: 'eve', from: at('2026-03-31T14:00:00Z'), to: at('2026-03-31T15:00:00Z') },
      // An override needs no schedule to have started.
      { layer: 'primary', responder: 'eve', from: at('2026-03-01T00:00:00Z'), to: at('2026-03-02T00:00:00Z') },
    ];
    table(
      schedule,
      [
        { name: 'the holiday replaces the primary only', at: '2026-03-28T09:00:00Z', primary: 'eve', secondary: 'cai' },
        { name: 'the holiday ends at its end', at: '2026-03-29T07:59:59Z', primary: 'eve', secondary: 'cai' },
        { name: 'a swap, one way', at: '2026-03-29T08:00:00Z', primary: 'dov', secondary: 'dov' },
        { name: 'a swap, the other way', at: '2026-03-30T09:00:00Z', primary: 'cai', secondary: 'ana' },
        { name: 'after the overrides, the rotation as scheduled', at: '2026-03-31T08:00:00Z', primary: 'ana', secondary: 'ben' },
        { name: 'a secondary override', at: '2026-03-31T12:00:00Z', primary: 'ana', secondary: 'ana' },
        { name: 'the later of two overlapping overrides wins', at: '2026-03-31T14:30:00Z', primary: 'ana', secondary: 'eve' },
        { name: 'the earlier one resumes when the later one ends', at: '2026-03-31T15:00:00Z', primary: 'ana', secondary: 'ana' },
        { name: 'an override before the schedule starts', at: '2026-03-01T12:00:00Z', primary: 'eve', secondary: null },
      ],
      overrides,
    );
  });
});

describe('schedule validation', () => {
  const valid = { id: 'lifts', team: 'lift-a', name: 'Lifts', time_zone: 'Asia/Shanghai', rotation: 'daily', handoff_time: '08:30', handoff_weekday: null, start_date: '2026-11-20', responders: ['ana'], secondary_responders: null };

  it.each([
    ['time_zone', { time_zone: 'Asia/Beijing' }],
    ['time_zone', { time_zone: 'Mars/Olympus_Mons' }],
    ['handoff_time', { handoff_time: '24:00' }],
    ['handoff_time', { handoff_time: '8:30' }],
    ['start_date', { start_date: '2026-02-30' }],
    ['responders', { responders: [] }],
    ['responders', { responders: ['manager'] }],
  ])('refuses a bad %s', (field, change) => {
    const result = Schedule.safeParse({ ...valid, ...change });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path[0]).toBe(field);
  });

  it('checks the cross-field rules by name', () => {
    expect(Schedule.safeParse(valid).success).toBe(true);
    expect(scheduleIssues({ rotation: 'weekly', handoff_weekday: null, responders: ['ana', 'ben', 'ana'], secondary_responders: null })).toEqual([
      { path: ['handoff_weekday'], message: 'a weekly rotation needs the weekday it hands off on (1 = Monday … 7 = Sunday)' },
      { path: ['responders', 2], message: '"ana" is in the rotation twice' },
    ]);
    expect(scheduleIssues({ rotation: 'daily', handoff_weekday: 3, responders: ['ana'], secondary_responders: null })).toEqual([
      { path: ['handoff_weekday'], message: 'a daily rotation hands off every day: set it to null' },
    ]);
  });
});

describe('escalationPlan', () => {
  const raised = at('2026-11-22T08:00:00Z');
  const steps: EscalationPolicy['steps'] = [
    { after_minutes: 0, targets: ['primary'], channels: ['wecom', 'sms'] },
    { after_minutes: 10, targets: ['secondary'], channels: ['sms'] },
    { after_minutes: 15, targets: ['manager', 'ana'], channels: ['sms', 'email'] },
  ];
  const times = (plan: ReturnType<typeof escalationPlan>) => plan.map((page) => [page.round, page.step, (page.at - raised) / MINUTE]);

  it('pages each step after the one before, the first at the alarm', () => {
    expect(escalationPlan({ steps, repeat: 0, repeat_after_minutes: 30 }, raised)).toEqual([
      { round: 1, step: 1, at: raised, targets: ['primary'], channels: ['wecom', 'sms'] },
      { round: 1, step: 2, at: raised + 10 * MINUTE, targets: ['secondary'], channels: ['sms'] },
      { round: 1, step: 3, at: raised + 25 * MINUTE, targets: ['manager', 'ana'], channels: ['sms', 'email'] },
    ]);
  });

  it('repeats every step, each round starting repeat_after_minutes after the last page of the one before', () => {
    expect(times(escalationPlan({ steps, repeat: 2, repeat_after_minutes: 30 }, raised))).toEqual([
      [1, 1, 0],
      [1, 2, 10],
      [1, 3, 25],
      [2, 1, 55],
      [2, 2, 65],
      [2, 3, 80],
      [3, 1, 110],
      [3, 2, 120],
      [3, 3, 135],
    ]);
  });

  it('waits for a first step that is delayed, in every round', () => {
    const delayed = [{ after_minutes: 5, targets: ['primary'], channels: ['sms'] }] satisfies EscalationPolicy['steps'];
    expect(times(escalationPlan({ steps: delayed, repeat: 1, repeat_after_minutes: 20 }, raised))).toEqual([
      [1, 1, 5],
      [2, 1, 30],
    ]);
  });
});

/** The store's suite, run on each relational adapter. */
function storeSuite(adapter: string, open: () => Promise<SqlHarness>) {
  describe(`the on-call store on ${adapter}`, () => {
    let opened: SqlHarness | undefined;
    let db: SqlClient;
    let oncall: OnCall;
    const clock = { now: at('2026-11-22T02:00:00Z') };

    const team = (id: string, trade: 'elevator' | 'electrical' | 'general', sites: string[], contractor: string | null = null) =>
      oncall.createTeam({ id, name: id, trade, sites, contractor, channels: [] });
    const responder = (id: string, teamId: string, role: 'technician' | 'manager' = 'technician') =>
      oncall.createResponder({ id, team: teamId, name: id.toUpperCase(), user_id: null, email: `${id}@example.com`, phone: null, role });

    beforeAll(async () => {
      opened = await open();
      db = opened.db;
      await migrate(db);
      oncall = new OnCall(db, () => clock.now);
      await team('lifts-all', 'elevator', ['*'], 'Otis Shanghai');
      await team('lifts-a', 'elevator', ['tower-a']);
      await team('lifts-b-2', 'elevator', ['tower-b']);
      await team('lifts-b-1', 'elevator', ['tower-b', 'tower-c']);
      await team('power', 'electrical', ['tower-a', 'tower-b']);
      await team('caretakers', 'general', ['*']);
      for (const id of ['ana', 'ben', 'cai']) await responder(id, 'lifts-a');
      await responder('mia', 'lifts-a', 'manager');
      await responder('max', 'lifts-a', 'manager');
      await responder('zoe', 'power');
    });

    afterAll(() => opened?.close());

    describe('teamFor', () => {
      it.each([
        ['tower-a', 'elevator', 'lifts-a', 'a team naming the site beats one serving every site'],
        ['tower-z', 'elevator', 'lifts-all', 'an all-sites team serves any other site'],
        ['tower-b', 'elevator', 'lifts-b-1', 'between two teams naming the site, the first by id'],
        ['tower-b', 'electrical', 'power', 'a team of several sites serves each'],
        ['tower-c', 'electrical', null, 'none: the caller falls back to the general trade'],
        ['tower-c', 'general', 'caretakers', 'the general fallback'],
      ] as const)('%s, %s → %s: %s', async (site, trade, expected, _why) => {
        expect((await oncall.teamFor(site, trade))?.id ?? null).toBe(expected);
      });
    });

    it('keeps what it is given: contractor, channels, sites', async () => {
      await oncall.createTeam({ id: 'doors', name: 'Doors', trade: 'access', sites: ['tower-a'], contractor: null, channels: [{ kind: 'wecom', group: 'doors-a' }] });
      expect(await oncall.getTeam('doors')).toEqual({ id: 'doors', name: 'Doors', trade: 'access', sites: ['tower-a'], contractor: null, channels: [{ kind: 'wecom', group: 'doors-a' }] });
      expect(await oncall.getTeam('lifts-all')).toMatchObject({ sites: ['*'], contractor: 'Otis Shanghai' });
    });

    it('refuses a second team, responder or schedule with a taken id', async () => {
      await expect(team('lifts-a', 'elevator', ['tower-a'])).rejects.toMatchObject({ code: 'exists', subject: 'lifts-a' });
      await expect(responder('ana', 'power')).rejects.toMatchObject({ code: 'exists', subject: 'ana' });
    });

    it('links a responder to a hub user that exists, and only then', async () => {
      const people = new People(db);
      const user = await people.createUser({ username: 'ana.tech', role: 'technician', sites: ['tower-a'], password: 'a long enough password' });
      const ana = (await oncall.getResponder('ana'))!;
      expect(await oncall.updateResponder({ ...ana, user_id: user.id })).toMatchObject({ user_id: user.id });
      await expect(oncall.updateResponder({ ...ana, user_id: 999_999 })).rejects.toMatchObject({ code: 'unknown_user', issues: [{ path: ['user_id'] }] });
    });

    describe('schedules, overrides and resolveTargets', () => {
      beforeAll(async () => {
        await oncall.createSchedule({
          id: 'lifts-a-days',
          team: 'lifts-a',
          name: 'Lifts, tower A',
          time_zone: 'Asia/Shanghai',
          rotation: 'daily',
          handoff_time: '08:30',
          handoff_weekday: null,
          start_date: '2026-11-20',
          responders: ['ana', 'ben', 'cai'],
          secondary_responders: null,
        });
      });

      it('refuses a rotation of responders who are not the team’s, naming each', async () => {
        const refusal = await oncall
          .createSchedule({ ...(await oncall.getSchedule('lifts-a-days'))!, id: 'other', responders: ['ana', 'zoe', 'nobody'] })
          .catch((error: unknown) => error);
        expect(refusal).toBeInstanceOf(OnCallRefusal);
        expect(refusal).toMatchObject({
          code: 'not_in_team',
          issues: [
            { path: ['responders', 1], message: 'no responder "zoe" in team "lifts-a"' },
            { path: ['responders', 2], message: 'no responder "nobody" in team "lifts-a"' },
          ],
        });
        expect(await oncall.getSchedule('other')).toBeUndefined();
      });

      it('reads a schedule back as written', async () => {
        expect(await oncall.getSchedule('lifts-a-days')).toMatchObject({ start_date: '2026-11-20', handoff_weekday: null, responders: ['ana', 'ben', 'cai'] });
        const weekly = await oncall.createSchedule({ ...(await oncall.getSchedule('lifts-a-days'))!, id: 'lifts-a-weeks', rotation: 'weekly', handoff_weekday: 1 });
        expect(weekly).toMatchObject({ rotation: 'weekly', handoff_weekday: 1 });
        await oncall.deleteSchedule('lifts-a-weeks');
      });

      it('pages the on-call primary and secondary, the managers and named responders, once each', async () => {
        // 22 November 10:00 CST: the third shift, cai's, with ana next in the rotation.
        const when = at('2026-11-22T02:00:00Z');
        const paged = await oncall.resolveTargets('lifts-a', ['primary', 'secondary', 'manager', 'cai', 'mia'], when);
        expect(paged.map((p) => [p.id, p.as])).toEqual([
          ['cai', 'primary'],
          ['ana', 'secondary'],
          ['max', 'manager'],
          ['mia', 'manager'],
        ]);
        expect(paged[0]).toMatchObject({ name: 'CAI', email: 'cai@example.com', phone: null, role: 'technician', team: 'lifts-a' });
      });

      it('follows overrides, and says who is on call now by the clock', async () => {
        const holiday = await oncall.addOverride('lifts-a', {
          schedule: 'lifts-a-days',
          layer: 'primary',
          responder: 'ben',
          from: at('2026-11-22T00:30:00Z'),
          to: at('2026-11-23T00:30:00Z'),
          reason: 'swap',
        });
        expect(holiday.id).toBeTypeOf('number');
        expect(holiday).toMatchObject({ from: at('2026-11-22T00:30:00Z'), to: at('2026-11-23T00:30:00Z') });
        expect((await oncall.resolveTargets('lifts-a', ['primary'], at('2026-11-22T02:00:00Z'))).map((p) => p.id)).toEqual(['ben']);
        expect(await oncall.whoIsOnCall((await oncall.getSchedule('lifts-a-days'))!)).toMatchObject({ at: clock.now, primary: { id: 'ben' }, secondary: { id: 'ana' } });
        await expect(oncall.addOverride('lifts-a', { ...holiday, responder: 'zoe' })).rejects.toMatchObject({ code: 'not_in_team', issues: [{ path: ['responder'] }] });
        expect(await oncall.deleteOverride('lifts-a-days', holiday.id)).toEqual(holiday);
        expect(await oncall.listOverrides('lifts-a-days')).toEqual([]);
      });

      it('finds nobody on call in a team without schedules, but still its managers and named responders', async () => {
        await oncall.createResponder({ id: 'sol', team: 'power', name: 'Sol', user_id: null, email: null, phone: '+86 138 0013 8000', role: 'manager' });
        expect((await oncall.resolveTargets('power', ['primary', 'secondary', 'manager', 'zoe', 'ana'], clock.now)).map((p) => [p.id, p.as])).toEqual([
          ['sol', 'manager'],
          ['zoe', 'zoe'],
        ]);
      });
    });

    describe('escalation policies', () => {
      const policy: EscalationPolicy = {
        id: 'lifts-a-policy',
        team: 'lifts-a',
        steps: [
          { after_minutes: 0, targets: ['primary'], channels: ['wecom'] },
          { after_minutes: 10, targets: ['secondary', 'mia'], channels: ['sms'] },
        ],
        repeat: 1,
        repeat_after_minutes: 30,
      };

      it('keeps one policy per team', async () => {
        expect(await oncall.policyOf('lifts-a')).toBeNull();
        expect(await oncall.createPolicy(policy)).toEqual(policy);
        expect(await oncall.policyOf('lifts-a')).toEqual(policy);
        await expect(oncall.createPolicy({ ...policy, id: 'another' })).rejects.toMatchObject({ code: 'team_has_policy', subject: 'lifts-a' });
      });

      it('names only the team’s responders in its steps', async () => {
        const foreign = { ...policy, steps: [{ after_minutes: 0, targets: ['primary', 'zoe'], channels: ['sms'] }] } satisfies EscalationPolicy;
        await expect(oncall.updatePolicy(foreign)).rejects.toMatchObject({ code: 'not_in_team', issues: [{ path: ['steps', 0, 'targets', 1] }] });
      });

      it('refuses to delete a responder a rotation or a step names, and says which', async () => {
        await expect(oncall.deleteResponder('mia')).rejects.toThrow(new OnCallRefusal('in_use', 'mia', 'responder "mia" is still named by escalation policy "lifts-a-policy": take them out of it first'));
        await expect(oncall.deleteResponder('ben')).rejects.toThrow('responder "ben" is still named by schedule "lifts-a-days"');
        expect(await oncall.deleteResponder('max')).toMatchObject({ id: 'max' });
      });

      it('goes with its team, as do the responders and schedules', async () => {
        expect(await oncall.deleteTeam('lifts-a')).toMatchObject({ id: 'lifts-a' });
        expect(await oncall.policyOf('lifts-a')).toBeNull();
        expect(await oncall.getSchedule('lifts-a-days')).toBeUndefined();
        expect(await oncall.getResponder('ana')).toBeUndefined();
      });
    });
  });
}

storeSuite('PGlite', emptyEmbeddedDatabase);
storeSuite('a PostgreSQL server', emptyPostgresDatabase);
