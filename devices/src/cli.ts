#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import type { RegisterValue } from '@gatehouse/protocols';
import { builtInProfile, builtInProfiles } from './profile/registry.js';
import { loadProfileFile } from './profile/load.js';
import { startMeterSimulator } from './simulator/meter-simulator.js';

const USAGE = `usage: gatehouse-sim meter [options]

Simulates electric meters of a profile behind one Modbus TCP endpoint.

  --host ADDR          address to listen on (default 127.0.0.1)
  --port N             TCP port; 0 picks a free one (default 5020)
  --units LIST         unit ids, e.g. 1,2,3 (default 1)
  --profile ID|FILE    a shipped profile id or a profile file (default reference-3ph-meter)
  --hold               freeze every value at its start
  --set POINT=VALUE    pin a point to a value (repeatable)
  --tick-ms N          how often values move (default 1000)`;

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

async function main(): Promise<void> {
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
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (positionals[0] !== 'meter') fail(`unknown simulator "${positionals[0] ?? ''}"`);
  const profile =
    builtInProfile(values.profile) ??
    (/[/.]/.test(values.profile)
      ? loadProfileFile(values.profile)
      : fail(`no profile "${values.profile}"; shipped: ${[...builtInProfiles().keys()].join(', ')}`));
  const units = values.units.split(',').map((unit) => integer('units', unit, 1, 247));
  const simulator = await startMeterSimulator({
    profile,
    host: values.host,
    port: integer('port', values.port, 0, 65535),
    units,
    hold: values.hold,
    fixed: parseFixed(values.set),
    tickMs: integer('tick-ms', values['tick-ms'], 10, 3_600_000),
  });
  const { address, port } = simulator.tcp.address();
  log.info({ host: address, port, units, profile: profile.id }, 'simulator ready');
  const stop = () => {
    void simulator.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  log.error({ err: error }, 'simulator failed');
  process.exit(1);
});
