import { existsSync } from 'node:fs';

/**
 * No clock that reads earlier than this is right: the agent was built after it. A gateway whose
 * real-time clock lost power boots in 1970 or 2000 until NTP sets it, and its first readings
 * would be filed decades in the past.
 */
export const EARLIEST_PLAUSIBLE_TIME = Date.UTC(2026, 0, 1);

/** systemd-timesyncd creates this file once it has synchronised the clock. */
const TIMESYNCD_MARKER = '/run/systemd/timesync/synchronized';

export interface ClockCheckOptions {
  requireSync: boolean;
  now?: () => number;
  isSynchronised?: () => boolean;
}

/** Whether readings stamped now can be trusted; those that cannot are marked `uncertain`. */
export function clockCheck(options: ClockCheckOptions): () => boolean {
  const now = options.now ?? Date.now;
  const synchronised = options.isSynchronised ?? (() => existsSync(TIMESYNCD_MARKER));
  return () => now() >= EARLIEST_PLAUSIBLE_TIME && (!options.requireSync || synchronised());
}
