import { describe, expect, it } from 'vitest';
import { AlarmEngine, AlarmRules, fieldIssues, type AlarmRule, type Reading } from '../src/index.js';

const T0 = Date.UTC(2026, 10, 22, 3, 0, 0);
const rules = (list: unknown[]): AlarmRule[] => AlarmRules.parse(list);
const good = (device: string, point: string, value: Reading['value'], ts: number): Reading => ({ device, point, value, ts, quality: 'good' });
const kinds: Record<string, 'electric_meter' | 'elevator'> = { 'meter-1': 'electric_meter', 'lift-1': 'elevator' };
const engine = (list: unknown[]) => new AlarmEngine({ rules: rules(list), kindOf: (device) => kinds[device], now: () => T0 });
const states = (transitions: Array<{ state: string }>) => transitions.map((t) => t.state);

describe('threshold rules', () => {
  const high = { id: 'high-voltage', type: 'threshold', point: 'voltage_l1_v', above: 253, deadband: 3, severity: 'major' };

  it('raise above the limit and clear only once back below it by the deadband', () => {
    const e = engine([high]);
    expect(e.readings([good('meter-1', 'voltage_l1_v', 250, T0)])).toEqual([]);
    const raised = e.readings([good('meter-1', 'voltage_l1_v', 254.2, T0 + 1000)]);
    expect(raised).toEqual([
      expect.objectContaining({ device: 'meter-1', rule: 'high-voltage', state: 'raised', severity: 'major', value: 254.2, ts: T0 + 1000 }),
    ]);
    expect(raised[0]?.message).toBe('voltage_l1_v 254.2 above 253');
    expect(e.readings([good('meter-1', 'voltage_l1_v', 251, T0 + 2000)])).toEqual([]); // inside the deadband: still high
    expect(states(e.readings([good('meter-1', 'voltage_l1_v', 249.9, T0 + 3000)]))).toEqual(['cleared']);
  });

  it('wait out the on-delay before raising and the off-delay before clearing', () => {
    const e = engine([{ ...high, on_delay_ms: 10_000, off_delay_ms: 5000 }]);
    expect(e.readings([good('meter-1', 'voltage_l1_v', 260, T0)])).toEqual([]);
    expect(e.tick(T0 + 9999)).toEqual([]);
    expect(states(e.tick(T0 + 10_000))).toEqual(['raised']);
    expect(e.readings([good('meter-1', 'voltage_l1_v', 240, T0 + 11_000)])).toEqual([]);
    // Back above before the off-delay ran out: the alarm never cleared.
    expect(e.readings([good('meter-1', 'voltage_l1_v', 260, T0 + 14_000)])).toEqual([]);
    expect(e.readings([good('meter-1', 'voltage_l1_v', 240, T0 + 15_000)])).toEqual([]);
    expect(states(e.tick(T0 + 20_000))).toEqual(['cleared']);
  });

  it('ignore a spike shorter than the on-delay', () => {
    const e = engine([{ ...high, on_delay_ms: 10_000 }]);
    e.readings([good('meter-1', 'voltage_l1_v', 260, T0)]);
    e.readings([good('meter-1', 'voltage_l1_v', 230, T0 + 2000)]);
    expect(e.tick(T0 + 60_000)).toEqual([]);
  });

  it('watch a low limit too, and ignore readings that are not good', () => {
    const e = engine([{ id: 'low-frequency', type: 'threshold', point: 'frequency_hz', below: 49.5, severity: 'minor' }]);
    expect(e.readings([{ device: 'meter-1', point: 'frequency_hz', value: null, ts: T0, quality: 'bad' }])).toEqual([]);
    expect(states(e.readings([good('meter-1', 'frequency_hz', 49.2, T0)]))).toEqual(['raised']);
  });
});

