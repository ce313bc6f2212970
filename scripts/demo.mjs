// `npm run demo`: the whole system on embedded defaults — the hub (aedes broker, PGlite), a
// simulator of three sub-meters and an edge agent polling them — until Ctrl-C.
import { spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build, ensureNodeModules, ROOT, step } from './setup.mjs';

ensureNodeModules();
build();

const env = process.env;
const dataDir = env.GATEHOUSE_DATA_DIR ?? join(ROOT, '.gatehouse');
const simPort = env.GATEHOUSE_SIM_PORT ?? '5020';
const logDir = join(dataDir, 'demo-logs');
mkdirSync(logDir, { recursive: true });

const children = [];
let stopping = false;

/** Starts a program, its log in a file, and resolves with its first JSON log line of `readyMsg`. */
function start(name, script, args, readyMsg) {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    env: { ...env, GATEHOUSE_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logFile = join(logDir, `${name}.log`);
  const log = createWriteStream(logFile);
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  const entry = { name, child, logFile };
  children.push(entry);
  child.once('exit', (code, signal) => {
    if (stopping) return;
    process.stderr.write(`\n✗ ${name} stopped unexpectedly (${code ?? signal}); its log: ${logFile}\n`);
    process.stderr.write(tail(logFile));
    void stopAll(1);
  });
  return new Promise((resolve) => {
    let partial = '';
    child.stdout.on('data', (chunk) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        try {
          const parsed = JSON.parse(line);
          if (parsed.msg === readyMsg) resolve(parsed);
        } catch {
          // not a log line
        }
      }
    });
  });
}

function tail(file) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-15).join('\n') + '\n';
  } catch {
    return '';
  }
}

function waitForExit(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Stops the agent first (so that it says goodbye to the hub), then the simulator, then the hub. */
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const { child } of [...children].reverse()) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await waitForExit(child, 10_000);
  }
  process.stdout.write('Gatehouse demo stopped.\n');
  process.exit(code);
}

process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

step('starting the hub');
const hub = await start('hub', 'cloud/dist/cli.js', [], 'hub ready');

step('starting the meter simulator');
const sim = await start('simulator', 'devices/dist/cli.js', ['meter', '--port', simPort, '--units', '1,2,3'], 'simulator ready');

step('starting the edge agent');
const { parse } = createRequire(join(ROOT, 'edge', 'package.json'))('yaml');
const config = parse(readFileSync(join(ROOT, 'edge', 'examples', 'demo.yaml'), 'utf8'));
config.uplink.url = hub.mqtt_url;
config.buses[0].port = sim.port;
config.data_dir = join(dataDir, 'edge', `${config.site}-${config.gateway}`);
config.metrics = { port: Number(env.GATEHOUSE_EDGE_METRICS_PORT ?? 9464) };
const configFile = join(dataDir, 'demo-edge.json');
writeFileSync(configFile, JSON.stringify(config, null, 2));
const agent = await start('edge', 'edge/dist/cli.js', ['run', '--config', configFile], 'agent started');

process.stdout.write(`
Gatehouse demo is running.
  dashboard   ${hub.http_url}/
  API         ${hub.http_url}/api/v1/devices   (OpenAPI: ${hub.http_url}/api/v1/openapi.json)
  MQTT        ${hub.mqtt_url}
  gateway     ${agent.metrics_url}   (the edge agent's Prometheus metrics)
  logs        ${logDir}
Press Ctrl-C to stop.
`);
