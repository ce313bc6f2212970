import { noise, seededRandom } from '@gatehouse/protocols';

export interface ElectricMeterOptions {
  /** The building's evening peak, in kW. */
  peakPowerKw: number;
  energyImportKwh: number;
  energyExportKwh: number;
  seed: number;
}

export const DEFAULT_ELECTRIC_METER: ElectricMeterOptions = {
  peakPowerKw: 40,
  energyImportKwh: 12_345.67,
  energyExportKwh: 0,
  seed: 1,
};

export const gauss = (x: number, centre: number, width: number) => Math.exp(-(((x - centre) / width) ** 2) / 2);

/**
 * The share of its peak a residential block draws at an hour of the day: a base load (lifts,
 * lighting, pumps), a morning bump, a midday plateau and the evening peak around 20:00.
 */
export function residentialLoadShape(hourOfDay: number): number {
  const shape =
    0.3 + 0.25 * gauss(hourOfDay, 7.5, 1.2) + 0.15 * gauss(hourOfDay, 12.5, 1.5) + 0.6 * gauss(hourOfDay, 20, 2);
  return Math.min(1, shape);
}

export function hourOfDay(ms: number): number {
  const date = new Date(ms);
  return date.getHours() + date.getMinutes() / 60 + date.getSeconds() / 3600;
}

/**
 * A three-phase meter on a residential feeder: power follows the daily load curve with a little
 * noise, energy integrates power and so only rises, voltages wander around 230 V, frequency
 * around 50 Hz.
 */
export class ElectricMeterBehaviour {
  private readonly random: () => number;
  private readonly phaseShare: [number, number, number];
  private energyImport: number;
  private readonly energyExport: number;
  private lastMs: number;
  private powerKw: number;

  constructor(
    private readonly options: ElectricMeterOptions,
    startMs: number,
  ) {
    this.random = seededRandom(options.seed);
    // A fixed imbalance per meter: real feeders never load their phases equally.
    const shares = [1 + noise(this.random, 0.1), 1 + noise(this.random, 0.1), 1 + noise(this.random, 0.1)];
    const total = shares[0]! + shares[1]! + shares[2]!;
    this.phaseShare = shares.map((share) => share / total) as [number, number, number];
    this.energyImport = options.energyImportKwh;
    this.energyExport = options.energyExportKwh;
    this.lastMs = startMs;
    this.powerKw = this.powerAt(startMs);
  }

  private powerAt(ms: number): number {
    return this.options.peakPowerKw * residentialLoadShape(hourOfDay(ms)) * (1 + noise(this.random, 0.03));
  }

  /** Moves the meter on to `nowMs` and returns every catalogue point's value. */
  advance(nowMs: number): Record<string, number> {
    const hours = Math.max(0, nowMs - this.lastMs) / 3_600_000;
    const nextPower = this.powerAt(nowMs);
    this.energyImport += ((this.powerKw + nextPower) / 2) * hours; // trapezoid rule
    this.powerKw = nextPower;
    this.lastMs = nowMs;
    return this.values();
  }

  values(): Record<string, number> {
    const powerFactor = 0.95 + noise(this.random, 0.02);
    const voltages = [0, 1, 2].map((phase) => 230 + 2 * Math.sin(this.lastMs / 600_000 + phase) + noise(this.random, 0.3));
    const currents = voltages.map((volts, phase) => (this.powerKw * 1000 * this.phaseShare[phase]!) / (volts * powerFactor));
    return {
      voltage_l1_v: voltages[0]!,
      voltage_l2_v: voltages[1]!,
      voltage_l3_v: voltages[2]!,
      current_l1_a: currents[0]!,
      current_l2_a: currents[1]!,
      current_l3_a: currents[2]!,
      active_power_kw: this.powerKw,
      reactive_power_kvar: this.powerKw * Math.tan(Math.acos(powerFactor)),
      power_factor: powerFactor,
      frequency_hz: 50 + noise(this.random, 0.03),
      energy_import_kwh: this.energyImport,
      energy_export_kwh: this.energyExport,
    };
  }
}
