import type { InfluxRetention } from '../src/index.js';

/** The hub's default retention: raw readings for 90 days, the 15-minute rollup for ever. */
export const TEST_RETENTION: InfluxRetention = {
  raw: { literal: '90d', ms: 90 * 86_400_000 },
  rollup: { literal: 'INF', ms: Infinity },
};
