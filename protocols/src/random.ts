/** A small seeded generator (mulberry32), so that a simulator run or a randomised test repeats exactly. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Uniform noise in [-amplitude, amplitude]. */
export function noise(random: () => number, amplitude: number): number {
  return (random() * 2 - 1) * amplitude;
}
