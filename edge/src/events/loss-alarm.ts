import type { AlarmTransition } from '@gatehouse/protocols';

/** The rule name of the alarm raised at the gateway when a controller's events were overwritten. */
export const EVENT_LOSS_RULE = 'event-buffer-loss';

/**
 * One alarm per device and episode of lost access events: raised when the loss count rises,
 * cleared once `quietMs` has passed without a further loss. A lost card event is an access that
 * nobody can audit any more, so an installer should hear of it (the buffer is too small for the
 * traffic, or the bus too slow to empty it).
 */
export class EventLossAlarm {
  private readonly raisedAt = new Map<string, { last: number; lost: number }>();

  constructor(
    private readonly raise: (alarm: AlarmTransition) => void,
    private readonly quietMs = 600_000,
    private readonly now: () => number = Date.now,
  ) {}

  lost(device: string, count: number, total: number): void {
    const at = this.now();
    const episode = this.raisedAt.get(device);
    if (episode) {
      episode.last = at;
      episode.lost += count;
      return;
    }
    this.raisedAt.set(device, { last: at, lost: count });
    const message = `${device}: ${count} access events were overwritten before the gateway took them (${total} in all)`;
    this.raise({ device, rule: EVENT_LOSS_RULE, state: 'raised', severity: 'major', ts: at, message, value: total });
  }

  /** Clears the alarms of devices that lost nothing for `quietMs`; call it every second or so. */
  tick(): void {
    const at = this.now();
    for (const [device, episode] of this.raisedAt) {
      if (at - episode.last < this.quietMs) continue;
      this.raisedAt.delete(device);
      const message = `${device}: no access events lost for ${Math.round(this.quietMs / 1000)} s; ${episode.lost} were lost in this episode`;
      this.raise({ device, rule: EVENT_LOSS_RULE, state: 'cleared', severity: 'major', ts: at, message, value: episode.lost });
    }
  }
}
