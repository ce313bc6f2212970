import { describe, expect, it } from 'vitest';
import { ElectricMeterBehaviour, residentialLoadShape } from '../src/index.js';

const MINUTE = 60_000;
const start = new Date(2026, 10, 22, 0, 0, 0).getTime(); // local midnight

describe('the electric meter simulator', () => {
  it('follows a residential day: quiet before dawn, peaking in the evening', () => {
    expect(residentialLoadShape(20)).toBeGreaterThan(residentialLoadShape(4) * 2.5);
    expect(residentialLoadShape(8)).toBeGreaterThan(residentialLoadShape(4));
    for (let hour = 0; hour < 24; hour += 0.25) {
      expect(residentialLoadShape(hour)).toBeGreaterThanOrEqual(0.3);
      expect(residentialLoadShape(hour)).toBeLessThanOrEqual(1);
    }
  });

  it('only ever counts energy up, by what the power delivered', () => {
    const meter = new ElectricMeterBehaviour({ peakPowerKw: 40, energyImportKwh: 1000, energyExportKwh: 0, seed: 7 }, start);
    let previous = meter.values().energy_import_kwh!;
    let delivered = 0;
    let lastPower = meter.values().active_power_kw!;
    for (let t = start + MINUTE; t <= start + 48 * 60 * MINUTE; t += MINUTE) {
      const values = meter.advance(t);
      expect(values.energy_import_kwh).toBeGreaterThanOrEqual(previous);
      delivered += ((lastPower + values.active_power_kw!) / 2) * (1 / 60);
      previous = values.energy_import_kwh!;
      lastPower = values.active_power_kw!;
    }
    expect(previous - 1000).toBeCloseTo(delivered, 6);
    // Two days of a 40 kW-peak block: between a constant 30 % and a constant 100 % of peak.
    expect(delivered).toBeGreaterThan(40 * 0.3 * 48);
    expect(delivered).toBeLessThan(40 * 48);
  });

  it('keeps electrical values where a 230/400 V, 50 Hz supply has them', () => {
    const meter = new ElectricMeterBehaviour({ peakPowerKw: 40, energyImportKwh: 0, energyExportKwh: 0, seed: 3 }, start);
    for (let t = start; t < start + 24 * 60 * MINUTE; t += 7 * MINUTE) {
      const v = meter.advance(t);
      for (const phase of ['voltage_l1_v', 'voltage_l2_v', 'voltage_l3_v']) expect(Math.abs(v[phase]! - 230)).toBeLessThan(3);
      expect(Math.abs(v.frequency_hz! - 50)).toBeLessThan(0.05);
      expect(v.power_factor).toBeGreaterThan(0.9);
      // Three phases deliver the total power: Σ V·I·pf = P.
      const phases = [1, 2, 3].map((n) => v[`voltage_l${n}_v`]! * v[`current_l${n}_a`]! * v.power_factor!);
      expect(phases.reduce((a, b) => a + b, 0) / 1000).toBeCloseTo(v.active_power_kw!, 6);
    }
  });
});
