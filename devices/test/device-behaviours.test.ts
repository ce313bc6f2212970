import { describe, expect, it } from 'vitest';
import {
  BarrierGateBehaviour,
  DEFAULT_BARRIER_GATE,
  DEFAULT_ELEVATOR,
  DEFAULT_WATER_METER,
  ElevatorBehaviour,
  residentialWaterShape,
  WaterMeterBehaviour,
} from '../src/index.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const midnight = new Date(2026, 10, 22, 0, 0, 0).getTime(); // local midnight, as the daily shapes use

describe('the water meter simulator', () => {
  it('draws little at night and most in the morning and evening', () => {
    expect(residentialWaterShape(7.2)).toBeGreaterThan(10 * residentialWaterShape(3));
    expect(residentialWaterShape(19.5)).toBeGreaterThan(5 * residentialWaterShape(3));
    expect(residentialWaterShape(12.5)).toBeLessThan(residentialWaterShape(7.2));
  });

  it('only ever counts volume up, by what the flow delivered', () => {
    const meter = new WaterMeterBehaviour({ ...DEFAULT_WATER_METER, volumeM3: 100, seed: 5 }, midnight);
    let previous = meter.values();
    let delivered = 0;
    for (let t = midnight + MINUTE; t <= midnight + 48 * 60 * MINUTE; t += MINUTE) {
      const now = meter.advance(t);
      expect(now.flow_m3h).toBeGreaterThanOrEqual(0);
      expect(now.volume_m3).toBeGreaterThanOrEqual(previous.volume_m3 as number);
      delivered += (((previous.flow_m3h as number) + (now.flow_m3h as number)) / 2) * (1 / 60);
      previous = now;
    }
    expect((previous.volume_m3 as number) - 100).toBeCloseTo(delivered, 6);
    // Two days at a 2 m³/h peak: far below running flat out, far above nothing.
    expect(delivered).toBeGreaterThan(2 * 48 * 0.05);
    expect(delivered).toBeLessThan(2 * 48 * 0.5);
  });

  it('a leak raises its flag and the night flow; tamper raises its own flag', () => {
    const meter = new WaterMeterBehaviour({ ...DEFAULT_WATER_METER, seed: 2 }, midnight);
    const quiet = meter.advance(midnight + 3 * 60 * MINUTE).flow_m3h as number;
    expect(meter.control('leak', {})).toMatchObject({ leak: true, tamper: false });
    const leaking = meter.advance(midnight + 3 * 60 * MINUTE + MINUTE).flow_m3h as number;
    expect(leaking).toBeGreaterThan(quiet + DEFAULT_WATER_METER.leakFlowM3h / 2);
    expect(meter.control('tamper', { on: true })).toMatchObject({ leak: true, tamper: true });
    expect(meter.control('leak', { on: false })).toMatchObject({ leak: false });
    expect(() => meter.control('burst', {})).toThrow(/leak and tamper/);
  });
});

/** Steps a behaviour through time, collecting its values every `stepMs`. */
function run<T>(behaviour: { advance(nowMs: number): T }, from: number, to: number, stepMs = 100): Array<T & { t: number }> {
  const trace: Array<T & { t: number }> = [];
  for (let t = from; t <= to; t += stepMs) trace.push({ ...behaviour.advance(t), t });
  return trace;
}

const quietLift = { ...DEFAULT_ELEVATOR, meanCallIntervalMs: 0 };

