import type { Logger } from 'pino';
import type { GatehouseEvent } from '@gatehouse/protocols';
import type { GpioDoorConfig } from './config.js';
import type { DigitalLines } from './lines.js';

export interface GpioDoorOptions {
  config: GpioDoorConfig;
  lines: DigitalLines;
  /** Each event as it happens (the agent queues it in the outbox and gives it to alarm rules). */
  emit: (event: GatehouseEvent) => void;
  log: Logger;
  now?: () => number;
}

/**
 * A door wired to the gateway's own lines. An opening is legitimate while the lock relay holds
 * the lock released, or within `forced_window_ms` of a granted access (the exit button, a remote
 * unlock, a card granted by a reader the agent is told of); any other opening is door.forced. A
 * door open longer than `held_open_after_ms` raises door.held_open, once per opening. The exit
 * button releases the lock for `exit_unlock_s`. At start and stop the relay is de-energised:
 * the lock holds (fail-secure).
 */
export class GpioDoor {
  private readonly now: () => number;
  private doorOpen = false;
  private opening = 0;
  private grantedAt = Number.NEGATIVE_INFINITY;
  private releasedUntil = 0;
  private heldTimer: NodeJS.Timeout | undefined;
  private relayTimer: NodeJS.Timeout | undefined;
  private readonly stops: Array<() => void> = [];

  constructor(private readonly options: GpioDoorOptions) {
    this.now = options.now ?? Date.now;
  }

  get device(): string {
    return this.options.config.device;
  }

  get hasLockRelay(): boolean {
    return this.options.config.lock_relay !== undefined;
  }

  get isOpen(): boolean {
    return this.doorOpen;
  }

  /** Whether the relay holds the lock released now. */
  get isReleased(): boolean {
    return this.now() < this.releasedUntil;
  }

  start(): void {
    const { config, lines } = this.options;
    if (config.lock_relay) lines.set(config.lock_relay.line, false, { activeLow: config.lock_relay.active_low });
    // Each watch reports the line's level once as it starts: that is a state, not a change.
    let starting = true;
    this.stops.push(
      lines.watch(config.contact.line, { debounceMs: config.contact.debounce_ms, activeLow: config.contact.active_low }, (open) => {
        this.contact(open, starting);
      }),
    );
    if (config.exit_button) {
      const button = config.exit_button;
      this.stops.push(
        lines.watch(button.line, { debounceMs: button.debounce_ms, activeLow: button.active_low }, (pressed) => {
          if (pressed && !starting) this.exitPressed();
        }),
      );
    }
    starting = false;
  }

  /** A granted access the agent learnt of otherwise (a card reader on a controller): the next opening is legitimate. */
  grant(): void {
    this.grantedAt = this.now();
  }

  /** Releases the lock for `seconds` (a remote unlock); a later call extends or shortens it. */
  unlock(seconds: number): void {
    const relay = this.options.config.lock_relay;
    if (!relay) throw new RangeError(`door ${this.device} has no lock relay`);
    const at = this.now();
    this.grantedAt = at;
    this.releasedUntil = at + seconds * 1000;
    this.options.lines.set(relay.line, true);
    clearTimeout(this.relayTimer);
    this.relayTimer = setTimeout(() => this.relock(), seconds * 1000);
    this.options.log.info({ device: this.device, seconds }, 'lock released');
  }

  private relock(): void {
    const relay = this.options.config.lock_relay;
    if (!relay) return;
    this.relayTimer = undefined;
    this.releasedUntil = 0;
    this.options.lines.set(relay.line, false);
  }

  private exitPressed(): void {
    this.grantedAt = this.now();
    if (this.hasLockRelay) this.unlock(this.options.config.exit_unlock_s);
  }

  private authorised(at: number): boolean {
    return at < this.releasedUntil || at - this.grantedAt <= this.options.config.forced_window_ms;
  }

  private contact(open: boolean, initial: boolean): void {
    const at = this.now();
    this.doorOpen = open;
    clearTimeout(this.heldTimer);
    if (!open) return;
    const opening = ++this.opening;
    // A door found open at start-up was not seen opening: it may be held open, not forced.
    if (!initial && !this.authorised(at)) this.emit('door.forced', at, {});
    this.heldTimer = setTimeout(() => {
      if (opening === this.opening && this.doorOpen) this.emit('door.held_open', this.now(), { open_ms: this.now() - at });
    }, this.options.config.held_open_after_ms);
  }

  private emit(type: 'door.forced' | 'door.held_open', ts: number, data: Record<string, unknown>): void {
    this.options.log.warn({ device: this.device, event: type }, type === 'door.forced' ? 'door forced open' : 'door held open');
    this.options.emit({ device: this.device, type, ts, data: { id: `${this.device}:${type}:${ts}`, source: 'gpio', ...data } });
  }

  stop(): void {
    clearTimeout(this.heldTimer);
    clearTimeout(this.relayTimer);
    for (const stop of this.stops.splice(0)) stop();
    this.relock();
  }
}
