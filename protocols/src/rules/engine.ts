import type { DeviceKind } from '../catalogue.js';
import type { AlarmTransition, GatehouseEvent, Reading } from '../contract/payloads.js';
import type { AlarmRule } from './schema.js';

type Value = Reading['value'];

/** The state of one rule at one device. */
interface Track {
  /** Whether the condition holds now (before delays). */
  condition: boolean;
  /** When the condition last changed. */
  changedAt: number;
  /** Whether the alarm is raised. */
  active: boolean;
  value: Value;
  /** The previous good reading, for rates of change. */
  previous?: { value: number; ts: number };
  lastGood?: number;
  /** Event rules: when the event's alarm clears by itself. */
  clearAt?: number;
}

export interface AlarmEngineOptions {
  rules: readonly AlarmRule[];
  /** The kind of a device, for rules that select by kind. */
  kindOf: (device: string) => DeviceKind | undefined;
  now?: () => number;
}

function describe(rule: AlarmRule, device: string, point: string | undefined, value: Value): string {
  if (rule.message) {
    return rule.message.replaceAll('{device}', device).replaceAll('{point}', point ?? '').replaceAll('{value}', String(value));
  }
  switch (rule.type) {
    case 'threshold':
      return rule.above !== undefined ? `${rule.point} ${String(value)} above ${rule.above}` : `${rule.point} ${String(value)} below ${rule.below}`;
    case 'rate_of_change':
      return `${rule.point} changing faster than ${rule.max_per_hour} per hour`;
    case 'stale':
      return `no good reading of ${rule.point ?? device} for ${Math.round(rule.after_ms / 1000)} s`;
    case 'comm_loss':
      return `${device} is not answering`;
    case 'state':
      return `${rule.point} is ${String(value)}`;
    case 'event':
      return `${rule.event} at ${device}`;
  }
}

/**
 * Evaluates alarm rules against readings, comm changes and events, and says when an alarm is
 * raised or cleared. Pure apart from the clock it is given, so that it runs the same at the edge
 * and in the hub and is tested with a fake clock.
 */
export class AlarmEngine {
  private readonly tracks = new Map<string, Track>();
  private readonly now: () => number;
  private readonly devices = new Set<string>();

  constructor(private readonly options: AlarmEngineOptions) {
    this.now = options.now ?? Date.now;
  }

  private applies(rule: AlarmRule, device: string): boolean {
    if (rule.devices && !rule.devices.includes(device)) return false;
    if (rule.kind && this.options.kindOf(device) !== rule.kind) return false;
    return true;
  }

  private track(rule: AlarmRule, device: string, at: number): Track {
    const key = `${rule.id}\u0000${device}`;
    let track = this.tracks.get(key);
    if (!track) this.tracks.set(key, (track = { condition: false, changedAt: at, active: false, value: null }));
    return track;
  }

  /** Records the raw condition, then applies the on- and off-delays. */
  private settle(rule: AlarmRule, device: string, track: Track, condition: boolean, at: number, point?: string): AlarmTransition[] {
    if (condition !== track.condition) {
      track.condition = condition;
      track.changedAt = at;
    }
    return this.applyDelays(rule, device, track, at, point);
  }

  private applyDelays(rule: AlarmRule, device: string, track: Track, at: number, point?: string): AlarmTransition[] {
    const held = at - track.changedAt;
    if (track.condition && !track.active && held >= rule.on_delay_ms) return [this.transition(rule, device, track, 'raised', at, point)];
    if (!track.condition && track.active && held >= rule.off_delay_ms) return [this.transition(rule, device, track, 'cleared', at, point)];
    return [];
  }

  private transition(rule: AlarmRule, device: string, track: Track, state: 'raised' | 'cleared', at: number, point?: string): AlarmTransition {
    track.active = state === 'raised';
    return {
      device,
      rule: rule.id,
      state,
      severity: rule.severity,
      ts: at,
      message: describe(rule, device, point, track.value),
      value: track.value,
      rule_type: rule.type,
    };
  }

