import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DEMO_SCRIPT, REPO_ROOT } from './paths.js';
import { freePort, Proc } from './processes.js';

/** `npm run demo`, running, and what its intro told the person who started it. */
export interface RunningDemo {
  proc: Proc;
  /** The dashboard's URL, ending in `/`. */
  dashboardUrl: string;
  username: string;
  password: string;
  /** Who is on call now in each of the demo's teams, by team id: `{lifts: 'Li Wei', …}`. */
  onCall: Record<string, string>;
  /** The lift simulator's control endpoint, from the intro's curl line: `http://127.0.0.1:PORT`. */
  liftControl: string;
  /** Where the demo's pager appends each page it receives. */
  pagesLog: string;
}

/** The value of the intro's line `  {label}   {value}`, for Proc.waitForLine. */
const introValue = (label: string) => (line: string) => (line.startsWith(`  ${label} `) ? line.slice(label.length + 2).trim() : undefined);

/**
 * Starts the demo as a person would, on free ports (so that it clashes with nothing else running)
 * with its data in `dataDir`, and waits for its intro.
 */
export async function startDemo(dataDir: string): Promise<RunningDemo> {
  const env = {
    ...process.env,
    GATEHOUSE_HTTP_PORT: String(await freePort()),
    GATEHOUSE_MQTT_PORT: String(await freePort()),
    GATEHOUSE_SIM_PORT: String(await freePort()),
    GATEHOUSE_EDGE_METRICS_PORT: String(await freePort()),
    GATEHOUSE_LIFT_CONTROL_PORT: String(await freePort()),
    GATEHOUSE_DATA_DIR: dataDir,
  };
  const proc = new Proc('demo', spawn(process.execPath, [DEMO_SCRIPT], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  const dashboardUrl = await proc.waitForLine(introValue('dashboard'), 60_000);
  const [username, password] = (await proc.waitForLine(introValue('log in as'))).split(' / ');
  // `lifts: Li Wei · electrical: Wang Fang · …   (http://…/api/v1/teams)`
  const [teams] = (await proc.waitForLine(introValue('on call'))).split(/\s{3,}/);
  const onCall = Object.fromEntries(teams!.split(' · ').map((entry) => entry.split(': ') as [string, string]));
  const liftControl = await proc.waitForLine((line) => /^\s+curl -X POST (\S+)\/units\/1\/trap$/.exec(line)?.[1]);
  return { proc, dashboardUrl, username: username!, password: password!, onCall, liftControl, pagesLog: join(dataDir, 'demo-logs', 'pages.log') };
}
