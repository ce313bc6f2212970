import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import {
  AlarmEngine,
  AlarmRules,
  describeIssues,
  fieldIssues,
  hubDeviceId,
  Identifier,
  type AlarmRule,
  type AlarmTransition,
  type DeviceKind,
  type GatehouseEvent,
  type Reading,
} from '@gatehouse/protocols';
import type { AlarmInput } from '../alarms/alarm-book.js';

const EVERY_SITE = '*';

/**
 * The hub's own alarm rules, from the JSON file GATEHOUSE_RULES_FILE names: rule lists by site,
 * `*` for every site, in the edge's rule format (protocols/src/rules/schema.ts), with the
 * gateway's device names in `devices`: `{"*": [{"id": "meter-silent-hub", "type": "stale", …}],
 * "tower-a": [...]}`. The hub evaluates them on what gateways send, for rules that are kept in one
 * place rather than in every gateway's configuration.
 */
const RulesFile = z.record(z.union([z.literal(EVERY_SITE), Identifier]), AlarmRules).superRefine((bySite, context) => {
  const common = new Set((bySite[EVERY_SITE] ?? []).map((rule) => rule.id));
  for (const [site, rules] of Object.entries(bySite)) {
    rules.forEach((rule, index) => {
      if (rule.type === 'comm_loss') {
        context.addIssue({ code: 'custom', path: [site, index, 'type'], message: "comm_loss rules belong in the gateway's configuration: only the gateway sees a device answer or not" });
      }
    });
    if (site === EVERY_SITE) continue;
    rules.forEach((rule, index) => {
      if (common.has(rule.id)) context.addIssue({ code: 'custom', path: [site, index, 'id'], message: `rule "${rule.id}" is also one of every site's (*)` });
    });
  }
});

export class HubRulesError extends Error {}

/**
 * Evaluates the hub's rules on every gateway's readings and events with one AlarmEngine per
 * gateway, and says what alarm transitions follow (for the alarm desk). Every replica evaluates
 * every message (also one another replica stored first): the same readings give the same
 * transitions at the same times, which the alarm book applies once.
 */
export class HubRules {
  private readonly engines = new Map<string, { engine: AlarmEngine; kinds: Map<string, string | null> }>();

  constructor(
    private readonly bySite: ReadonlyMap<string, readonly AlarmRule[]>,
    private readonly now: () => number,
  ) {}

  static fromFile(file: string | undefined, now: () => number): HubRules {
    if (file === undefined) return new HubRules(new Map(), now);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw new HubRulesError(`${file}: ${(error as Error).message}`);
    }
    const parsed = RulesFile.safeParse(json);
    if (!parsed.success) {
      throw new HubRulesError(`${file}: ${describeIssues(fieldIssues(parsed.error))}`);
    }
    return new HubRules(new Map(Object.entries(parsed.data)), now);
  }

  /** How many rules there are, every site's and each site's. */
  get size(): number {
    return [...this.bySite.values()].reduce((sum, rules) => sum + rules.length, 0);
  }

  /** A gateway's readings, with the kinds of its devices. */
  readings(site: string, gateway: string, readings: readonly Reading[], kinds: ReadonlyMap<string, string | null>): AlarmInput[] {
    const state = this.engineOf(site, gateway);
    if (!state) return [];
    for (const [device, kind] of kinds) state.kinds.set(device, kind);
    return inputs(site, gateway, state.engine.readings(readings));
  }

  events(site: string, gateway: string, events: readonly GatehouseEvent[]): AlarmInput[] {
    const state = this.engineOf(site, gateway);
    return state ? inputs(site, gateway, events.flatMap((event) => state.engine.event(event))) : [];
  }

  /** Moves every engine's time on: stale data, on- and off-delays. Call it every second or so. */
  tick(): AlarmInput[] {
    return [...this.engines].flatMap(([key, { engine }]) => {
      const [site, gateway] = key.split('/') as [string, string];
      return inputs(site, gateway, engine.tick(this.now()));
    });
  }

  private engineOf(site: string, gateway: string) {
    const key = `${site}/${gateway}`;
    let state = this.engines.get(key);
    if (!state) {
      const rules = [...(this.bySite.get(EVERY_SITE) ?? []), ...(this.bySite.get(site) ?? [])];
      if (rules.length === 0) return undefined;
      const kinds = new Map<string, string | null>();
      const engine = new AlarmEngine({ rules, kindOf: (device) => (kinds.get(device) ?? undefined) as DeviceKind | undefined, now: this.now });
      this.engines.set(key, (state = { engine, kinds }));
    }
    return state;
  }
}

const inputs = (site: string, gateway: string, transitions: readonly AlarmTransition[]): AlarmInput[] =>
  transitions.map((transition) => ({ site, gateway, ...transition, source: hubDeviceId(site, gateway, transition.device) }));

/**
 * Ticks the rules every `intervalMs` and applies what falls due, in order (a raise before its
 * clear). What cannot be applied (the store is down) waits for the next tick: the engines have
 * moved on, so a transition dropped now would never come again.
 */
export function runRuleClock(rules: HubRules, apply: (input: AlarmInput) => Promise<void>, log: Logger, intervalMs: number): NodeJS.Timeout {
  const waiting: AlarmInput[] = [];
  let applying = false;
  const timer = setInterval(() => {
    waiting.push(...rules.tick());
    if (applying || waiting.length === 0) return;
    applying = true;
    void (async () => {
      try {
        while (waiting.length > 0) {
          await apply(waiting[0]!);
          waiting.shift();
        }
      } catch (error) {
        log.warn({ err: (error as Error).message, waiting: waiting.length }, 'hub rule transitions wait for the next tick');
      } finally {
        applying = false;
      }
    })();
  }, intervalMs);
  timer.unref();
  return timer;
}
