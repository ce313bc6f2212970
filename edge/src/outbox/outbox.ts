import { mkdirSync } from 'node:fs';
import { open, type Database, type RootDatabase } from 'lmdb';
import { LANES, LaneQueue, type Lane, type QueuedMessage } from './lane-queue.js';

export { LANES, type Lane, type QueuedMessage };

interface StoredMessage {
  payload: string;
  createdAt: number;
  /** The channel it goes to when not its lane's own (command results travel in the events lane). */
  channel?: string;
}

export interface AppendOptions {
  /**
   * Entries of the outbox's key-value state written in the same transaction as the message: a
   * reader's cursor, a command's result. Either both are on disk or neither is.
   */
  state?: Readonly<Record<string, unknown>>;
  /** Publish it to this channel instead of the lane's own. */
  channel?: string;
}

export interface OutboxStats {
  depth: Record<Lane, number>;
  bytes: number;
  oldestCreatedAt: number | null;
  dropped: Record<Lane, number>;
}

export interface OutboxOptions {
  dir: string;
  /** Bytes of payload the outbox may hold on disk before it drops, oldest telemetry first. */
  quotaBytes: number;
  now?: () => number;
}

export interface DropReport {
  lane: Lane;
  seq: number;
  createdAt: number;
}

const zero = (): Record<Lane, number> => ({ alarms: 0, events: 0, telemetry: 0 });

/**
 * The durable outbox: every reading batch, event and alarm is written here (LMDB, crash-safe)
 * before it is published, and removed only when the broker has acknowledged it. The sequence
 * number each message carries is allocated here and never reused, across restarts included.
 */
export class Outbox {
  private readonly messages: Database<StoredMessage, [number, number]>;
  private readonly meta: Database<number, string>;
  /** Small durable state kept beside the messages (event-buffer cursors, command results). */
  private readonly state: Database<unknown, string>;
  private readonly lanes: Record<Lane, LaneQueue> = { alarms: new LaneQueue(), events: new LaneQueue(), telemetry: new LaneQueue() };
  private readonly dropped: Record<Lane, number>;
  private nextSeq: number;
  private readonly now: () => number;
  /** Told of every message the quota drops, so that the agent can count, log and alarm. */
  onDrop: (drop: DropReport) => void = () => undefined;

  private constructor(
    private readonly root: RootDatabase,
    private readonly options: OutboxOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.messages = root.openDB<StoredMessage, [number, number]>({ name: 'messages' });
    this.meta = root.openDB<number, string>({ name: 'meta' });
    this.state = root.openDB<unknown, string>({ name: 'state' });
    this.nextSeq = this.meta.get('next_seq') ?? 0;
    this.dropped = zero();
    for (const lane of LANES) this.dropped[lane] = this.meta.get(`dropped:${lane}`) ?? 0;
    // What a previous run left unsent is durable and goes out first, in order.
    for (const { key, value } of this.messages.getRange()) {
      const [laneIndex, seq] = key;
      const lane = LANES[laneIndex]!;
      this.lanes[lane].push(Outbox.queued(lane, seq, value));
      this.nextSeq = Math.max(this.nextSeq, seq + 1);
    }
  }

  static open(options: OutboxOptions): Outbox {
    mkdirSync(options.dir, { recursive: true });
    return new Outbox(open({ path: options.dir, maxDbs: 4 }), options);
  }

  private static queued(lane: Lane, seq: number, stored: StoredMessage, durable = true): QueuedMessage {
    return {
      lane,
      seq,
      bytes: Buffer.byteLength(stored.payload),
      createdAt: stored.createdAt,
      durable,
      inFlight: false,
      removed: false,
      ...(stored.channel === undefined ? {} : { channel: stored.channel }),
    };
  }

