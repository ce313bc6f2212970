import type { CommStatus, DeviceInventoryEntry } from '@gatehouse/protocols';

export type CommChange =
  | { to: 'offline'; reason: string; since: number }
  | { to: 'online'; outageMs: number | undefined };

/**
 * A device's communication health. It turns offline only after a run of failures, so that one
 * lost frame on a noisy line does not flap the dashboard, and it reports each change once.
 */
export class CommState {
  private status: CommStatus = 'unknown';
  private consecutiveFailures = 0;
  private totalErrors = 0;
  private lastGoodRead: number | null = null;
  private reason: string | undefined;
  private failingSince: number | undefined;

  constructor(private readonly offlineAfterFailures: number) {}

  /** Records a good poll; returns the change it makes, if any. */
  succeeded(at: number): CommChange | undefined {
    const wasOffline = this.status === 'offline';
    const first = this.status === 'unknown';
    const outageMs = this.failingSince === undefined ? undefined : at - this.failingSince;
    this.status = 'online';
    this.consecutiveFailures = 0;
    this.lastGoodRead = at;
    this.reason = undefined;
    this.failingSince = undefined;
    // Only a change is news: the first answer, or the first after an outage.
    return wasOffline || first ? { to: 'online', outageMs: wasOffline ? outageMs : undefined } : undefined;
  }

  /** Records a failed poll; returns the change it makes, if any. */
  failed(at: number, reason: string): CommChange | undefined {
    this.totalErrors++;
    this.consecutiveFailures++;
    this.reason = reason;
    this.failingSince ??= at;
    if (this.status !== 'offline' && this.consecutiveFailures >= this.offlineAfterFailures) {
      this.status = 'offline';
      return { to: 'offline', reason, since: this.failingSince };
    }
    return undefined;
  }

  get isOffline(): boolean {
    return this.status === 'offline';
  }

  snapshot(): DeviceInventoryEntry['comm'] {
    return {
      status: this.status,
      ...(this.reason === undefined ? {} : { reason: this.reason }),
      last_good_read: this.lastGoodRead,
      consecutive_failures: this.consecutiveFailures,
      total_errors: this.totalErrors,
    };
  }
}
