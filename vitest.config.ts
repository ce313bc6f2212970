import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{protocols,devices,edge,cloud}/test/**/*.test.ts', 'tests/{e2e,browser}/**/*.test.ts'],
    // System tests start real processes and services; give them room on a busy two-core machine.
    testTimeout: 60_000,
    // Two files at a time, also on two cores (vitest's default would be one): the long system
    // tests mostly wait (a broker down two minutes, escalation minutes on a fast clock), and the
    // store-and-forward fault test alone takes about five minutes.
    maxWorkers: 2,
    hookTimeout: 120_000,
  },
});
