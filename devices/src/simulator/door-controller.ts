import { encodeRegisters, type ByteOrder, type EventType } from '@gatehouse/protocols';
import type { EventBufferMapping } from '../profile/schema.js';
import { ILLEGAL_DATA_ADDRESS, ILLEGAL_DATA_VALUE, ModbusException, type SlaveMemory } from './memory.js';
import { ControlError, exponentialMs, integerArg, ScheduledBehaviour, type ControlArgs } from './timeline.js';

export interface DoorControllerOptions {
  /** Mean gap between people presenting a card; 0: none, only the controls act. */
  meanSwipeIntervalMs: number;
  /** How long a granted card releases the lock. */
  unlockMs: number;
  /** A door open longer than this raises door.held_open (once per opening). */
  heldOpenAfterMs: number;
  seed: number;
}

export const DEFAULT_DOOR_CONTROLLER: DoorControllerOptions = {
  meanSwipeIntervalMs: 30_000,
  unlockMs: 5_000,
  heldOpenAfterMs: 30_000,
  seed: 1,
};

export interface AccessEvent {
  type: EventType;
  /** Unix seconds, UTC, as a controller stamps its records. */
  timestamp: number;
  /** The card presented; 0 for events without one (forced, held open). */
  card: number;
}

/** Cards as 26-bit Wiegand numbers: facility code × 65536 + card number. */
const ENROLLED_FACILITY = 42;
const enrolledCard = (n: number) => ENROLLED_FACILITY * 65_536 + 1_000 + n;

/**
 * An access-controlled door as its controller sees it: a lock relay, a door contact, a card
 * reader. A granted card releases the lock and a person walks through; a denied card changes
 * nothing. The controller raises door.forced when the contact opens while the lock holds, and
 * door.held_open when the door stays open past `heldOpenAfterMs`. People come at random; the
 * controls `swipe`, `force`, `hold-open` and `unlock` make each case happen at run time.
 */
export class DoorControllerBehaviour extends ScheduledBehaviour<Record<string, number | boolean>> {
  private unlockedUntil = 0;
  private doorOpen = false;
  private openedAt = 0;
  /** Bumped per opening, so that a held-open check of an earlier opening does nothing. */
  private opening = 0;
  /** Every event raised, oldest first (bounded): what a test compares the buffer with. */
  readonly raised: AccessEvent[] = [];
  private ring: EventRing | undefined;

  constructor(
    private readonly options: DoorControllerOptions,
    startMs: number,
  ) {
    super(options.seed, startMs);
    if (options.meanSwipeIntervalMs > 0) this.scheduleVisitor(startMs);
  }

  /** Stores every event raised from now on in `ring` as well. */
  attach(ring: EventRing): void {
    this.ring = ring;
  }

  values(): Record<string, number | boolean> {
    const locked = this.nowMs >= this.unlockedUntil;
    return {
      door_open: this.doorOpen,
      door_locked: locked,
      unlock_s: locked ? 0 : Math.ceil((this.unlockedUntil - this.nowMs) / 1000),
      events_lost: this.ring?.overflow() ?? 0,
    };
  }

  /**
   * `swipe {card?, granted?}`, `force`, `hold-open` and `unlock {seconds}` (what a master's write
   * of `unlock_s` does), each at the simulator's current time.
   */
  control(action: string, args: ControlArgs): Record<string, number | boolean> {
    const at = this.nowMs;
    switch (action) {
      case 'swipe': {
        const granted = args.granted ?? true;
        if (typeof granted !== 'boolean') throw new ControlError('granted must be true or false');
        this.swipe(integerArg(args, 'card', enrolledCard(1), 1, 0xffffffff), granted, at, 3_000);
        break;
      }
      case 'force':
        this.openDoor(at, at + 4_000);
        break;
      case 'hold-open':
        this.swipe(enrolledCard(2), true, at, this.options.heldOpenAfterMs + 15_000);
        break;
      case 'unlock':
        this.unlock(integerArg(args, 'seconds', undefined, 0, 0xffff), at);
        break;
      default:
        throw new ControlError(`a door controller knows swipe, force, hold-open and unlock, not "${action}"`);
    }
    return this.values();
  }

  /** Releases the lock for `seconds` (0 locks at once), as a remote unlock command does. */
  unlock(seconds: number, at: number): void {
    this.unlockedUntil = at + seconds * 1000;
  }

  private raise(type: EventType, atMs: number, card = 0): void {
    const event: AccessEvent = { type, timestamp: Math.floor(atMs / 1000), card };
    this.raised.push(event);
    if (this.raised.length > 10_000) this.raised.shift();
    this.ring?.push(event);
  }

  /** A card at the reader; a granted visitor opens the door a second later and keeps it open `openMs`. */
  private swipe(card: number, granted: boolean, at: number, openMs: number): void {
    if (!granted) {
      this.raise('access.denied', at, card);
      return;
    }
    this.raise('access.granted', at, card);
    this.unlockedUntil = Math.max(this.unlockedUntil, at + this.options.unlockMs);
    this.timeline.at(at + 1_000, (opened) => this.openDoor(opened, opened + openMs));
  }

