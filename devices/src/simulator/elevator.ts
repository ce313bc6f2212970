import { ControlError, exponentialMs, integerArg, ScheduledBehaviour, type ControlArgs } from './timeline.js';

export interface ElevatorOptions {
  lowestFloor: number;
  highestFloor: number;
  /** Mean gap between random calls; 0: none, the car moves only when called by `call`. */
  meanCallIntervalMs: number;
  /** One floor at rated speed (3.5 m at 1.75 m/s). */
  floorTravelMs: number;
  /** Added to a trip once for starting and once for levelling at the stop. */
  startStopMs: number;
  /** From doors starting to open to doors closed and locked again (open, dwell, close). */
  doorCycleMs: number;
  /** The slow rescue drive that levels a stuck car to the floor. */
  rescueMs: number;
  seed: number;
}

export const DEFAULT_ELEVATOR: ElevatorOptions = {
  lowestFloor: -2,
  highestFloor: 18,
  meanCallIntervalMs: 20_000,
  floorTravelMs: 2_000,
  startStopMs: 1_500,
  doorCycleMs: 8_000,
  rescueMs: 10_000,
  seed: 1,
};

/** Controller fault codes of the reference lift (see devices/models/reference-elevator/README.md). */
export const ELEVATOR_FAULTS = { none: 0, stoppedOutsideDoorZone: 30 } as const;

export type Direction = 'up' | 'down' | 'stopped';

/**
 * A lift car answering calls, as its controller's monitoring interface reports it. Calls arrive
 * at random; the car collects them in its direction of travel (and then reverses), moves one
 * floor at a time, levels, and cycles its doors at each called floor. At run time it can be told
 * to fault (`fault`: it stops at the next floor and leaves service) or to trap its passengers
 * (`trap`: it stops dead between floors with its doors shut) and to recover (`clear`, `release`).
 */
export class ElevatorBehaviour extends ScheduledBehaviour<Record<string, number | boolean | string>> {
  private readonly calls = new Set<number>();
  /** Bumped when the car is stopped dead, so that steps scheduled before are void. */
  private trip = 0;
  private floor: number;
  private direction: Direction = 'stopped';
  private heading: 'up' | 'down' = 'up';
  private moving = false;
  private doorOpen = false;
  private inService = true;
  private faultCode = 0;
  private trapped = false;

  constructor(
    private readonly options: ElevatorOptions,
    startMs: number,
    startFloor = 0,
  ) {
    super(options.seed, startMs);
    if (options.lowestFloor >= options.highestFloor) throw new RangeError('the lowest floor must be below the highest');
    this.floor = Math.min(options.highestFloor, Math.max(options.lowestFloor, startFloor));
    if (options.meanCallIntervalMs > 0) this.scheduleRandomCall(startMs);
  }

  values(): Record<string, number | boolean | string> {
    return {
      floor: this.floor,
      direction: this.direction,
      moving: this.moving,
      door_open: this.doorOpen,
      in_service: this.inService,
      fault_code: this.faultCode,
      passenger_trapped: this.trapped,
    };
  }

  /**
   * `call {floor}`, `fault {code}`, `clear`, `trap {code?}` and `release`; each takes effect at the
   * simulator's current time.
   */
  control(action: string, args: ControlArgs): Record<string, number | boolean | string> {
    const at = this.nowMs;
    switch (action) {
      case 'call':
        this.call(integerArg(args, 'floor', undefined, this.options.lowestFloor, this.options.highestFloor), at);
        break;
      case 'fault':
        this.fault(integerArg(args, 'code', undefined, 1, 0xffff));
        break;
      case 'clear':
        this.clearFault(at);
        break;
      case 'trap':
        this.trap(integerArg(args, 'code', ELEVATOR_FAULTS.stoppedOutsideDoorZone, 1, 0xffff));
        break;
      case 'release':
        this.release(at);
        break;
      default:
        throw new ControlError(`a lift knows call, fault, clear, trap and release, not "${action}"`);
    }
    return this.values();
  }

  /** A car or landing call for `floor`. Out of service, calls are not taken, as on a real landing. */
  call(floor: number, at: number): void {
    if (!this.inService) return;
    this.calls.add(floor);
    this.dispatch(at);
  }

