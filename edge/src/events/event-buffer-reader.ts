import type { Logger } from 'pino';
import type { GatehouseEvent } from '@gatehouse/protocols';
import {
  decodeHeader,
  decodeRecords,
  eventBufferOf,
  headerSpan,
  pendingCount,
  recordReads,
  takeNew,
  type DeviceProfile,
  type EventBufferHeader,
  type EventRecord,
} from '@gatehouse/devices';
import { EARLIEST_PLAUSIBLE_TIME } from '../clock.js';
import type { BusTransactions } from '../poll/bus-poller.js';

/** What the reader keeps in the outbox's state, committed with the events it took. */
export interface EventCursor {
  /** The sequence number of the last record taken; 0 before the first. */
  lastSequence: number;
  /** Events the controller overwrote before they were taken, in all (sequence gaps). */
  lost: number;
}

export const cursorKey = (device: string): string => `event-cursor/${device}`;

/** The bus a device is on, as far as the reader needs it (a BusPoller). */
export interface EventBus {
  enqueue<T>(unit: number, job: (bus: BusTransactions) => Promise<T>): Promise<T>;
}

/** Where events go: the outbox, through the uplink, with the cursor in the same transaction. */
export interface EventStore {
  getState<T>(key: string): T | undefined;
  /** Queues events with `state` in one transaction; resolves once both are on disk. */
  addEvents(events: readonly GatehouseEvent[], state: Readonly<Record<string, unknown>>): Promise<void>;
  /** Writes `state` alone (a cursor that moved past records that make no event). */
  putState(state: Readonly<Record<string, unknown>>): Promise<void>;
}

export interface EventBufferReaderOptions {
  device: string;
  unit: number;
  profile: DeviceProfile;
  bus: EventBus;
  store: EventStore;
  log: Logger;
  /** Told of the events once they are durable (alarm rules look at them). */
  onEvents?: (events: readonly GatehouseEvent[]) => void;
  /** Told when records were found missing: `count` now, `total` since the device was first read. */
  onLost?: (count: number, total: number) => void;
  now?: () => number;
}

/** What one cycle did, for tests and logs. */
export type CycleResult =
  | { ok: true; taken: number; replayed: number; lost: number }
  /** `error`: the outbox refused the commit, or the bus was stopped. */
  | { ok: false; stage: 'header' | 'records' | 'read_index' | 'error'; message: string };

type Pending = { ok: true; header: EventBufferHeader; records: EventRecord[] } | { ok: false; stage: 'header' | 'records'; message: string };

/**
 * Records read after the header may have been overwritten meanwhile: a full ring overwrites its
 * oldest slots first, so an overwritten slot holds a sequence number above the last slot's.
 * Taking it now would make `takeNew` count the events between as lost, although they are still in
 * the ring; left out, it is read again (as new) on the next cycle. Empty slots (sequence 0) are
 * left out too.
 */
export function beforeOverwrite(records: readonly EventRecord[]): EventRecord[] {
  const last = records.at(-1)?.sequence ?? 0;
  return records.filter((record) => record.sequence > 0 && record.sequence <= last);
}

/**
 * Reads an access controller's event ring buffer without loss or duplication, across restarts
 * and a kill between any two steps:
 *
 * 1. read the header; nothing to take when write_index = read_index;
 * 2. read the pending records (split where the ring wraps) and decode them;
 * 3. keep those newer than the cursor, by sequence number (`takeNew`), counting gaps as lost;
 * 4. in one outbox transaction, queue the events and store the cursor;
 * 5. only then write read_index := the write_index of step 1, freeing the slots.
 *
 * Dying before 4 loses nothing: the records are still in the ring. Dying between 4 and 5 makes
 * the next cycle (of this run, or the first after a restart, which loads the cursor) read the same
 * records again, and `takeNew` drops them. The bus is held only for the reads and for the write,
 * never across the disk commit.
 */
export class EventBufferReader {
  private cursor: EventCursor;
  private readonly now: () => number;
  private readonly unknownCodes = new Set<number>();
  /** The failing stage while reads fail, so that an outage is logged once at each end. */
  private failing: string | undefined;
  private failingSince = 0;
  /** Cycles that got as far as deciding what was new, in this run. */
  private cycles = 0;

  constructor(private readonly options: EventBufferReaderOptions) {
    this.now = options.now ?? Date.now;
    eventBufferOf(options.profile); // fails fast for a profile without a buffer
    const stored = options.store.getState<Partial<EventCursor>>(cursorKey(options.device));
    this.cursor = { lastSequence: stored?.lastSequence ?? 0, lost: stored?.lost ?? 0 };
  }

  get device(): string {
    return this.options.device;
  }

  get lastSequence(): number {
    return this.cursor.lastSequence;
  }

  /** Events found missing since the device was first read. */
  get lost(): number {
    return this.cursor.lost;
  }

  /** One pass of the protocol; never throws (a failure is a value, and the next cycle retries). */
  async cycle(): Promise<CycleResult> {
    const result = await this.run().catch((error: unknown) => ({ ok: false as const, stage: 'error' as const, message: String(error) }));
    this.note(result);
    return result;
  }

