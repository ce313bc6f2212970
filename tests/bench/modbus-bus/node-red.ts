/**
 * The peer of the modbus-bus benchmark: Node-RED 4 with node-red-contrib-modbus 5.23, installed on
 * demand into a cache folder outside the workspaces, started headless on a generated flow.
 *
 * The flow is what that package's own documentation and maintainer advise for many slaves on one
 * serial line:
 * - one Modbus-Client config node for the line: serial, "RTU-BUFFERD", the line's baud and parity,
 *   its command queue on ("Queue commands", the default), "UnitId's in parallel" off (a serial line
 *   carries one transaction at a time; the maintainer's advice in the package's issues 161 and
 *   206), the default queue delay (1 ms) and timeout (1000 ms);
 * - the modbus-read node's help says to use the Flex-Getter or a sequence rather than more than
 *   ten read nodes on one connection, and the maintainer points users with several units on a
 *   serial line at the Flex-Sequencer (issue 424), so: one Modbus-Flex-Sequencer per meter
 *   listing its reads, all triggered by one repeating inject node;
 * - the reads are the map's contiguous blocks, one read per run of adjacent registers (split at
 *   the meter's register limit), as a user types them from the vendor's table: no merging across
 *   reserved registers, which nothing in Node-RED plans.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SerialLine } from '@gatehouse/protocols';

export const NODE_RED_VERSION = '4';
export const CONTRIB_MODBUS_VERSION = '5.23';

export interface PeerRead {
  unit: number;
  table: 'holding' | 'input';
  address: number;
  count: number;
}

function installedVersion(dir: string, pkg: string): string | undefined {
  const manifest = join(dir, 'node_modules', pkg, 'package.json');
  if (!existsSync(manifest)) return undefined;
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/**
 * Installs node-red and node-red-contrib-modbus into `dir` unless the versions asked for are
 * there already; returns their versions. Throws with npm's exit status when it fails.
 */
export function ensureNodeRed(dir: string, progress: (line: string) => void): { nodeRed: string; contribModbus: string } {
  const current = () => ({ nodeRed: installedVersion(dir, 'node-red'), contribModbus: installedVersion(dir, 'node-red-contrib-modbus') });
  const fits = (found: ReturnType<typeof current>) =>
    found.nodeRed?.startsWith(`${NODE_RED_VERSION}.`) && found.contribModbus?.startsWith(`${CONTRIB_MODBUS_VERSION}.`);
  let found = current();
  if (!fits(found)) {
    progress(`peer: installing node-red@${NODE_RED_VERSION} and node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION} into ${dir}`);
    const result = spawnSync(
      'npm',
      ['install', '--prefix', dir, `node-red@${NODE_RED_VERSION}`, `node-red-contrib-modbus@${CONTRIB_MODBUS_VERSION}`, '--no-audit', '--no-fund'],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    );
    if (result.status !== 0) throw new Error(`npm install of Node-RED exited with ${result.status ?? result.signal}`);
    found = current();
    if (!fits(found)) throw new Error(`after npm install, ${dir} holds node-red ${found.nodeRed} and node-red-contrib-modbus ${found.contribModbus}`);
  }
  return { nodeRed: found.nodeRed!, contribModbus: found.contribModbus! };
}

