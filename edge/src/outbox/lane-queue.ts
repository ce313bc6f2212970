/**
 * Lanes in priority order: alarms, then events (access, plates), then telemetry. A lane is never
 * held up by a lane after it, and under a disk quota the last lane loses its oldest first.
 */
export const LANES = ['alarms', 'events', 'telemetry'] as const;
export type Lane = (typeof LANES)[number];

/** One message waiting in the outbox, as the uplink sees it (the payload stays on disk). */
export interface QueuedMessage {
  lane: Lane;
  seq: number;
  bytes: number;
  createdAt: number;
  /** Written to disk: only then may it be published. */
  durable: boolean;
  inFlight: boolean;
  removed: boolean;
  /** Set when it goes to another channel than its lane's (see AppendOptions). */
  channel?: string;
}

/**
 * The messages of one lane in sequence order, with cheap removal anywhere (acknowledgements do
 * not always come oldest first) and a scan that skips what is in flight.
 */
export class LaneQueue {
  private entries: QueuedMessage[] = [];
  private head = 0;
  private live = 0;
  private liveBytes = 0;

  push(message: QueuedMessage): void {
    this.entries.push(message);
    this.live++;
    this.liveBytes += message.bytes;
  }

  get size(): number {
    return this.live;
  }

  get bytes(): number {
    return this.liveBytes;
  }

  oldest(): QueuedMessage | undefined {
    this.skipRemoved();
    return this.entries[this.head];
  }

  /** The oldest message ready to publish: on disk and not in flight. */
  firstSendable(): QueuedMessage | undefined {
    this.skipRemoved();
    for (let i = this.head; i < this.entries.length; i++) {
      const message = this.entries[i]!;
      if (!message.removed && message.durable && !message.inFlight) return message;
    }
    return undefined;
  }

  /**
   * The oldest sendable message created at or after `since`. Messages are queued in creation
   * order, so a binary search finds where they start without scanning an outage's backlog.
   */
  firstSendableSince(since: number): QueuedMessage | undefined {
    let low = this.head;
    let high = this.entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.entries[middle]!.createdAt < since) low = middle + 1;
      else high = middle;
    }
    for (let i = low; i < this.entries.length; i++) {
      const message = this.entries[i]!;
      if (!message.removed && message.durable && !message.inFlight) return message;
    }
    return undefined;
  }

  remove(message: QueuedMessage): void {
    if (message.removed) return;
    message.removed = true;
    this.live--;
    this.liveBytes -= message.bytes;
    this.skipRemoved();
  }

  /** Every message not yet removed, oldest first. */
  *pending(): IterableIterator<QueuedMessage> {
    for (let i = this.head; i < this.entries.length; i++) if (!this.entries[i]!.removed) yield this.entries[i]!;
  }

  private skipRemoved(): void {
    while (this.head < this.entries.length && this.entries[this.head]!.removed) this.head++;
    // Compact once the removed prefix dominates, so that memory follows the live size.
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
  }
}