  private openDoor(at: number, closeAt: number): void {
    if (this.doorOpen) return;
    this.doorOpen = true;
    this.openedAt = at;
    const opening = ++this.opening;
    if (at >= this.unlockedUntil) this.raise('door.forced', at);
    this.timeline.at(at + this.options.heldOpenAfterMs, (late) => {
      if (opening === this.opening && this.doorOpen) this.raise('door.held_open', late);
    });
    this.timeline.at(closeAt, () => {
      if (opening === this.opening) this.doorOpen = false;
    });
  }

  private scheduleVisitor(from: number): void {
    this.timeline.at(from + exponentialMs(this.random, this.options.meanSwipeIntervalMs), (at) => {
      const draw = this.random();
      if (draw < 0.88) this.swipe(enrolledCard(Math.floor(this.random() * 200)), true, at, 3_000);
      else if (draw < 0.98) this.swipe(7 * 65_536 + Math.floor(this.random() * 65_536), false, at, 0);
      else if (draw < 0.99) this.openDoor(at, at + 4_000); // someone pulls the door open
      else this.swipe(enrolledCard(3), true, at, this.options.heldOpenAfterMs + 20_000); // propped open
      this.scheduleVisitor(at);
    });
  }
}

/**
 * The controller's event ring buffer in its holding registers (the profile's `event_buffer`).
 * The controller owns `write_index` and the records; the master owns `read_index`. A new event
 * goes into slot `write_index`, which then advances; when that reaches `read_index` the buffer
 * was full, and the oldest event is overwritten: `read_index` is pushed on and `overflow_count`
 * counts it. Sequence numbers rise by one per event and are never reused.
 */
export class EventRing {
  private sequence: number;
  private readonly codes: Map<EventType, number>;

  constructor(
    private readonly buffer: EventBufferMapping,
    private readonly order: ByteOrder,
    private readonly memory: SlaveMemory,
    lastSequence = 0,
  ) {
    this.sequence = lastSequence;
    this.codes = new Map(Object.entries(buffer.codes).map(([code, type]) => [type, Number(code)]));
    const recordsEnd = buffer.records + buffer.capacity * buffer.record_registers - 1;
    for (const address of this.headerAddresses()) memory.implement('holding', address, address);
    memory.implement('holding', buffer.records, recordsEnd);
    memory.onWrite((table, address, values) => {
      if (table !== 'holding') return;
      values.forEach((value, i) => this.checkWrite(address + i, value, recordsEnd));
    });
  }

  private headerAddresses(): number[] {
    const { write_index, read_index, overflow_count } = this.buffer;
    return overflow_count === undefined ? [write_index, read_index] : [write_index, read_index, overflow_count];
  }

  /** Only `read_index` takes writes, and only a slot number. */
  private checkWrite(address: number, value: number, recordsEnd: number): void {
    if (address === this.buffer.read_index) {
      if (value >= this.buffer.capacity) {
        throw new ModbusException(ILLEGAL_DATA_VALUE, `read index ${value} is not a slot (0..${this.buffer.capacity - 1})`);
      }
      return;
    }
    if (this.headerAddresses().includes(address) || (address >= this.buffer.records && address <= recordsEnd)) {
      throw new ModbusException(ILLEGAL_DATA_ADDRESS, `holding ${address} is read-only`);
    }
  }

  private word(address: number): number {
    return this.memory.read('holding', address, 1)[0] ?? 0;
  }

  overflow(): number {
    return this.buffer.overflow_count === undefined ? 0 : this.word(this.buffer.overflow_count);
  }

  /** Stores an event in the next slot; returns its sequence number. */
  push(event: AccessEvent): number {
    const { capacity, record_registers: size, fields } = this.buffer;
    const code = this.codes.get(event.type);
    if (code === undefined) return 0; // the profile gives this kind of event no code: the device cannot record it
    const slot = this.word(this.buffer.write_index) % capacity;
    const base = this.buffer.records + slot * size;
    const u32 = (value: number) => encodeRegisters(value >>> 0, { type: 'uint32', order: this.order });
    this.sequence = (this.sequence % 0xffffffff) + 1;
    this.memory.setMany('holding', base, new Array<number>(size).fill(0));
    this.memory.setMany('holding', base + fields.sequence, u32(this.sequence));
    this.memory.setMany('holding', base + fields.timestamp, u32(event.timestamp));
    this.memory.setMany('holding', base + fields.card, u32(event.card));
    this.memory.set('holding', base + fields.code, code);
    const next = (slot + 1) % capacity;
    this.memory.set('holding', this.buffer.write_index, next);
    if (next === this.word(this.buffer.read_index) % capacity) {
      this.memory.set('holding', this.buffer.read_index, (next + 1) % capacity);
      if (this.buffer.overflow_count !== undefined) this.memory.set('holding', this.buffer.overflow_count, this.overflow() + 1);
    }
    return this.sequence;
  }
}