  readings(readings: readonly Reading[]): AlarmTransition[] {
    const out: AlarmTransition[] = [];
    for (const reading of readings) {
      this.devices.add(reading.device);
      if (reading.quality !== 'good') continue;
      for (const rule of this.options.rules) {
        if (!this.applies(rule, reading.device)) continue;
        const track = this.track(rule, reading.device, reading.ts);
        out.push(...this.evaluate(rule, reading, track));
      }
    }
    return out;
  }

  private evaluate(rule: AlarmRule, reading: Reading, track: Track): AlarmTransition[] {
    const { device, point, ts, value } = reading;
    switch (rule.type) {
      case 'threshold': {
        if (point !== rule.point || typeof value !== 'number') return [];
        track.value = value;
        let condition = track.condition;
        if (rule.above !== undefined) {
          if (value > rule.above) condition = true;
          else if (value < rule.above - rule.deadband) condition = false;
        } else if (rule.below !== undefined) {
          if (value < rule.below) condition = true;
          else if (value > rule.below + rule.deadband) condition = false;
        }
        return this.settle(rule, device, track, condition, ts, point);
      }
      case 'rate_of_change': {
        if (point !== rule.point || typeof value !== 'number') return [];
        const previous = track.previous;
        track.previous = { value, ts };
        track.value = value;
        if (!previous || ts <= previous.ts) return [];
        const perHour = (Math.abs(value - previous.value) * 3_600_000) / (ts - previous.ts);
        return this.settle(rule, device, track, perHour > rule.max_per_hour, ts, point);
      }
      case 'stale': {
        if (rule.point !== undefined && point !== rule.point) return [];
        track.lastGood = Math.max(track.lastGood ?? 0, ts);
        track.value = value;
        return this.settle(rule, device, track, false, ts, point);
      }
      case 'state': {
        if (point !== rule.point) return [];
        track.value = value;
        const condition = rule.equals !== undefined ? value === rule.equals : value !== rule.not_equals;
        return this.settle(rule, device, track, condition, ts, point);
      }
      case 'comm_loss':
      case 'event':
        return [];
    }
  }

  /** A device's gateway reports it online or offline. */
  comm(device: string, online: boolean, at: number = this.now()): AlarmTransition[] {
    this.devices.add(device);
    return this.options.rules
      .filter((rule) => rule.type === 'comm_loss' && this.applies(rule, device))
      .flatMap((rule) => this.settle(rule, device, this.track(rule, device, at), !online, at));
  }

  event(event: GatehouseEvent): AlarmTransition[] {
    this.devices.add(event.device);
    const out: AlarmTransition[] = [];
    for (const rule of this.options.rules) {
      if (rule.type !== 'event' || rule.event !== event.type || !this.applies(rule, event.device)) continue;
      const track = this.track(rule, event.device, event.ts);
      track.value = event.type;
      track.clearAt = event.ts + rule.clear_after_ms;
      out.push(...this.settle(rule, event.device, track, true, event.ts));
    }
    return out;
  }

  /**
   * Moves time on: on- and off-delays that have run out, stale data, and event alarms whose time
   * is up. Call it every second or so.
   */
  tick(at: number = this.now()): AlarmTransition[] {
    const out: AlarmTransition[] = [];
    for (const rule of this.options.rules) {
      for (const device of this.devices) {
        if (!this.applies(rule, device)) continue;
        const track = this.track(rule, device, at);
        if (rule.type === 'stale') {
          const silent = at - (track.lastGood ?? track.changedAt) > rule.after_ms;
          if (silent !== track.condition) {
            track.condition = silent;
            track.changedAt = silent ? (track.lastGood ?? track.changedAt) + rule.after_ms : at;
          }
        }
        if (rule.type === 'event' && track.condition && track.clearAt !== undefined && at >= track.clearAt) {
          track.condition = false;
          track.changedAt = track.clearAt;
        }
        out.push(...this.applyDelays(rule, device, track, at));
      }
    }
    return out;
  }

  /** Alarms raised now, for a status report. */
  active(): Array<{ rule: string; device: string }> {
    return [...this.tracks.entries()]
      .filter(([, track]) => track.active)
      .map(([key]) => {
        const [rule, device] = key.split('\u0000') as [string, string];
        return { rule, device };
      });
  }
}
