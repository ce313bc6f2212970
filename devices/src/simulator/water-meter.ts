import { noise, seededRandom } from '@gatehouse/protocols';
import { gauss, hourOfDay } from './electric-meter.js';
import { ControlError, type ControlArgs } from './timeline.js';

export interface WaterMeterOptions {
  /** The flow at the morning peak, in m³/h (a riser of 40 flats draws about 2 m³/h). */
  peakFlowM3h: number;
  volumeM3: number;
  /** The flow a leak adds while it runs, in m³/h. */
  leakFlowM3h: number;
  seed: number;
}

export const DEFAULT_WATER_METER: WaterMeterOptions = { peakFlowM3h: 2, volumeM3: 4_321.5, leakFlowM3h: 0.06, seed: 1 };

/**
 * The share of its peak flow a residential building draws at an hour of the day: nearly nothing
 * at night (the minimum night flow is where utilities look for leaks), a sharp morning peak of
 * showers around 07:00, a midday lull and a broader evening peak of cooking and washing.
 */
export function residentialWaterShape(hour: number): number {
  const shape = 0.02 + gauss(hour, 7.2, 0.9) + 0.3 * gauss(hour, 12.5, 1.3) + 0.7 * gauss(hour, 19.5, 1.8);
  return Math.min(1, shape);
}

/**
 * A water meter on a residential supply: flow follows the daily pattern with noise and never
 * runs backwards, the volume integrates the flow and so only rises. A leak (`leak` control) adds
 * a steady flow and raises the leak flag; `tamper` raises the tamper flag (a magnet on the
 * register, an opened housing).
 */
export class WaterMeterBehaviour {
  private readonly random: () => number;
  private volumeM3: number;
  private flowM3h: number;
  private lastMs: number;
  private leaking = false;
  private tampered = false;

  constructor(
    private readonly options: WaterMeterOptions,
    startMs: number,
  ) {
    this.random = seededRandom(options.seed);
    this.volumeM3 = options.volumeM3;
    this.lastMs = startMs;
    this.flowM3h = this.flowAt(startMs);
  }

  private flowAt(ms: number): number {
    const demand = this.options.peakFlowM3h * residentialWaterShape(hourOfDay(ms)) * (1 + noise(this.random, 0.15));
    return Math.max(0, demand) + (this.leaking ? this.options.leakFlowM3h : 0);
  }

  advance(nowMs: number): Record<string, number | boolean> {
    const hours = Math.max(0, nowMs - this.lastMs) / 3_600_000;
    const next = this.flowAt(nowMs);
    this.volumeM3 += ((this.flowM3h + next) / 2) * hours; // trapezoid rule, both ends ≥ 0
    this.flowM3h = next;
    this.lastMs = Math.max(this.lastMs, nowMs);
    return this.values();
  }

  values(): Record<string, number | boolean> {
    return { volume_m3: this.volumeM3, flow_m3h: this.flowM3h, leak: this.leaking, tamper: this.tampered };
  }

  /** `leak` and `tamper`, each with `{ on: boolean }` (default true). */
  control(action: string, args: ControlArgs): Record<string, number | boolean> {
    const on = args.on ?? true;
    if (typeof on !== 'boolean') throw new ControlError('on must be true or false');
    if (action === 'leak') this.leaking = on;
    else if (action === 'tamper') this.tampered = on;
    else throw new ControlError(`a water meter knows leak and tamper, not "${action}"`);
    return this.values();
  }
}
