import type { Logger } from 'pino';
import type { AlarmTransition } from '@gatehouse/protocols';
import type { DropReport, Outbox } from './outbox.js';

/** The rule name of the alarm a full outbox raises, at the gateway itself. */
export const OUTBOX_QUOTA_RULE = 'outbox-quota';

/**
 * Turns the outbox's quota drops into one alarm per episode: raised at the first drop, cleared
 * once the backlog has shrunk to half the quota, logged once at each end with what was lost.
 */
export class QuotaAlarm {
  private raised = false;
  private droppedThisEpisode = 0;

  constructor(
    private readonly gateway: string,
    private readonly outbox: Outbox,
    private readonly quotaBytes: number,
    private readonly raise: (alarm: AlarmTransition) => Promise<void>,
    private readonly log: Logger,
  ) {}

  dropped(drop: DropReport): void {
    this.droppedThisEpisode++;
    if (this.raised) return;
    this.raised = true;
    const message = `outbox full (${Math.round(this.quotaBytes / 1024)} KiB): dropping the oldest ${drop.lane} first`;
    this.log.error({ lane: drop.lane, quota_bytes: this.quotaBytes }, message);
    void this.raise({ device: this.gateway, rule: OUTBOX_QUOTA_RULE, state: 'raised', severity: 'major', ts: Date.now(), message });
  }

  /** Called as the backlog drains. */
  check(): void {
    if (!this.raised || this.outbox.stats().bytes > this.quotaBytes / 2) return;
    this.raised = false;
    const message = `outbox below half its quota again; ${this.droppedThisEpisode} messages were dropped`;
    this.log.warn({ dropped: this.droppedThisEpisode }, message);
    this.droppedThisEpisode = 0;
    void this.raise({ device: this.gateway, rule: OUTBOX_QUOTA_RULE, state: 'cleared', severity: 'major', ts: Date.now(), message });
  }
}
