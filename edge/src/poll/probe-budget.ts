/**
 * A token bucket of bus time for probing offline devices: it fills at `share` of wall time, so
 * that however many devices are dead, probing them takes at most that share of the bus. A probe
 * takes its worst case (the timeout) up front and gives back what it did not use.
 */
export class ProbeBudget {
  private tokensMs: number;
  private lastMs: number;

  constructor(
    private readonly share: number,
    private readonly capacityMs: number,
    now: number,
  ) {
    this.tokensMs = capacityMs;
    this.lastMs = now;
  }

  private refill(now: number): void {
    this.tokensMs = Math.min(this.capacityMs, this.tokensMs + (now - this.lastMs) * this.share);
    this.lastMs = now;
  }

  /** Takes `costMs` if the bucket holds it; otherwise says how long until it will. */
  take(costMs: number, now: number): { granted: true } | { granted: false; waitMs: number } {
    this.refill(now);
    if (this.tokensMs >= costMs) {
      this.tokensMs -= costMs;
      return { granted: true };
    }
    return { granted: false, waitMs: Math.ceil((costMs - this.tokensMs) / this.share) };
  }

  refund(unusedMs: number): void {
    this.tokensMs = Math.min(this.capacityMs, this.tokensMs + Math.max(0, unusedMs));
  }
}
