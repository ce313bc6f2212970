/**
 * The wait before reconnection attempt `attempt` (0 first): "full jitter" exponential backoff,
 * drawn uniformly below min(max, base × 2^attempt), so that the gateways of a site whose uplink
 * came back do not all knock on the broker in the same second.
 */
export function reconnectDelayMs(attempt: number, maxMs: number, random: () => number = Math.random, baseMs = 500): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(random() * ceiling);
}
