/**
 * Closes a simulator's endpoints on SIGINT or SIGTERM and exits: the demo and the tests stop
 * simulators with a signal and wait for a clean exit.
 */
export function exitOnSignal(...closers: Array<(() => Promise<unknown>) | undefined>): void {
  const stop = () => {
    void Promise.all(closers.map((close) => close?.() ?? Promise.resolve())).then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
