export { AgentConfig, type BusConfig, type DeviceConfig } from './config/schema.js';
export { ConfigError, loadConfigFile, parseConfig, type LoadedConfig } from './config/load.js';
export { startAgent, type RunningAgent } from './agent.js';
export { ProbeBudget } from './poll/probe-budget.js';
export { CommState } from './poll/comm-state.js';
export { PersistentSequence } from './uplink/sequence.js';
export { BusPoller, nextSlot, type PolledDevice, type PollSink } from './poll/bus-poller.js';
export { LearnedGaps } from './poll/learned-gaps.js';