describe('rate of change, stale data and comm loss', () => {
  it('raise when a meter jumps faster than physically possible', () => {
    const e = engine([{ id: 'energy-jump', type: 'rate_of_change', point: 'energy_import_kwh', max_per_hour: 500, severity: 'warning' }]);
    e.readings([good('meter-1', 'energy_import_kwh', 1000, T0)]);
    expect(e.readings([good('meter-1', 'energy_import_kwh', 1001, T0 + 60_000)])).toEqual([]); // 60 kWh/h
    expect(states(e.readings([good('meter-1', 'energy_import_kwh', 1101, T0 + 120_000)]))).toEqual(['raised']); // 6000 kWh/h
  });

  it('raise when no good reading came for the period, and clear on the next one', () => {
    const e = engine([{ id: 'meter-silent', type: 'stale', after_ms: 600_000, severity: 'minor', kind: 'electric_meter' }]);
    e.readings([good('meter-1', 'energy_import_kwh', 1000, T0)]);
    expect(e.tick(T0 + 600_000)).toEqual([]);
    expect(e.tick(T0 + 600_001)).toEqual([expect.objectContaining({ state: 'raised', ts: T0 + 600_001 })]);
    expect(states(e.readings([good('meter-1', 'energy_import_kwh', 1001, T0 + 700_000)]))).toEqual(['cleared']);
  });

  it('raise comm loss after its delay, once, and clear when the device answers', () => {
    const e = engine([{ id: 'comm-loss', type: 'comm_loss', severity: 'major', on_delay_ms: 30_000 }]);
    expect(e.comm('meter-1', false, T0)).toEqual([]);
    expect(states(e.tick(T0 + 30_000))).toEqual(['raised']);
    expect(e.tick(T0 + 60_000)).toEqual([]);
    expect(states(e.comm('meter-1', true, T0 + 90_000))).toEqual(['cleared']);
  });
});

describe('state and event rules', () => {
  it('raise a trapped passenger at once, at lifts only', () => {
    const e = engine([{ id: 'trapped', type: 'state', point: 'passenger_trapped', equals: true, severity: 'critical', kind: 'elevator' }]);
    expect(e.readings([good('meter-1', 'passenger_trapped', true, T0)])).toEqual([]);
    const raised = e.readings([good('lift-1', 'passenger_trapped', true, T0)]);
    expect(raised).toEqual([expect.objectContaining({ device: 'lift-1', severity: 'critical', state: 'raised' })]);
    expect(e.active()).toEqual([{ rule: 'trapped', device: 'lift-1' }]);
    expect(states(e.readings([good('lift-1', 'passenger_trapped', false, T0 + 1000)]))).toEqual(['cleared']);
  });

  it('raise a lift fault while its code is not 0', () => {
    const e = engine([{ id: 'lift-fault', type: 'state', point: 'fault_code', not_equals: 0, severity: 'major', message: '{device} fault {value}' }]);
    const raised = e.readings([good('lift-1', 'fault_code', 37, T0)]);
    expect(raised[0]?.message).toBe('lift-1 fault 37');
  });

  it('raise a forced door when it happens and clear it after its time', () => {
    const e = engine([{ id: 'door-forced', type: 'event', event: 'door.forced', severity: 'critical', clear_after_ms: 60_000 }]);
    const raised = e.event({ device: 'door-3', type: 'door.forced', ts: T0, data: {} });
    expect(states(raised)).toEqual(['raised']);
    expect(e.tick(T0 + 59_999)).toEqual([]);
    expect(states(e.tick(T0 + 60_000))).toEqual(['cleared']);
  });

  it('apply a rule to the devices it names only', () => {
    const e = engine([{ id: 'main-only', type: 'threshold', point: 'active_power_kw', above: 10, severity: 'warning', devices: ['meter-2'] }]);
    expect(e.readings([good('meter-1', 'active_power_kw', 50, T0)])).toEqual([]);
    expect(states(e.readings([good('meter-2', 'active_power_kw', 50, T0)]))).toEqual(['raised']);
  });
});

describe('rule definitions', () => {
  it.each([
    ['both limits', [{ id: 'x', type: 'threshold', point: 'p', above: 1, below: 0, severity: 'minor' }], '[0].above'],
    ['an unknown type', [{ id: 'x', type: 'vibes', severity: 'minor' }], '[0].type'],
    ['an unknown severity', [{ id: 'x', type: 'comm_loss', severity: 'urgent' }], '[0].severity'],
    ['a rule defined twice', [{ id: 'x', type: 'comm_loss', severity: 'minor' }, { id: 'x', type: 'comm_loss', severity: 'minor' }], '[1].id'],
    ['a misspelt key', [{ id: 'x', type: 'comm_loss', severity: 'minor', on_dealy_ms: 5 }], '[0]'],
  ])('reject %s and name the field', (_what, list, path) => {
    const result = AlarmRules.safeParse(list);
    expect(result.success).toBe(false);
    if (!result.success) expect(fieldIssues(result.error).map((issue) => issue.path)).toContain(path);
  });
});