describe('the lift simulator', () => {
  it('reaches a called floor one floor at a time, then opens and closes its doors', () => {
    const lift = new ElevatorBehaviour(quietLift, 0);
    lift.call(5, 0);
    const trace = run(lift, 0, 40 * SECOND);
    for (let i = 1; i < trace.length; i++) expect(Math.abs((trace[i]!.floor as number) - (trace[i - 1]!.floor as number))).toBeLessThanOrEqual(1);
    const arrived = trace.find((v) => v.floor === 5 && !v.moving)!;
    // 5 floors at 2 s each plus 1.5 s of starting and levelling.
    expect(arrived.t).toBeGreaterThanOrEqual(5 * 2000 + 1500);
    expect(arrived.t).toBeLessThan(5 * 2000 + 1500 + 200);
    expect(trace.filter((v) => v.moving).every((v) => v.direction === 'up' && !v.door_open)).toBe(true);
    const doors = trace.filter((v) => v.door_open);
    expect(doors.length).toBeGreaterThan(0);
    expect(doors.every((v) => v.floor === 5 && !v.moving)).toBe(true);
    expect(trace.at(-1)).toMatchObject({ floor: 5, door_open: false, direction: 'stopped', in_service: true });
  });

  it('serves calls in its direction of travel before turning back', () => {
    const lift = new ElevatorBehaviour(quietLift, 0);
    lift.call(8, 0);
    lift.call(-2, 0);
    lift.advance(3 * SECOND); // on its way up
    lift.call(4, 3 * SECOND);
    const stops = run(lift, 3 * SECOND, 120 * SECOND).filter((v, i, all) => v.door_open && !all[i - 1]?.door_open);
    expect(stops.map((v) => v.floor)).toEqual([4, 8, -2]);
  });

  it('reaches every floor called at random, sooner or later', () => {
    const lift = new ElevatorBehaviour({ ...DEFAULT_ELEVATOR, meanCallIntervalMs: 15 * SECOND, seed: 9 }, 0);
    const trace = run(lift, 0, 60 * MINUTE, 250);
    const served = new Set(trace.filter((v) => v.door_open).map((v) => v.floor));
    expect(served.size).toBeGreaterThan(8);
    expect(trace.some((v) => v.direction === 'down')).toBe(true);
  });

  it('trapping stops the car dead between floors with its doors shut, until released', () => {
    const lift = new ElevatorBehaviour(quietLift, 0);
    lift.call(10, 0);
    const before = run(lift, 0, 6 * SECOND).at(-1)!;
    expect(before.moving).toBe(true);
    lift.control('trap', {});
    lift.call(2, 6 * SECOND); // a landing call while trapped goes unanswered
    const trapped = run(lift, 6 * SECOND, 5 * MINUTE, SECOND);
    for (const v of trapped) {
      expect(v).toMatchObject({ floor: before.floor, moving: false, door_open: false, passenger_trapped: true, in_service: false });
      expect(v.fault_code).not.toBe(0);
    }
    expect(() => lift.control('clear', {})).toThrow(/release/);
    lift.control('release', {});
    const rescued = run(lift, 5 * MINUTE, 6 * MINUTE);
    expect(rescued.at(-1)).toMatchObject({ passenger_trapped: false, in_service: true, fault_code: 0, door_open: false });
    expect(rescued.some((v) => v.door_open && !v.moving)).toBe(true); // let out at the floor
  });

  it('a fault stops the car at the next floor and takes it out of service until cleared', () => {
    const lift = new ElevatorBehaviour(quietLift, 0);
    lift.call(10, 0);
    const moving = run(lift, 0, 5 * SECOND).at(-1)!;
    lift.control('fault', { code: 21 });
    const after = run(lift, 5 * SECOND, 60 * SECOND).at(-1)!;
    expect(after).toMatchObject({ moving: false, in_service: false, fault_code: 21, door_open: false, passenger_trapped: false });
    expect(after.floor).toBe((moving.floor as number) + 1);
    lift.control('clear', {});
    lift.call(10, 60 * SECOND);
    expect(run(lift, 60 * SECOND, 120 * SECOND).at(-1)).toMatchObject({ floor: 10, in_service: true, fault_code: 0 });
  });

  it('refuses a floor outside the shaft and an unknown control', () => {
    const lift = new ElevatorBehaviour(quietLift, 0);
    expect(() => lift.control('call', { floor: 19 })).toThrow(/floor/);
    expect(() => lift.control('fly', {})).toThrow(/call, fault/);
  });
});

describe('the barrier gate simulator', () => {
  const quietGate = { ...DEFAULT_BARRIER_GATE, meanArrivalMs: 0 };

  it('raises the arm on command, lets the waiting vehicle through, and lowers it behind it', () => {
    const gate = new BarrierGateBehaviour(quietGate, 0);
    gate.control('vehicle', {});
    expect(run(gate, 0, 5 * SECOND).every((v) => !v.barrier_open && v.vehicle_present)).toBe(true);
    gate.command(true);
    expect(gate.values().open_command).toBe(true); // reads back until the controller takes it
    const trace = run(gate, 5 * SECOND, 20 * SECOND);
    expect(trace[0]!.open_command).toBe(false);
    const up = trace.find((v) => v.barrier_open)!;
    expect(up.t).toBeGreaterThanOrEqual(5 * SECOND + DEFAULT_BARRIER_GATE.armTravelMs);
    const gone = trace.find((v) => !v.vehicle_present)!;
    expect(gone.t).toBeGreaterThan(up.t); // the vehicle passes under the raised arm
    const down = trace.find((v) => v.t > gone.t && !v.barrier_open)!;
    expect(down.t).toBeGreaterThanOrEqual(gone.t + DEFAULT_BARRIER_GATE.closeDelayMs);
    expect(gate.armState()).toBe('down');
    expect(gate.counts).toEqual({ passed: 1, turnedAway: 0 });
  });

  it('closes by itself when nobody passes, and a vehicle arriving under a falling arm sends it up again', () => {
    const gate = new BarrierGateBehaviour(quietGate, 0);
    gate.command(true);
    run(gate, 0, 2 * SECOND);
    expect(gate.values().barrier_open).toBe(true);
    const falling = DEFAULT_BARRIER_GATE.armTravelMs + DEFAULT_BARRIER_GATE.autoCloseMs + 500;
    run(gate, 2 * SECOND, falling);
    expect(gate.armState()).toBe('falling');
    gate.control('vehicle', {});
    run(gate, falling, falling + 3 * SECOND);
    expect(gate.values().barrier_open).toBe(true);
  });

  it('takes no command while faulted', () => {
    const gate = new BarrierGateBehaviour(quietGate, 0);
    gate.control('fault', { code: 3 });
    gate.command(true);
    expect(run(gate, 0, 10 * SECOND).every((v) => !v.barrier_open && v.fault_code === 3)).toBe(true);
    gate.control('clear', {});
    gate.command(true);
    expect(run(gate, 10 * SECOND, 13 * SECOND).at(-1)).toMatchObject({ barrier_open: true, fault_code: 0 });
  });

  it('turns vehicles away that nobody lets in, when they arrive at random', () => {
    const gate = new BarrierGateBehaviour({ ...DEFAULT_BARRIER_GATE, seed: 4 }, 0);
    run(gate, 0, 30 * MINUTE, SECOND);
    expect(gate.counts.turnedAway).toBeGreaterThan(5);
    expect(gate.counts.passed).toBe(0);
  });
});
