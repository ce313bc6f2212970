import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { Reading } from '@gatehouse/protocols';
import type { AlarmInput } from '../src/alarms/alarm-book.js';
import { HubRules, HubRulesError, runRuleClock } from '../src/dispatch/hub-rules.js';
import { memoryStores } from './support.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-hub-rules-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rulesFile = (content: unknown) => {
  const file = join(dir, `rules-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
};

const RULES = {
  '*': [{ id: 'meter-silent-hub', type: 'stale', kind: 'electric_meter', after_ms: 120_000, severity: 'minor' }],
  'tower-a': [{ id: 'incomer-overload', type: 'threshold', devices: ['incomer'], point: 'active_power_kw', above: 400, deadband: 20, severity: 'major' }],
};

const reading = (device: string, point: string, value: number, ts: number): Reading => ({ device, point, value, ts, quality: 'good' });

describe("the hub's own alarm rules", () => {
  it('loads rules by site from GATEHOUSE_RULES_FILE, and refuses a bad file naming the site, the rule and the field', () => {
    expect(HubRules.fromFile(rulesFile(RULES), Date.now).size).toBe(2);
    expect(HubRules.fromFile(undefined, Date.now).size).toBe(0);

    const bad = rulesFile({ 'tower-a': [{ id: 'incomer-overload', type: 'threshold', point: 'active_power_kw', severity: 'major' }] });
    expect(() => HubRules.fromFile(bad, Date.now)).toThrow(HubRulesError);
    expect(() => HubRules.fromFile(bad, Date.now)).toThrow(/tower-a\[0\]\.above: give exactly one of above and below/);
    const clash = rulesFile({ ...RULES, 'tower-b': [RULES['*'][0]] });
    expect(() => HubRules.fromFile(clash, Date.now)).toThrow(/tower-b\[0\]\.id: rule "meter-silent-hub" is also one of every site's/);
    expect(() => HubRules.fromFile(rulesFile('{"tower-a": ['), Date.now)).toThrow(/rules-.*\.json: .*JSON/);
    const commLoss = rulesFile({ '*': [{ id: 'lost', type: 'comm_loss', severity: 'major' }] });
    expect(() => HubRules.fromFile(commLoss, Date.now)).toThrow(/\*\[0\]\.type: comm_loss rules belong in the gateway's configuration/);
  });

  it('loads the example the demo runs with', () => {
    expect(HubRules.fromFile(fileURLToPath(new URL('../examples/hub-rules.json', import.meta.url)), Date.now).size).toBe(2);
  });

  it("raises the hub's alarms from what a gateway sends, once however many replicas evaluate it", async () => {
    let clock = Date.parse('2026-11-23T02:00:00Z');
    const now = () => clock;
    const stores = await memoryStores(now);
    const { desk } = stores.dispatchDeps();
    const file = rulesFile(RULES);
    // Two replicas: each evaluates every message the gateway sends.
    const replicas = [HubRules.fromFile(file, now), HubRules.fromFile(file, now)];
    const kinds = new Map([
      ['incomer', 'electric_meter'],
      ['lift-1', 'elevator'],
    ]);
    const send = async (readings: Reading[]) => {
      for (const rules of replicas) for (const input of rules.readings('tower-a', 'gw-01', readings, kinds)) await desk.receive(input);
    };

    await send([reading('incomer', 'active_power_kw', 380, clock), reading('lift-1', 'load_kg', 200, clock)]);
    clock += 1000;
    await send([reading('incomer', 'active_power_kw', 420, clock)]);
    const [overload] = await stores.alarms.list({ sites: ['tower-a'], source: 'tower-a.gw-01.incomer', limit: 10 });
    expect(overload).toMatchObject({ rule: 'incomer-overload', rule_type: 'threshold', state: 'active', episode: 1, severity: 'major', value: 420 });
    expect((await stores.alarms.history(overload!.id)).filter((entry) => entry.kind === 'raised')).toHaveLength(1);

    // Within the deadband it stays raised; below it, it clears.
    clock += 1000;
    await send([reading('incomer', 'active_power_kw', 390, clock)]);
    expect((await stores.alarms.get(overload!.id))?.state).toBe('active');
    clock += 1000;
    await send([reading('incomer', 'active_power_kw', 370, clock)]);
    expect((await stores.alarms.get(overload!.id))?.state).toBe('cleared');

    // The gateway goes quiet: the meter's stale rule fires at the hub; the lift's kind has none.
    clock += 121_000;
    for (const rules of replicas) for (const input of rules.tick()) await desk.receive(input);
    const stale = await stores.alarms.list({ sites: ['tower-a'], state: 'active', limit: 10 });
    expect(stale).toEqual([expect.objectContaining({ source: 'tower-a.gw-01.incomer', rule: 'meter-silent-hub', episode: 1 })]);
    await stores.db.close();
  });

  it('keeps what the clock raised while the store is down, and applies it in order once the store is back', async () => {
    vi.useFakeTimers({ now: Date.parse('2026-11-23T02:00:00Z') });
    try {
      const rules = HubRules.fromFile(rulesFile(RULES), Date.now);
      rules.readings('tower-a', 'gw-01', [reading('incomer', 'active_power_kw', 380, Date.now())], new Map([['incomer', 'electric_meter']]));
      const applied: AlarmInput[] = [];
      let storeUp = false;
      const timer = runRuleClock(
        rules,
        async (input) => {
          if (!storeUp) throw new Error('the store is unavailable');
          applied.push(input);
        },
        pino({ level: 'silent' }),
        1000,
      );
      await vi.advanceTimersByTimeAsync(121_000);
      expect(applied).toEqual([]);
      storeUp = true;
      await vi.advanceTimersByTimeAsync(1000);
      clearInterval(timer);
      expect(applied).toEqual([expect.objectContaining({ source: 'tower-a.gw-01.incomer', rule: 'meter-silent-hub', state: 'raised' })]);
    } finally {
      vi.useRealTimers();
    }
  });
});
