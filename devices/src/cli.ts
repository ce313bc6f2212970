#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { RegisterValue, SerialLine } from '@gatehouse/protocols';
import { builtInProfile, builtInProfiles } from './profile/registry.js';
import { loadProfileFile } from './profile/load.js';
import { startMeterSimulator } from './simulator/meter-simulator.js';
import { startControlServer, startDeviceSimulator } from './simulator/device-simulator.js';
import type { DeviceProfile } from './profile/schema.js';
import { FaultError, faultPlanOf, parseFault, type FaultPlan } from './simulator/faults.js';
import { runDlt645Simulator } from './simulator/dlt645-cli.js';
import { opcuaProfileOf, runOpcuaDevice } from './simulator/opcua-cli.js';
import type { ResponseDelayModel, RtuSlaveOptions } from './simulator/rtu-slave.js';
import { exitOnSignal } from './simulator/exit-on-signal.js';

const USAGE = `usage: gatehouse-sim meter [options]
       gatehouse-sim dlt645 --serial PATH [options]   (DL/T 645-2007 meters; dlt645 --help)

Simulates electric meters of a profile behind one Modbus TCP endpoint, or on one
Modbus RTU line (a serial device, or raw RTU frames over TCP as from an RS-485 device server).

  --host ADDR          address to listen on (default 127.0.0.1)
  --port N             TCP port; 0 picks a free one (default 5020)
  --units LIST         unit ids, e.g. 1,2,3 (default 1)
  --profile ID|FILE    a shipped profile id or a profile file (default reference-3ph-meter)
  --hold               freeze every value at its start
  --set POINT=VALUE    pin a point to a value (repeatable)
  --tick-ms N          how often values move (default 1000)
  --transport KIND     tcp (Modbus TCP, default) or rtu (Modbus RTU: on --serial,
                       else RTU over TCP on --host/--port)
  --serial PATH        serial device for rtu, e.g. one end of a socat pty pair
  --baud N             rtu line speed (default 9600)
  --parity P           rtu parity: none, even, odd (default even)
  --stop-bits N        rtu stop bits: 1 or 2 (default 1)
  --turnaround-ms N    rtu slave turnaround before the answer's wire time (default 5)
  --wire-delay MODEL   rtu answer delay: round-trip, answer, none (default round-trip)
  --fault SPEC         rtu fault UNIT:KIND[=VALUE][:count=N][:p=P][:seed=S], KIND one of
                       crc, truncate, wrong-unit, exception, silence (repeatable)

usage: gatehouse-sim device --model ID|FILE [options]

Simulates devices of any shipped model (meters, water meters, lifts, door controllers, barrier
gates), each moving as its kind does. Takes the options above (--units, --port, --transport,
--serial, --set, --hold, --tick-ms, ...) and:

  --model ID|FILE      the device's profile, e.g. reference-elevator, chint-dtsu666
  --control-port N     HTTP control endpoint on --host (0 picks a free port; default none):
                         GET  /units/UNIT           the unit's values
                         POST /units/UNIT/ACTION    a run-time control, JSON body, e.g.
                           elevator: call {"floor":5}, fault {"code":21}, clear, trap, release
                           door controller: swipe {"card":N,"granted":false}, force,
                             hold-open, unlock {"seconds":5}
                           barrier gate: vehicle, open, fault {"code":3}, clear
                           water meter: leak {"on":true}, tamper {"on":true}

An OPC UA model (e.g. reference-elevator-opcua) is served by an OPC UA server on --host and
--port (security none; its endpoint URL is logged), one object per unit, with the same controls:

  --pki DIR            the server's certificate store (default: a folder in the temp dir)`;

const log = pino({ name: 'gatehouse-sim' });

function fail(message: string): never {
  process.stderr.write(`gatehouse-sim: ${message}\n\n${USAGE}\n`);
  process.exit(2);
}

function parseFixed(pairs: string[]): Record<string, RegisterValue> {
  const fixed: Record<string, RegisterValue> = {};
  for (const pair of pairs) {
    const match = /^([a-z0-9_]+)=(.+)$/.exec(pair);
    if (!match) fail(`--set ${pair}: expected POINT=VALUE`);
    const [, point, text] = match as unknown as [string, string, string];
    const number = Number(text);
    fixed[point] = text === 'true' ? true : text === 'false' ? false : Number.isFinite(number) ? number : text;
  }
  return fixed;
}

function integer(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) fail(`--${flag} ${text}: expected ${min}..${max}`);
  return value;
}

function oneOf<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (!allowed.includes(text as T)) fail(`--${flag} ${text}: expected one of ${allowed.join(', ')}`);
  return text as T;
}

interface RtuFlags {
  transport: string;
  serial?: string;
  host: string;
  port: string;
  baud: string;
  parity: string;
  'stop-bits': string;
  'turnaround-ms': string;
  'wire-delay': string;
  fault: string[];
}