  fault(code: number): void {
    this.faultCode = code;
    this.inService = false;
    this.calls.clear(); // a moving car stops at the next floor: see arrive()
  }

  clearFault(at: number): void {
    if (this.trapped) throw new ControlError('a passenger is trapped: release first');
    this.faultCode = 0;
    this.inService = true;
    this.dispatch(at);
  }

  /** The car stops dead between floors: doors shut, no movement until `release`. */
  trap(code: number): void {
    this.timeline.clear();
    this.trip += 1;
    if (this.options.meanCallIntervalMs > 0) this.scheduleRandomCall(this.nowMs);
    this.calls.clear();
    this.moving = false;
    this.doorOpen = false;
    this.direction = 'stopped';
    this.inService = false;
    this.faultCode = code;
    this.trapped = true;
  }

  /** A rescue: the car creeps to the floor, opens its doors, and returns to service once they close. */
  release(at: number): void {
    if (!this.trapped) throw new ControlError('no passenger is trapped');
    const trip = this.trip;
    this.moving = true;
    this.timeline.at(at + this.options.rescueMs, (reached) => {
      if (trip !== this.trip) return;
      this.moving = false;
      this.trapped = false;
      this.faultCode = 0;
      this.inService = true;
      this.cycleDoors(reached);
    });
  }

  private scheduleRandomCall(from: number): void {
    this.timeline.at(from + exponentialMs(this.random, this.options.meanCallIntervalMs), (at) => {
      const { lowestFloor, highestFloor } = this.options;
      // Most trips in a residential tower start or end at the entrance floor.
      const floor = this.random() < 0.4 ? 0 : lowestFloor + Math.floor(this.random() * (highestFloor - lowestFloor + 1));
      if (floor !== this.floor || this.moving) this.call(floor, at);
      this.scheduleRandomCall(at);
    });
  }

  /** The next floor to serve: onwards in the heading first, then back (collective control). */
  private nextTarget(): number | undefined {
    const calls = [...this.calls];
    const ahead = calls.filter((floor) => (this.heading === 'up' ? floor >= this.floor : floor <= this.floor));
    const pool = ahead.length > 0 ? ahead : calls;
    if (pool.length === 0) return undefined;
    return pool.reduce((best, floor) => (Math.abs(floor - this.floor) < Math.abs(best - this.floor) ? floor : best));
  }

  private dispatch(at: number): void {
    if (!this.inService || this.moving || this.doorOpen) return;
    const target = this.nextTarget();
    if (target === undefined) {
      this.direction = 'stopped';
      return;
    }
    if (target === this.floor) {
      this.calls.delete(target);
      this.cycleDoors(at);
      return;
    }
    this.heading = target > this.floor ? 'up' : 'down';
    this.direction = this.heading;
    this.moving = true;
    this.step(at + this.options.startStopMs / 2);
  }

  private step(from: number): void {
    const trip = this.trip;
    this.timeline.at(from + this.options.floorTravelMs, (at) => {
      if (trip !== this.trip) return;
      this.floor += this.heading === 'up' ? 1 : -1;
      this.arrive(at);
    });
  }

  /** Passing or reaching a floor: stop there if it is called or the car has left service. */
  private arrive(at: number): void {
    const end = this.heading === 'up' ? this.options.highestFloor : this.options.lowestFloor;
    if (!this.calls.has(this.floor) && this.inService && this.floor !== end) {
      this.step(at);
      return;
    }
    this.calls.delete(this.floor);
    const trip = this.trip;
    this.timeline.at(at + this.options.startStopMs / 2, (levelled) => {
      if (trip !== this.trip) return;
      this.moving = false;
      this.direction = 'stopped';
      this.cycleDoors(levelled);
    });
  }

  private cycleDoors(at: number): void {
    const trip = this.trip;
    this.doorOpen = true;
    this.timeline.at(at + this.options.doorCycleMs, (closed) => {
      if (trip !== this.trip) return;
      this.doorOpen = false;
      this.dispatch(closed);
    });
  }
}
