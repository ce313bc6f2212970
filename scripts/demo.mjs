// `npm run demo`: the whole system on embedded defaults — the hub (aedes broker, PGlite), a
// simulator of every device kind (meters, water meters, lifts, a door controller, a barrier
// gate; DL/T 645 meters where socat is installed), an edge agent polling them, on-call teams for
// the site and a pager that prints the pages the hub sends them — until Ctrl-C.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ensureOnCall, teamOfEmail } from './demo-oncall.mjs';
import { startDemoPager } from './demo-pager.mjs';
import { build, ensureNodeModules, ROOT, step } from './setup.mjs';

ensureNodeModules();
build();

const env = process.env;
const dataDir = env.GATEHOUSE_DATA_DIR ?? join(ROOT, '.gatehouse');
const simPort = env.GATEHOUSE_SIM_PORT ?? '5020';
const liftControlPort = env.GATEHOUSE_LIFT_CONTROL_PORT ?? '8081';
const logDir = join(dataDir, 'demo-logs');
mkdirSync(logDir, { recursive: true });

// The demo's administrator password: GATEHOUSE_ADMIN_PASSWORD, or one generated on the first run
// and kept (mode 0600) beside the demo's data, since the hub sets it only when it has no user yet.
const passwordFile = join(dataDir, 'demo-admin-password');
if (!env.GATEHOUSE_ADMIN_PASSWORD && !existsSync(passwordFile)) {
  writeFileSync(passwordFile, `${randomBytes(12).toString('base64url')}\n`, { mode: 0o600 });
}
const adminPassword = env.GATEHOUSE_ADMIN_PASSWORD ?? readFileSync(passwordFile, 'utf8').trim();

const children = [];
let stopping = false;
// Set once started: Ctrl-C during start-up stops what there is so far.
let pager;
let ptyPair;

/** Starts a program, its log in a file, and resolves with its first JSON log line of `readyMsg`. */
function start(name, script, args, readyMsg, extraEnv = {}) {
  const child = spawn(process.execPath, [join(ROOT, script), ...args], {
    env: { ...env, GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_ADMIN_PASSWORD: adminPassword, ...extraEnv },
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
  await ptyPair?.close();
  await pager?.close();
  process.stdout.write('Gatehouse demo stopped.\n');
  process.exit(code);
}

process.once('SIGINT', () => void stopAll(0));
process.once('SIGTERM', () => void stopAll(0));

step('starting the pager');
// Before the hub, which reads its paging channels once at start: the pager's URL goes in them.
const pagesLog = join(logDir, 'pages.log');
pager = await startDemoPager({
  onPage: ({ page, recipient }) => {
    const line = `📟 page → ${recipient.name} (${teamOfEmail(recipient.email) ?? 'no demo team'}): ${page.title} — ack: ${page.ackUrl}`;
    process.stdout.write(`${line}\n`);
    appendFileSync(pagesLog, `${new Date().toISOString()} ${line}\n`);
  },
  onRefused: (reason) => process.stderr.write(`✗ the pager refused ${reason}\n`),
});
const pagingFile = join(dataDir, 'demo-paging.json');
// Mode 0600: the file holds the webhook's signing secret.
writeFileSync(pagingFile, JSON.stringify({ webhook: { type: 'webhook', url: pager.url, secret: pager.secret } }, null, 2), { mode: 0o600 });

step('starting the hub');
// The hub's own rules (cloud/examples/hub-rules.json): a meter silent at the hub, the incomer overloaded.
const hub = await start('hub', 'cloud/dist/cli.js', [], 'hub ready', {
  GATEHOUSE_PAGING_FILE: pagingFile,
  GATEHOUSE_RULES_FILE: env.GATEHOUSE_RULES_FILE ?? join(ROOT, 'cloud', 'examples', 'hub-rules.json'),
});

/** One simulator per bus of the demo's gateway (edge/examples/demo.yaml), on a port of its own. */
const SIMULATORS = [
  { bus: 'plant-room', args: ['meter', '--units', '1,2,3'], port: simPort },
  { bus: 'main-incomer', args: ['device', '--model', 'chint-dtsu666', '--units', '1'] },
  { bus: 'chiller', args: ['device', '--model', 'eastron-sdm630', '--units', '1'] },
  { bus: 'water', args: ['device', '--model', 'reference-water-meter', '--units', '1,2'] },
  // With its control endpoint, to trap a passenger on demand.
  { bus: 'lifts', args: ['device', '--model', 'reference-elevator', '--units', '1,2', '--control-port', liftControlPort] },
  { bus: 'lobby-doors', args: ['device', '--model', 'reference-door-controller', '--units', '1'] },
  { bus: 'car-park', args: ['device', '--model', 'reference-barrier-gate', '--units', '1'] },
];

step('starting the device simulators');
const { parse } = createRequire(join(ROOT, 'edge', 'package.json'))('yaml');
const config = parse(readFileSync(join(ROOT, 'edge', 'examples', 'demo.yaml'), 'utf8'));
const ready = await Promise.all(
  SIMULATORS.map(({ bus, args, port }) =>
    start(`sim-${bus}`, 'devices/dist/cli.js', [...args, '--port', String(port ?? 0)], 'simulator ready').then((sim) => [bus, sim]),
  ),
);
for (const [bus, sim] of ready) config.buses.find((entry) => entry.id === bus).port = sim.port;
const liftControl = `http://127.0.0.1:${Object.fromEntries(ready).lifts.control_port}`;

// A DL/T 645 line of flats' meters needs a serial line; socat makes one where it is installed.
if (spawnSync('socat', ['-V'], { stdio: 'ignore' }).status === 0) {
  const { startPtyPair } = await import(pathToFileURL(join(ROOT, 'devices', 'dist', 'index.js')).href);
  ptyPair = await startPtyPair();
  const addresses = ['000012345678', '000012345679'];
  await start('sim-flats', 'devices/dist/cli.js', ['dlt645', '--serial', ptyPair.b, '--addresses', addresses.join(',')], 'simulator ready');
  config.buses.push({ id: 'flats', transport: 'dlt645', path: ptyPair.a, timeout_ms: 1500 });
  addresses.forEach((address, i) =>
    config.devices.push({ id: `flat-30${i + 1}`, bus: 'flats', address, profile: 'chint-ddsu666-dlt645', poll_interval_ms: 10_000 }),
  );
} else {
  process.stdout.write('  (socat is not installed: the DL/T 645 meters of the flats are left out)\n');
}

step('enrolling the demo gateway');
// As an administrator and an installer would: a one-time token from the hub, exchanged by the
// gateway for its own MQTT credentials.
const login = await fetch(`${hub.http_url}/api/v1/auth/login`, {
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ username: 'admin', password: adminPassword }),
});
if (!login.ok) {
  process.stderr.write(`✗ cannot log in as admin (${login.status}): the demo data in ${dataDir} has another admin password; set GATEHOUSE_ADMIN_PASSWORD or remove ${dataDir}\n`);
  await stopAll(1);
}
const { token: session } = await login.json();
const created = await fetch(`${hub.http_url}/api/v1/sites/${config.site}/gateways`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: `Bearer ${session}` },
  body: JSON.stringify({ gateway: config.gateway }),
});
if (!created.ok) throw new Error(`creating the demo gateway: HTTP ${created.status} ${await created.text()}`);
const { enrolment_token: enrolmentToken } = await created.json();
const credentialsFile = join(dataDir, 'edge', `${config.site}-${config.gateway}-credentials.json`);
mkdirSync(join(dataDir, 'edge'), { recursive: true });
execFileSync(process.execPath, [join(ROOT, 'edge/dist/cli.js'), 'enroll', '--hub', hub.http_url, '--out', credentialsFile], {
  env: { ...env, GATEHOUSE_ENROL_TOKEN: enrolmentToken },
  stdio: 'ignore',
});
const credentials = JSON.parse(readFileSync(credentialsFile, 'utf8'));