  private async run(): Promise<CycleResult> {
    const { bus, unit, device, store } = this.options;
    const buffer = eventBufferOf(this.options.profile);
    const pending = await bus.enqueue(unit, (io) => this.readPending(io));
    if (!pending.ok) return pending;
    if (pending.records.length === 0 && pendingCount(buffer, pending.header) === 0) return { ok: true, taken: 0, replayed: 0, lost: 0 };

    const consistent = beforeOverwrite(pending.records);
    const taken = takeNew(consistent, this.cursor.lastSequence);
    const events = taken.events.flatMap((record) => this.eventOf(record));
    if (taken.lastSequence !== this.cursor.lastSequence) {
      const next: EventCursor = { lastSequence: taken.lastSequence, lost: this.cursor.lost + taken.lost };
      const state = { [cursorKey(device)]: next };
      if (events.length > 0) await store.addEvents(events, state);
      else await store.putState(state);
      this.cursor = next;
      if (events.length > 0) this.options.onEvents?.(events);
      if (taken.lost > 0) {
        this.options.log.warn({ device, lost: taken.lost, lost_total: next.lost, overflow_count: pending.header.overflow }, 'access events were overwritten before the gateway took them');
        this.options.onLost?.(taken.lost, next.lost);
      }
    }

    const replayed = consistent.length - taken.events.length;
    if (replayed > 0) {
      // Records taken before whose slots were not freed: a cycle cut short by a failed write, or
      // by the agent's death between its commit and its write (then this is the first cycle since).
      const level = this.cycles === 0 ? 'info' : 'debug';
      this.options.log[level]({ device, replayed, last_sequence: this.cursor.lastSequence }, 'event records taken before were read again; dropped by sequence number');
    }
    this.cycles++;

    // The events (or the knowledge that they were taken before) are on disk: free the slots.
    const freed = await bus.enqueue(unit, (io) => io.write({ fc: 6, address: buffer.read_index, value: pending.header.writeIndex }));
    if (!freed.ok) return { ok: false, stage: 'read_index', message: freed.failure.message };
    return { ok: true, taken: events.length, replayed, lost: taken.lost };
  }

  private async readPending(io: BusTransactions): Promise<Pending> {
    const buffer = eventBufferOf(this.options.profile);
    const span = headerSpan(buffer);
    const head = await io.read('holding', span.address, span.count);
    if (!head.ok) return { ok: false, stage: 'header', message: head.failure.message };
    const header = decodeHeader(buffer, head.value as number[]);
    const records: EventRecord[] = [];
    for (const read of recordReads(buffer, header, this.options.profile.limits.max_registers_per_request)) {
      const words = await io.read('holding', read.address, read.count);
      if (!words.ok) return { ok: false, stage: 'records', message: `slots ${read.firstSlot}+${read.slots}: ${words.failure.message}` };
      records.push(...decodeRecords(buffer, this.options.profile.defaults.order, read, words.value as number[]));
    }
    return { ok: true, header, records };
  }

  /** A record as a catalogue event; none for a code the profile does not name (logged once). */
  private eventOf(record: EventRecord): GatehouseEvent[] {
    const { device, log } = this.options;
    if (!record.type) {
      if (!this.unknownCodes.has(record.code)) log.warn({ device, code: record.code, sequence: record.sequence }, 'event code not in the profile: skipped');
      this.unknownCodes.add(record.code);
      return [];
    }
    const stamped = record.timestamp * 1000;
    const now = this.now();
    // A controller whose clock was never set stamps 1970; the hub would refuse the event.
    const trusted = stamped >= EARLIEST_PLAUSIBLE_TIME && stamped <= now + 86_400_000;
    return [
      {
        device,
        type: record.type,
        ts: trusted ? stamped : now,
        data: {
          id: `${device}:${record.sequence}`,
          sequence: record.sequence,
          code: record.code,
          ...(record.card === 0 ? {} : { card: record.card }),
          ...(trusted ? {} : { controller_ts: record.timestamp }),
        },
      },
    ];
  }

  private note(result: CycleResult): void {
    const { device, log } = this.options;
    if (!result.ok) {
      if (this.failing === undefined) {
        this.failingSince = this.now();
        log.warn({ device, stage: result.stage, reason: result.message }, 'event buffer not readable');
      }
      this.failing = result.stage;
      return;
    }
    if (this.failing !== undefined) log.info({ device, outage_ms: this.now() - this.failingSince }, 'event buffer readable again');
    this.failing = undefined;
  }
}

/**
 * Runs a reader's cycles about every `intervalMs`, one at a time, until stopped. While `paused`
 * says so (the device is offline and only probed, within the bus's probe share) no cycle runs:
 * a dead controller must not cost the bus a timeout every second.
 */
export class EventBufferPoller {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    readonly reader: EventBufferReader,
    private readonly intervalMs: number,
    private readonly paused: () => boolean = () => false,
  ) {}

  start(): void {
    const next = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.running = (this.paused() ? Promise.resolve() : this.reader.cycle()).finally(next);
      }, this.intervalMs);
    };
    next();
  }

  /** Stops after the cycle under way, so that a commit is not cut off by the outbox closing. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
