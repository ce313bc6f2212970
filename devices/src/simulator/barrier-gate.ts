import { ControlError, exponentialMs, integerArg, ScheduledBehaviour, type ControlArgs } from './timeline.js';

export interface BarrierGateOptions {
  /** Mean gap between vehicles arriving at the loop; 0: only the `vehicle` control brings one. */
  meanArrivalMs: number;
  /** Arm travel, either way (car-park barriers take 1.5 to 6 s). */
  armTravelMs: number;
  /** A waiting vehicle drives over the loop this long after the arm is up. */
  passMs: number;
  /** The arm falls this long after the loop is clear behind the vehicle. */
  closeDelayMs: number;
  /** An arm raised with no vehicle passing falls after this long. */
  autoCloseMs: number;
  /** A vehicle not let through within this long turns away. */
  patienceMs: number;
  seed: number;
}

export const DEFAULT_BARRIER_GATE: BarrierGateOptions = {
  meanArrivalMs: 45_000,
  armTravelMs: 1_500,
  passMs: 2_500,
  closeDelayMs: 1_000,
  autoCloseMs: 30_000,
  patienceMs: 60_000,
  seed: 1,
};

export type ArmState = 'down' | 'rising' | 'up' | 'falling';

/**
 * A car-park barrier with a loop detector. A vehicle stops on the loop and waits; an open
 * command (a write of `open_command`, from the gateway after a plate read) raises the arm, the
 * vehicle drives through, and the arm falls once the loop is clear, or after `autoCloseMs` if
 * nobody passes. The loop keeps the arm up while a vehicle is on it, and a vehicle arriving
 * under a falling arm sends it back up. A controller with a fault (`fault` control) takes no
 * command.
 */
export class BarrierGateBehaviour extends ScheduledBehaviour<Record<string, number | boolean>> {
  private arm: ArmState = 'down';
  /** Bumped at every change of arm movement, so that steps scheduled before are void. */
  private motion = 0;
  private vehiclePresent = false;
  private vehicle = 0;
  private commandPending = false;
  private faultCode = 0;
  /** Vehicles that drove through, and that turned away. */
  readonly counts = { passed: 0, turnedAway: 0 };

  constructor(
    private readonly options: BarrierGateOptions,
    startMs: number,
  ) {
    super(options.seed, startMs);
    if (options.meanArrivalMs > 0) this.scheduleArrival(startMs);
  }

  /** Also takes a pending open command, as the controller's scan does. */
  override advance(nowMs: number): Record<string, number | boolean> {
    super.advance(nowMs);
    if (this.commandPending) {
      this.commandPending = false;
      if (this.faultCode === 0) this.raise(this.nowMs);
    }
    return this.values();
  }

  values(): Record<string, number | boolean> {
    return {
      barrier_open: this.arm === 'up',
      vehicle_present: this.vehiclePresent,
      fault_code: this.faultCode,
      // The command reads back true from the master's write until the controller has taken it.
      open_command: this.commandPending,
    };
  }

  armState(): ArmState {
    return this.arm;
  }

  /** What a master's write of `open_command` does: the controller acts on it at its next scan. */
  command(open: boolean): void {
    if (open) this.commandPending = true;
  }

  /** `open`, `vehicle`, `fault {code}` and `clear`, at the simulator's current time. */
  control(action: string, args: ControlArgs): Record<string, number | boolean> {
    switch (action) {
      case 'open':
        this.command(true);
        return this.advance(this.nowMs);
      case 'vehicle':
        this.arrive(this.nowMs);
        break;
      case 'fault':
        this.faultCode = integerArg(args, 'code', undefined, 1, 0xffff);
        break;
      case 'clear':
        this.faultCode = 0;
        break;
      default:
        throw new ControlError(`a barrier gate knows open, vehicle, fault and clear, not "${action}"`);
    }
    return this.values();
  }

  private move(to: 'rising' | 'falling', at: number): void {
    const motion = ++this.motion;
    this.arm = to;
    this.timeline.at(at + this.options.armTravelMs, (done) => {
      if (motion !== this.motion) return;
      this.arm = to === 'rising' ? 'up' : 'down';
      if (this.arm === 'up') this.upAt(done, motion);
    });
  }

  private raise(at: number): void {
    if (this.arm === 'down' || this.arm === 'falling') this.move('rising', at);
  }

  /** The arm is up: let a waiting vehicle through, or close again if none comes. */
  private upAt(at: number, motion: number): void {
    if (this.vehiclePresent) {
      const vehicle = this.vehicle;
      this.timeline.at(at + this.options.passMs, (passed) => {
        if (vehicle !== this.vehicle || !this.vehiclePresent) return;
        this.vehiclePresent = false;
        this.counts.passed += 1;
        this.timeline.at(passed + this.options.closeDelayMs, (close) => this.lowerIfClear(close, motion));
      });
      return;
    }
    this.timeline.at(at + this.options.autoCloseMs, (close) => this.lowerIfClear(close, motion));
  }

  private lowerIfClear(at: number, motion: number): void {
    if (motion !== this.motion || this.arm !== 'up' || this.vehiclePresent) return;
    this.move('falling', at);
  }

  private arrive(at: number): void {
    if (this.vehiclePresent) return; // one vehicle on the loop at a time
    const vehicle = ++this.vehicle;
    this.vehiclePresent = true;
    if (this.arm === 'falling') this.move('rising', at); // the loop's safety reversal
    else if (this.arm === 'up') this.upAt(at, this.motion);
    this.timeline.at(at + this.options.patienceMs, () => {
      if (vehicle !== this.vehicle || !this.vehiclePresent || this.arm !== 'down') return;
      this.vehiclePresent = false;
      this.counts.turnedAway += 1;
    });
  }

  private scheduleArrival(from: number): void {
    this.timeline.at(from + exponentialMs(this.random, this.options.meanArrivalMs), (at) => {
      this.arrive(at);
      this.scheduleArrival(at);
    });
  }
}
