import { fileURLToPath } from 'node:url';

/** The built command-line programs the system tests start as separate processes. */
const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export const REPO_ROOT = root('');
export const HUB_CLI = root('cloud/dist/cli.js');
export const EDGE_CLI = root('edge/dist/cli.js');
export const SIM_CLI = root('devices/dist/cli.js');
export const DEMO_SCRIPT = root('scripts/demo.mjs');