/** The flow: a client for the line, one sequencer per meter, one inject every `repeatSeconds`. */
export function peerFlow(options: { serialPort: string; line: SerialLine; reads: readonly PeerRead[]; repeatSeconds: number }) {
  const { serialPort, line, reads, repeatSeconds } = options;
  const units = [...new Set(reads.map((read) => read.unit))];
  const client = {
    id: 'bench-line',
    type: 'modbus-client',
    name: 'riser',
    clienttype: 'serial',
    bufferCommands: true,
    stateLogEnabled: false,
    queueLogEnabled: false,
    failureLogEnabled: true,
    tcpHost: '127.0.0.1',
    tcpPort: '502',
    tcpType: 'DEFAULT',
    serialPort,
    serialType: 'RTU-BUFFERD',
    serialBaudrate: String(line.baud),
    serialDatabits: String(line.dataBits),
    serialStopbits: String(line.stopBits),
    serialParity: line.parity,
    serialConnectionDelay: '100',
    serialAsciiResponseStartDelimiter: '0x3A',
    unit_id: '1',
    commandDelay: '1',
    clientTimeout: '1000',
    reconnectOnTimeout: true,
    reconnectTimeout: '2000',
    parallelUnitIdsAllowed: false,
  };
  const sequencers = units.map((unit) => ({
    id: `bench-meter-${unit}`,
    type: 'modbus-flex-sequencer',
    z: 'bench-tab',
    name: `meter ${unit}`,
    sequences: reads
      .filter((read) => read.unit === unit)
      .map((read) => ({
        name: `${read.table} ${read.address}+${read.count}`,
        unitid: String(unit),
        fc: read.table === 'holding' ? 'FC3' : 'FC4',
        address: String(read.address),
        quantity: String(read.count),
      })),
    server: client.id,
    showStatusActivities: false,
    showErrors: false,
    logIOActivities: false,
    useIOFile: false,
    ioFile: '',
    useIOForPayload: false,
    emptyMsgOnFail: false,
    keepMsgProperties: false,
    x: 400,
    y: 40 + 40 * unit,
    wires: [[], []],
  }));
  const inject = {
    id: 'bench-poll',
    type: 'inject',
    z: 'bench-tab',
    name: 'poll the line',
    props: [{ p: 'payload' }],
    repeat: String(repeatSeconds),
    crontab: '',
    once: true,
    onceDelay: '1',
    topic: '',
    payload: '',
    payloadType: 'date',
    x: 120,
    y: 40,
    wires: [sequencers.map((sequencer) => sequencer.id)],
  };
  return [{ id: 'bench-tab', type: 'tab', label: 'meters on the riser' }, client, inject, ...sequencers];
}

export interface NodeRedProcess {
  /** Resolves when Node-RED says its flows have started; rejects if it exits first. */
  started: Promise<void>;
  /** The last lines Node-RED printed. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts Node-RED from `dir` with `flow` in a throw-away user directory: its editor and admin API
 * off (headless), listening on loopback only, no telemetry or update checks.
 */
export function startNodeRed(dir: string, flow: unknown[]): NodeRedProcess {
  const userDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-node-red-'));
  const flowFile = join(userDir, 'flows.json');
  writeFileSync(flowFile, JSON.stringify(flow, null, 2));
  writeFileSync(
    join(userDir, 'settings.js'),
    `module.exports = ${JSON.stringify(
      {
        flowFile,
        uiHost: '127.0.0.1',
        uiPort: 0,
        httpAdminRoot: false,
        httpNodeRoot: false,
        diagnostics: { enabled: false, ui: false },
        telemetry: { enabled: false, updateNotification: false },
        logging: { console: { level: 'info', metrics: false, audit: false } },
      },
      null,
      2,
    )};\n`,
  );
  const child: ChildProcess = spawn(
    process.execPath,
    [join(dir, 'node_modules', 'node-red', 'red.js'), '--userDir', userDir, '--settings', join(userDir, 'settings.js'), '--no-telemetry'],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_RED_ENABLE_PROJECTS: 'false' } },
  );
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<void>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(line);
        if (lines.length > 200) lines.shift();
        if (line.includes('Started flows')) resolve();
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('error', reject);
    child.once('exit', (code, signal) => reject(new Error(`Node-RED exited (${code ?? signal}) before starting its flows:\n${lines.slice(-30).join('\n')}`)));
  });
  started.catch(() => undefined); // observed by the caller; this keeps an early exit from going unhandled
  return {
    started,
    output: () => lines.slice(-30).join('\n'),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        // Node-RED closes its nodes on SIGTERM; a client stuck on a serial port gets no longer than this.
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(kill);
      }
      rmSync(userDir, { recursive: true, force: true });
    },
  };
}
