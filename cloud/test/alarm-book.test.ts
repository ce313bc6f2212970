import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_FLAPPING, type AlarmBook, type AlarmInput, type AlarmOutcome, type AlarmRecord } from '../src/index.js';
import { memoryStores } from './support.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const WINDOW = DEFAULT_FLAPPING.windowMs;

/**
 * The hub's alarm book over PGlite, on a clock the tests move. The tests share one database
 * (making one takes seconds) and keep apart by a source of their own and a day of their own.
 */
describe('AlarmBook', () => {
  const clock = { now: Date.UTC(2026, 10, 22, 8, 0, 0) };
  let stores: Awaited<ReturnType<typeof memoryStores>>;
  let alarms: AlarmBook;
  let serial = 0;
  /** This test's meter, and the start of its day. */
  let source: string;
  let t0: number;

  beforeAll(async () => {
    stores = await memoryStores(() => clock.now);
    alarms = stores.alarms;
  });
  afterAll(() => stores.db.close());
  beforeEach(() => {
    clock.now += DAY;
    t0 = clock.now;
    source = `tower-a.gw-01.meter-${++serial}`;
  });

  /** A transition of this test's alarm at `ts`, which the hub hears then (or later, for a replay). */
  const transition = (state: AlarmInput['state'], ts: number, more: Partial<AlarmInput> = {}): Promise<AlarmOutcome> => {
    clock.now = Math.max(clock.now, ts);
    return alarms.apply({ site: 'tower-a', gateway: 'gw-01', source, rule: 'over_voltage', state, severity: 'major', ts, message: `over_voltage ${state}`, ...more });
  };
  const raise = (ts: number, more?: Partial<AlarmInput>) => transition('raised', ts, more);
  const clear = (ts: number, more?: Partial<AlarmInput>) => transition('cleared', ts, more);
  const alarmOf = (outcome: AlarmOutcome): AlarmRecord => {
    if (!('alarm' in outcome)) throw new Error(`the transition touched no alarm: ${JSON.stringify(outcome)}`);
    return outcome.alarm;
  };
  const kindsOf = async (id: number) => (await alarms.history(id)).map((entry) => entry.kind);
  /** The alarm and its history: what an ignored transition must leave as it was. */
  const stateOf = async (id: number) => ({ alarm: await alarms.get(id), history: await alarms.history(id) });

  it('makes one active alarm of a first raise, episode 1, with the raise in its history', async () => {
    const outcome = await raise(t0, { message: 'L1 at 253.1 V, over 250 V', value: 253.1 });

    expect(outcome).toMatchObject({ kind: 'raised', pageable: true });
    const alarm = alarmOf(outcome);
    expect(alarm).toMatchObject({
      site: 'tower-a',
      source,
      rule: 'over_voltage',
      state: 'active',
      input_state: 'raised',
      episode: 1,
      raised_at: t0,
      cleared_at: null,
      acknowledged: false,
      flapping: false,
      message: 'L1 at 253.1 V, over 250 V',
      value: 253.1,
    });
    expect(await alarms.list({ source, limit: 10 })).toEqual([alarm]);
    expect(await alarms.history(alarm.id)).toEqual([
      { at: t0, kind: 'raised', actor: null, detail: { severity: 'major', message: 'L1 at 253.1 V, over 250 V', value: 253.1 } },
    ]);
  });

  it('updates message, value and severity on a repeat raise, without a new episode', async () => {
    const first = alarmOf(await raise(t0, { value: 251 }));

    const repeat = await raise(t0 + MINUTE, { severity: 'critical', message: 'L1 at 258 V', value: 258 });

    expect(repeat).toMatchObject({ kind: 'updated', alarm: { id: first.id, episode: 1, raised_at: t0, severity: 'critical', message: 'L1 at 258 V', value: 258 } });
    expect(await kindsOf(first.id)).toEqual(['raised']);
  });

  // The alarm raised at t0 + 1 min and cleared at t0 + 5 min; these come again, or late.
  it.each([
    { replay: 'the raise again', state: 'raised', at: 1 },
    { replay: 'the clear again', state: 'cleared', at: 5 },
    { replay: 'a raise at the time of the clear', state: 'raised', at: 5 },
    { replay: 'a raise from before the clear', state: 'raised', at: 4 },
    { replay: 'a clear from before the raise', state: 'cleared', at: 0 },
  ] as const)('ignores a replayed transition ($replay) and changes nothing', async ({ state, at }) => {
    const { id } = alarmOf(await raise(t0 + MINUTE, { value: 251 }));
    await clear(t0 + 5 * MINUTE);
    const before = await stateOf(id);

    expect(await transition(state, t0 + at * MINUTE, { message: 'replayed', value: 999 })).toEqual({ kind: 'ignored', reason: 'replay' });

    expect(await stateOf(id)).toEqual(before);
  });

  it('starts episode 2 when a cleared alarm raises again, with its acknowledgement reset', async () => {
    const { id } = alarmOf(await raise(t0));
    clock.now = t0 + MINUTE;
    await alarms.acknowledge(id, 'Ana Li');

    expect(await clear(t0 + 2 * MINUTE)).toMatchObject({ kind: 'cleared', alarm: { state: 'cleared', input_state: 'cleared', cleared_at: t0 + 2 * MINUTE, episode: 1 } });
    expect(await clear(t0 + 3 * MINUTE)).toEqual({ kind: 'ignored', reason: 'unchanged' });
    expect(await raise(t0 + 4 * MINUTE)).toMatchObject({
      kind: 'raised',
      pageable: true,
      alarm: { id, state: 'active', episode: 2, raised_at: t0 + 4 * MINUTE, cleared_at: null, acknowledged: false, acknowledged_by: null, acknowledged_at: null },
    });
    expect(await kindsOf(id)).toEqual(['raised', 'acknowledged', 'cleared', 'raised']);
  });

  it('ignores a clear of an alarm that never raised, and lists nothing for it', async () => {
    expect(await clear(t0)).toEqual({ kind: 'ignored', reason: 'unchanged' });
    expect(await alarms.list({ source, limit: 10 })).toEqual([]);

    expect(await raise(t0 + MINUTE)).toMatchObject({ kind: 'raised', alarm: { episode: 1, raised_at: t0 + MINUTE } });
  });

  /** Raise, clear, raise, … a minute apart: seven transitions, the last a raise, within the window. */
  async function flap(): Promise<{ outcomes: AlarmOutcome[]; last: number }> {
    const outcomes: AlarmOutcome[] = [];
    for (let i = 0; i < DEFAULT_FLAPPING.transitions + 1; i++) outcomes.push(await transition(i % 2 === 0 ? 'raised' : 'cleared', t0 + i * MINUTE));
    return { outcomes, last: t0 + DEFAULT_FLAPPING.transitions * MINUTE };
  }

  it('holds an alarm active once it changed more than 6 times in 10 minutes, recording what its input says', async () => {
    const { outcomes, last } = await flap();
    expect(outcomes.map((outcome) => outcome.kind)).toEqual(['raised', 'cleared', 'raised', 'cleared', 'raised', 'cleared', 'flapping']);
    const { id } = alarmOf(outcomes.at(-1)!);
    expect(await alarms.get(id)).toMatchObject({ state: 'active', input_state: 'raised', flapping: true });

    expect(await clear(last + MINUTE)).toEqual({ kind: 'ignored', reason: 'held_flapping' });
    expect(await alarms.get(id)).toMatchObject({ state: 'active', input_state: 'cleared', flapping: true, cleared_at: null });
    expect(await raise(last + 2 * MINUTE)).toEqual({ kind: 'ignored', reason: 'held_flapping' });
    expect(await alarms.get(id)).toMatchObject({ state: 'active', input_state: 'raised', flapping: true });
    expect((await kindsOf(id)).filter((kind) => kind === 'flapping')).toHaveLength(1);
  });

  it('does not count transitions that have left the window: seven over 12 minutes are not flapping', async () => {
    const kinds: string[] = [];
    for (let i = 0; i < 7; i++) kinds.push((await transition(i % 2 === 0 ? 'raised' : 'cleared', t0 + i * 2 * MINUTE)).kind);

    expect(kinds).toEqual(['raised', 'cleared', 'raised', 'cleared', 'raised', 'cleared', 'raised']);
  });

  it.each([
    { settled: 'cleared', state: 'cleared', clearedByIt: true },
    // Paged for when it first raised: nothing more to do than to stop holding it.
    { settled: 'raised', state: 'active', clearedByIt: false },
  ] as const)('ends flapping after a quiet window; an input settled $settled leaves the alarm $state', async ({ settled, state, clearedByIt }) => {
    const { outcomes, last } = await flap();
    const { id } = alarmOf(outcomes.at(-1)!);
    const quietFrom = settled === 'cleared' ? last + MINUTE : last;
    if (settled === 'cleared') await clear(quietFrom);

    clock.now = quietFrom + WINDOW;
    expect((await alarms.settleFlapping()).map((alarm) => alarm.id)).not.toContain(id);
    expect(await alarms.get(id)).toMatchObject({ state: 'active', flapping: true });

    clock.now = quietFrom + WINDOW + 1;
    expect((await alarms.settleFlapping()).map((alarm) => alarm.id).includes(id)).toBe(clearedByIt);
    expect(await alarms.get(id)).toMatchObject({ state, input_state: settled, flapping: false, cleared_at: clearedByIt ? clock.now : null });
    expect((await alarms.history(id)).at(-1)).toEqual({ at: clock.now, kind: 'flapping_ended', actor: null, detail: { settled } });
    // An ordinary alarm again: the next change applies.
    expect((await transition(settled === 'cleared' ? 'raised' : 'cleared', clock.now)).kind).toBe(settled === 'cleared' ? 'raised' : 'cleared');
  });

  it.each([
    {
      ends: 'the shelf time passes',
      end: async (_id: number, until: number) => {
        clock.now = until + MINUTE;
      },
    },
    {
      ends: 'it is taken off the shelf',
      end: async (id: number) => {
        await alarms.shelve(id, null, 'Ben Wu', null);
      },
    },
  ])('pages for no raise while an alarm is shelved, and again once $ends', async ({ end }) => {
    const { id } = alarmOf(await raise(t0));
    await clear(t0 + MINUTE);
    clock.now = t0 + 2 * MINUTE;
    const until = clock.now + 60 * MINUTE;

    expect(await alarms.shelve(id, until, 'Ben Wu', 'meter being replaced')).toMatchObject({ shelved_until: until, shelved_by: 'Ben Wu' });
    expect((await alarms.history(id)).at(-1)).toEqual({ at: clock.now, kind: 'shelved', actor: 'Ben Wu', detail: { until, reason: 'meter being replaced' } });

    clock.now = t0 + 30 * MINUTE;
    expect(await raise(clock.now)).toMatchObject({ kind: 'raised', pageable: false, alarm: { episode: 2 } });
    await clear(clock.now + MINUTE);

    await end(id, until);
    expect(await raise(clock.now + 2 * MINUTE)).toMatchObject({ kind: 'raised', pageable: true, alarm: { episode: 3 } });
  });

  it('records who acknowledged an alarm and when, once', async () => {
    const { id } = alarmOf(await raise(t0));
    clock.now = t0 + 5 * MINUTE;

    expect(await alarms.acknowledge(id, 'Ana Li')).toMatchObject({ acknowledged: true, acknowledged_by: 'Ana Li', acknowledged_at: t0 + 5 * MINUTE });
    clock.now += MINUTE;
    expect(await alarms.acknowledge(id, 'Ben Wu')).toMatchObject({ acknowledged_by: 'Ana Li', acknowledged_at: t0 + 5 * MINUTE });

    expect((await alarms.history(id)).filter((entry) => entry.kind === 'acknowledged')).toEqual([
      { at: t0 + 5 * MINUTE, kind: 'acknowledged', actor: 'Ana Li', detail: {} },
    ]);
  });

  it('answers nothing when asked to acknowledge or shelve an alarm that does not exist', async () => {
    expect(await alarms.acknowledge(987_654, 'Ana Li')).toBeUndefined();
    expect(await alarms.shelve(987_654, t0 + MINUTE, 'Ana Li', 'no such alarm')).toBeUndefined();
  });

  describe('list', () => {
    const SITES = ['list-a', 'list-b'];
    const listed = async (filter: Partial<Parameters<AlarmBook['list']>[0]>) =>
      (await alarms.list({ sites: SITES, limit: 100, ...filter })).map((alarm) => alarm.source);

    beforeAll(async () => {
      const t = clock.now + DAY;
      const at = (site: string, meter: string, state: AlarmInput['state'], severity: AlarmInput['severity'], ts: number) =>
        alarms.apply({ site, gateway: 'gw-01', source: `${site}.gw-01.${meter}`, rule: 'over_voltage', state, severity, ts, message: meter });
      const acknowledged = alarmOf(await at('list-a', 'meter-1', 'raised', 'major', t));
      await alarms.acknowledge(acknowledged.id, 'Ana Li');
      await at('list-a', 'meter-2', 'raised', 'critical', t + MINUTE);
      await at('list-b', 'meter-1', 'raised', 'minor', t + 2 * MINUTE);
      await at('list-b', 'meter-1', 'cleared', 'minor', t + 3 * MINUTE);
      await at('list-b', 'meter-2', 'raised', 'warning', t + 4 * MINUTE);
      // Never raised: not an alarm anybody saw.
      await at('list-a', 'meter-3', 'cleared', 'major', t + 5 * MINUTE);
    });

    it.each([
      { filter: {}, sources: ['list-b.gw-01.meter-2', 'list-a.gw-01.meter-2', 'list-a.gw-01.meter-1', 'list-b.gw-01.meter-1'] },
      { filter: { sites: ['list-a'] }, sources: ['list-a.gw-01.meter-2', 'list-a.gw-01.meter-1'] },
      { filter: { state: 'cleared' }, sources: ['list-b.gw-01.meter-1'] },
      { filter: { state: 'active' }, sources: ['list-b.gw-01.meter-2', 'list-a.gw-01.meter-2', 'list-a.gw-01.meter-1'] },
      { filter: { severity: 'critical' }, sources: ['list-a.gw-01.meter-2'] },
      { filter: { acknowledged: true }, sources: ['list-a.gw-01.meter-1'] },
      { filter: { acknowledged: false }, sources: ['list-b.gw-01.meter-2', 'list-a.gw-01.meter-2', 'list-b.gw-01.meter-1'] },
      { filter: { source: 'list-b.gw-01.meter-1' }, sources: ['list-b.gw-01.meter-1'] },
      { filter: { limit: 2 }, sources: ['list-b.gw-01.meter-2', 'list-a.gw-01.meter-2'] },
    ] as const)('lists active alarms first, newest first, by $filter', async ({ filter, sources }) => {
      expect(await listed(filter)).toEqual(sources);
    });
  });
});
