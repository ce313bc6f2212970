import { parseArgs } from 'node:util';
import type { Logger } from 'pino';
import { dlt645, type SerialLine } from '@gatehouse/protocols';
import { loadAnyProfileFile } from '../profile/load.js';
import { builtInAnyProfile, builtInAnyProfiles } from '../profile/registry.js';
import type { Dlt645Profile } from '../profile/schema.js';
import { DLT645_LINE, startDlt645Simulator } from './dlt645-simulator.js';
import { FaultError, faultPlanOf, parseFault } from './faults.js';
import type { ResponseDelayModel } from './rtu-slave.js';
import { exitOnSignal } from './exit-on-signal.js';

export const DLT645_USAGE = `usage: gatehouse-sim dlt645 --serial PATH [options]

Simulates DL/T 645-2007 meters on one RS-485 line: a serial device, e.g. one end of a socat
pty pair. Each meter answers reads by data identifier and "read address" (to AAAAAAAAAAAA).

  --serial PATH        the serial device (required)
  --addresses LIST     meter addresses, twelve digits each (default 000000000001)
  --profile ID|FILE    a DL/T 645 profile (default chint-ddsu666-dlt645)
  --baud N             line speed (default 2400; parity even, 8 data bits, 1 stop bit)
  --parity P           none, even, odd (default even)
  --turnaround-ms N    the meter's turnaround before its answer's wire time (default 20)
  --wire-delay MODEL   round-trip, answer, none (default round-trip)
  --wake-up N          0xFE bytes before each answer (default 2)
  --hold               freeze every value at its start
  --set POINT=VALUE    pin a point to a value (repeatable)
  --fault SPEC         N:KIND[=VALUE][:count=N][:p=P][:seed=S], N the meter's position in
                       --addresses from 1, KIND one of crc, truncate, wrong-unit,
                       exception (VALUE: the error byte), silence (repeatable)`;

class UsageError extends Error {}

function whole(flag: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) throw new UsageError(`--${flag} ${text}: expected ${min}..${max}`);
  return value;
}

function choice<T extends string>(flag: string, text: string, allowed: readonly T[]): T {
  if (allowed.includes(text as T)) return text as T;
  throw new UsageError(`--${flag} ${text}: expected one of ${allowed.join(', ')}`);
}

function profileOf(idOrFile: string): Dlt645Profile {
  const profile = builtInAnyProfile(idOrFile) ?? (/[/.]/.test(idOrFile) ? loadAnyProfileFile(idOrFile) : undefined);
  if (!profile) {
    const shipped = [...builtInAnyProfiles().values()].filter((p) => p.protocol === 'dlt645').map((p) => p.id);
    throw new UsageError(`no profile "${idOrFile}"; shipped DL/T 645 profiles: ${shipped.join(', ')}`);
  }
  if (profile.protocol !== 'dlt645') throw new UsageError(`profile "${profile.id}" is a ${profile.protocol} profile, not DL/T 645`);
  return profile;
}

function pinned(pairs: readonly string[]): Record<string, number> {
  return Object.fromEntries(
    pairs.map((pair) => {
      const [point = '', text = ''] = pair.split('=');
      const value = Number(text);
      if (point === '' || text === '' || !Number.isFinite(value)) throw new UsageError(`--set ${pair}: expected POINT=NUMBER`);
      return [point, value];
    }),
  );
}

/** `gatehouse-sim dlt645 …`: runs until SIGINT or SIGTERM. */
export async function runDlt645Simulator(argv: string[], log: Logger): Promise<void> {
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        serial: { type: 'string' },
        addresses: { type: 'string', default: '000000000001' },
        profile: { type: 'string', default: 'chint-ddsu666-dlt645' },
        baud: { type: 'string', default: String(DLT645_LINE.baud) },
        parity: { type: 'string', default: DLT645_LINE.parity },
        'turnaround-ms': { type: 'string', default: '20' },
        'wire-delay': { type: 'string', default: 'round-trip' },
        'wake-up': { type: 'string', default: '2' },
        hold: { type: 'boolean', default: false },
        set: { type: 'string', multiple: true, default: [] },
        fault: { type: 'string', multiple: true, default: [] },
        help: { type: 'boolean', default: false },
      },
    });
    if (values.help) {
      process.stdout.write(`${DLT645_USAGE}\n`);
      return;
    }
    if (values.serial === undefined) throw new UsageError('--serial is required');
    const addresses = values.addresses.split(',').map((text) => {
      const parsed = dlt645.MeterAddress.safeParse(text);
      if (!parsed.success || parsed.data.includes('A')) throw new UsageError(`--addresses: "${text}" is not twelve digits`);
      return parsed.data;
    });
    const line: SerialLine = {
      ...DLT645_LINE,
      baud: whole('baud', values.baud, 300, 921_600),
      parity: choice('parity', values.parity, ['none', 'even', 'odd'] as const),
    };
    const fixed = pinned(values.set);
    const profile = profileOf(values.profile);
    const simulator = await startDlt645Simulator({
      path: values.serial,
      profile,
      meters: addresses.map((address) => ({ address, fixed })),
      line,
      turnaroundMs: whole('turnaround-ms', values['turnaround-ms'], 0, 10_000),
      delay: choice<ResponseDelayModel>('wire-delay', values['wire-delay'], ['round-trip', 'answer', 'none']),
      wakeUp: whole('wake-up', values['wake-up'], 0, 16),
      hold: values.hold,
      faults: faultPlanOf(values.fault.map(parseFault)),
    });
    log.info({ protocol: 'dlt645', serial: values.serial, line, addresses, profile: profile.id }, 'simulator ready');
    exitOnSignal(() => simulator.close());
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const parseArgsError = typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
    if (!(error instanceof UsageError || error instanceof FaultError || parseArgsError)) throw error;
    process.stderr.write(`gatehouse-sim dlt645: ${(error as Error).message}\n\n${DLT645_USAGE}\n`);
    process.exit(2);
  }
}
