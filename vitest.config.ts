import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{protocols,devices,edge,cloud}/test/**/*.test.ts', 'tests/{e2e,browser}/**/*.test.ts'],
    // System tests start real processes and services; give them room on a busy two-core machine.
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
