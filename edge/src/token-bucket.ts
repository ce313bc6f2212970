/**
 * A token bucket: it fills at `ratePerMs` tokens per millisecond of wall time up to `capacity`,
 * and a cost is taken from it only if it holds that much. It bounds two things in the agent:
 * the share of a bus's time spent probing dead devices (tokens are bus milliseconds), and the
 * rate at which an outage's backlog drains (tokens are messages).
 */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;

  constructor(
    private readonly ratePerMs: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.lastMs = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + Math.max(0, now - this.lastMs) * this.ratePerMs);
    this.lastMs = now;
  }

  /** Takes `cost` if the bucket holds it; otherwise says how long until it will. */
  take(cost: number, now: number): { granted: true } | { granted: false; waitMs: number } {
    this.refill(now);
    if (this.tokens >= cost) {
      this.tokens -= cost;
      return { granted: true };
    }
    return { granted: false, waitMs: Math.ceil((cost - this.tokens) / this.ratePerMs) };
  }

  /** Gives back what a taker did not use (a probe answered before its timeout). */
  refund(unused: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + Math.max(0, unused));
  }
}