  /**
   * Adds a message; `build` makes its payload from the sequence number it is given. Resolves
   * when the message is on disk; only then will `nextToSend` offer it. `options.state` is
   * written in the same transaction.
   */
  async append(lane: Lane, build: (seq: number) => string, options: AppendOptions = {}): Promise<number> {
    const seq = this.nextSeq++;
    const stored: StoredMessage = { payload: build(seq), createdAt: this.now(), ...(options.channel === undefined ? {} : { channel: options.channel }) };
    const queued = Outbox.queued(lane, seq, stored, false);
    this.makeRoom(queued.bytes);
    this.lanes[lane].push(queued);
    await this.root.transaction(() => {
      void this.messages.put([LANES.indexOf(lane), seq], stored);
      void this.meta.put('next_seq', this.nextSeq);
      for (const [key, value] of Object.entries(options.state ?? {})) void this.state.put(key, value);
    });
    queued.durable = true;
    return seq;
  }

  /** Drops the oldest messages of the lowest lane until `bytes` more fit the quota. */
  private makeRoom(bytes: number): void {
    for (const lane of [...LANES].reverse()) {
      while (this.totalBytes() + bytes > this.options.quotaBytes) {
        const victim = this.lanes[lane].oldest();
        if (!victim) break;
        this.lanes[lane].remove(victim);
        this.dropped[lane]++;
        void this.messages.remove([LANES.indexOf(lane), victim.seq]);
        void this.meta.put(`dropped:${lane}`, this.dropped[lane]);
        this.onDrop({ lane, seq: victim.seq, createdAt: victim.createdAt });
      }
    }
  }

  private totalBytes(): number {
    return LANES.reduce((sum, lane) => sum + this.lanes[lane].bytes, 0);
  }

  /** The oldest message of a lane ready to publish, or the oldest created at or after `since`. */
  sendable(lane: Lane, since?: number): QueuedMessage | undefined {
    return since === undefined ? this.lanes[lane].firstSendable() : this.lanes[lane].firstSendableSince(since);
  }

  /** The payload of a message `sendable` offered; it is on disk, so it is always there. */
  payloadOf(message: QueuedMessage): string {
    const key: [number, number] = [LANES.indexOf(message.lane), message.seq];
    // lmdb-js reads through a snapshot that it renews only on a later event turn, so a message
    // committed a moment ago may not be in it yet: renew the snapshot rather than miss it.
    let stored = this.messages.get(key);
    if (!stored) {
      this.root.resetReadTxn();
      stored = this.messages.get(key);
    }
    if (!stored) throw new Error(`outbox message ${message.lane} ${message.seq} is not on disk`);
    return stored.payload;
  }

  /** The broker has the message: it leaves the outbox. */
  acknowledge(message: QueuedMessage): void {
    this.lanes[message.lane].remove(message);
    void this.messages.remove([LANES.indexOf(message.lane), message.seq]);
  }

  /** A state entry, as last committed; undefined when there is none. */
  getState<T>(key: string): T | undefined {
    // As in payloadOf: a value committed a moment ago may not be in the read snapshot yet.
    let value = this.state.get(key) as T | undefined;
    if (value === undefined) {
      this.root.resetReadTxn();
      value = this.state.get(key) as T | undefined;
    }
    return value;
  }

  /** Writes (or, with undefined, removes) state entries in one transaction; resolves once on disk. */
  async putState(entries: Readonly<Record<string, unknown>>): Promise<void> {
    await this.root.transaction(() => {
      for (const [key, value] of Object.entries(entries)) void (value === undefined ? this.state.remove(key) : this.state.put(key, value));
    });
  }

  /** The state entries whose keys start with `prefix`, in key order. */
  *stateEntries<T>(prefix: string): IterableIterator<{ key: string; value: T }> {
    for (const { key, value } of this.state.getRange({ start: prefix })) {
      if (!key.startsWith(prefix)) return;
      yield { key, value: value as T };
    }
  }

  stats(): OutboxStats {
    const depth = zero();
    let oldest: number | null = null;
    for (const lane of LANES) {
      depth[lane] = this.lanes[lane].size;
      const first = this.lanes[lane].oldest();
      if (first && (oldest === null || first.createdAt < oldest)) oldest = first.createdAt;
    }
    return { depth, bytes: this.totalBytes(), oldestCreatedAt: oldest, dropped: { ...this.dropped } };
  }

  /** Waits for every write to reach the disk, then closes the store. */
  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }
}