/** The RTU endpoint the flags ask for; undefined for Modbus TCP. */
function rtuOptions(values: RtuFlags): Omit<RtuSlaveOptions, 'units'> | undefined {
  const transport = oneOf('transport', values.transport, ['tcp', 'rtu'] as const);
  if (transport === 'tcp') {
    if (values.serial !== undefined || values.fault.length > 0) fail('--serial and --fault need --transport rtu');
    return undefined;
  }
  const line: SerialLine = {
    baud: integer('baud', values.baud, 300, 921_600),
    dataBits: 8, // RTU requires 8 data bits (Modbus over Serial Line V1.02 §2.5.1)
    parity: oneOf('parity', values.parity, ['none', 'even', 'odd'] as const),
    stopBits: integer('stop-bits', values['stop-bits'], 1, 2) as 1 | 2,
  };
  return {
    line,
    turnaroundMs: integer('turnaround-ms', values['turnaround-ms'], 0, 10_000),
    delay: oneOf<ResponseDelayModel>('wire-delay', values['wire-delay'], ['answer', 'round-trip', 'none']),
    transport:
      values.serial !== undefined
        ? { kind: 'serial', path: values.serial }
        : { kind: 'tcp', host: values.host, port: integer('port', values.port, 0, 65535) },
    faults: faultPlan(values.fault),
  };
}

function faultPlan(specs: readonly string[]): FaultPlan {
  try {
    return faultPlanOf(specs.map(parseFault));
  } catch (error) {
    if (error instanceof FaultError) fail(`--fault: ${error.message}`);
    throw error;
  }
}

function profileOf(idOrFile: string): DeviceProfile {
  return (
    builtInProfile(idOrFile) ??
    (/[/.]/.test(idOrFile)
      ? loadProfileFile(idOrFile)
      : fail(`no profile "${idOrFile}"; shipped: ${[...builtInProfiles().keys()].join(', ')}`))
  );
}

type SimulatorFlags = RtuFlags & { units: string; hold: boolean; set: string[]; 'tick-ms': string };

/** The endpoint and the behaviour flags the meter and device simulators share. */
function commonOptions(values: SimulatorFlags) {
  return {
    host: values.host,
    port: integer('port', values.port, 0, 65535),
    units: values.units.split(',').map((unit) => integer('units', unit, 1, 247)),
    hold: values.hold,
    fixed: parseFixed(values.set),
    tickMs: integer('tick-ms', values['tick-ms'], 10, 3_600_000),
    rtu: rtuOptions(values),
  };
}

/** `gatehouse-sim device`: any shipped model, moving as its kind does, with a control endpoint. */
async function runDevice(values: SimulatorFlags & { model?: string; 'control-port'?: string; pki?: string }): Promise<void> {
  if (values.model === undefined) fail('device needs --model');
  const opcua = opcuaProfileOf(values.model);
  if (opcua) {
    const { rtu, ...common } = commonOptions(values);
    if (rtu) fail('an OPC UA model is served over TCP: --transport rtu does not apply');
    const controlPort = values['control-port'] === undefined ? undefined : integer('control-port', values['control-port'], 0, 65535);
    return runOpcuaDevice({ profile: opcua, ...common, controlPort, pkiDir: values.pki }, log);
  }
  const profile = profileOf(values.model);
  const { units, rtu, ...endpoint } = commonOptions(values);
  const simulator = await startDeviceSimulator({ profile, units, rtu, ...endpoint });
  const control =
    values['control-port'] === undefined
      ? undefined
      : await startControlServer(simulator, values.host, integer('control-port', values['control-port'], 0, 65535));
  const listening = simulator.tcp?.address() ?? simulator.rtu?.address?.();
  log.info(
    {
      transport: rtu ? 'rtu' : 'tcp',
      ...(listening ? { host: listening.address, port: listening.port } : { serial: values.serial }),
      units,
      model: profile.id,
      kind: profile.kind,
      ...(control ? { control_port: control.address().port } : {}),
    },
    'simulator ready',
  );
  exitOnSignal(() => simulator.stop(), control && (() => control.close()));
}

async function main(): Promise<void> {
  if (process.argv[2] === 'dlt645') return runDlt645Simulator(process.argv.slice(3), log);
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      host: { type: 'string', default: '127.0.0.1' },
      port: { type: 'string', default: '5020' },
      units: { type: 'string', default: '1' },
      profile: { type: 'string', default: 'reference-3ph-meter' },
      hold: { type: 'boolean', default: false },
      set: { type: 'string', multiple: true, default: [] },
      'tick-ms': { type: 'string', default: '1000' },
      transport: { type: 'string', default: 'tcp' },
      serial: { type: 'string' },
      baud: { type: 'string', default: '9600' },
      parity: { type: 'string', default: 'even' },
      'stop-bits': { type: 'string', default: '1' },
      'turnaround-ms': { type: 'string', default: '5' },
      'wire-delay': { type: 'string', default: 'round-trip' },
      fault: { type: 'string', multiple: true, default: [] },
      model: { type: 'string' },
      'control-port': { type: 'string' },
      pki: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals[0] === 'device') return runDevice(values);
  if (positionals[0] !== 'meter') fail(`unknown simulator "${positionals[0] ?? ''}"`);
  const profile = profileOf(values.profile);
  const { units, rtu, ...endpoint } = commonOptions(values);
  const simulator = await startMeterSimulator({ profile, units, rtu, ...endpoint });
  if (simulator.tcp) {
    const { address, port } = simulator.tcp.address();
    log.info({ transport: 'tcp', host: address, port, units, profile: profile.id }, 'simulator ready');
  } else {
    const endpoint = simulator.rtu?.address?.();
    const where = endpoint ? { host: endpoint.address, port: endpoint.port } : { serial: values.serial };
    log.info({ transport: 'rtu', ...where, line: rtu?.line, units, profile: profile.id }, 'simulator ready');
  }
  exitOnSignal(() => simulator.stop());
}

main().catch((error: unknown) => {
  log.error({ err: error }, 'simulator failed');
  process.exit(1);
});
