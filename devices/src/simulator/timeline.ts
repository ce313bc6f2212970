import { seededRandom } from '@gatehouse/protocols';

/**
 * What a simulated device will do and when, run in time order as the simulator's clock moves on.
 * Behaviours schedule their own next steps (a car reaching the next floor, a door closing), so a
 * run depends on the seed and the times asked for, never on how often the simulator ticks.
 */
export class Timeline {
  private entries: Array<{ at: number; order: number; run: (at: number) => void }> = [];
  private scheduled = 0;

  /** Runs `run(at)` when the clock reaches `at`; entries due at the same time run in the order given. */
  at(at: number, run: (at: number) => void): void {
    this.entries.push({ at, order: this.scheduled++, run });
    this.entries.sort((a, b) => a.at - b.at || a.order - b.order);
  }

  /** Runs every entry due by `nowMs`, including those that due entries schedule on the way. */
  runUntil(nowMs: number): void {
    for (let next = this.entries[0]; next && next.at <= nowMs; next = this.entries[0]) {
      this.entries.shift();
      next.run(next.at);
    }
  }

  /** Forgets everything scheduled (a car stopped dead, a controller reset). */
  clear(): void {
    this.entries = [];
  }
}

/** The wait until the next of a Poisson stream of happenings (calls, swipes, arrivals) with this mean gap. */
export function exponentialMs(random: () => number, meanMs: number): number {
  return -Math.log(1 - random()) * meanMs;
}

/** A run-time control the device does not know, or with arguments it cannot take. */
export class ControlError extends Error {
  override name = 'ControlError';
}

export type ControlArgs = Readonly<Record<string, unknown>>;

/** An integer argument of a control, with its default and its range. */
export function integerArg(args: ControlArgs, name: string, fallback: number | undefined, min: number, max: number): number {
  const raw = args[name] ?? fallback;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < min || raw > max) {
    throw new ControlError(`${name} must be an integer ${min}..${max}${raw === undefined ? '' : `, not ${JSON.stringify(raw)}`}`);
  }
  return raw;
}

/**
 * A device whose happenings are scheduled on a timeline with a seeded random stream: `advance`
 * runs what is due and reports the device's values at that time.
 */
export abstract class ScheduledBehaviour<Values> {
  protected readonly random: () => number;
  protected readonly timeline = new Timeline();
  protected nowMs: number;

  constructor(seed: number, startMs: number) {
    this.random = seededRandom(seed);
    this.nowMs = startMs;
  }

  advance(nowMs: number): Values {
    this.timeline.runUntil(nowMs);
    this.nowMs = Math.max(this.nowMs, nowMs);
    return this.values();
  }

  abstract values(): Values;
}