step('setting up the on-call teams');
// Before the agent starts, so that its first alarms already find somebody to page.
let onCall;
try {
  onCall = await ensureOnCall(hub.http_url, session, config.site);
} catch (error) {
  process.stderr.write(`✗ setting up the on-call teams: ${error.message}\n`);
  await stopAll(1);
}

step('starting the edge agent');
config.uplink.url = credentials.mqtt.url;
// The password stays in the credentials file enrolment wrote (mode 0600), not in the config.
config.uplink.credentials_file = credentialsFile;
config.data_dir = join(dataDir, 'edge', `${config.site}-${config.gateway}`);
config.metrics = { port: Number(env.GATEHOUSE_EDGE_METRICS_PORT ?? 9464) };
const configFile = join(dataDir, 'demo-edge.json');
writeFileSync(configFile, JSON.stringify(config, null, 2));
const agent = await start('edge', 'edge/dist/cli.js', ['run', '--config', configFile], 'agent started');

process.stdout.write(`
Gatehouse demo is running.
  dashboard   ${hub.http_url}/
  log in as   admin / ${adminPassword}
  API         ${hub.http_url}/api/v1/devices   (OpenAPI: ${hub.http_url}/api/v1/openapi.json)
  MQTT        ${hub.mqtt_url}
  gateway     ${agent.metrics_url}   (the edge agent's Prometheus metrics)
  on call     ${onCall.map(({ team, primary }) => `${team}: ${primary}`).join(' · ')}   (${hub.http_url}/api/v1/teams)
  pages       printed here as they arrive (📟), and in ${pagesLog}
  logs        ${logDir}

Trap a passenger in lift-a, and watch the alarm, its work order and the page to the lifts' technician:
  curl -X POST ${liftControl}/units/1/trap
and free them again with
  curl -X POST ${liftControl}/units/1/release
Press Ctrl-C to stop.
`);
