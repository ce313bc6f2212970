#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { startAgent } from './agent.js';
import { ConfigError, loadConfigFile } from './config/load.js';
import { enrol, EnrolmentError } from './enroll/enroll.js';
import { planReport } from './plan-report.js';

const USAGE = `usage: gatehouse-edge <command> --config FILE
       gatehouse-edge enroll --hub URL --token TOKEN [--out FILE] [--ca FILE]

commands:
  run     poll the configured devices and forward their readings to the hub
  check   validate the configuration and exit
  plan    print each device's read requests and their bus time per cycle
  enroll  exchange a one-time enrolment token at the hub for this gateway's MQTT credentials,
          written to --out (default gateway-credentials.json) with mode 0600

The configuration is YAML or JSON; see edge/README.md.`;

function exitWith(code: number, message: string): never {
  process.stderr.write(`gatehouse-edge: ${message}\n`);
  process.exit(code);
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: {
        config: { type: 'string' },
        help: { type: 'boolean' },
        hub: { type: 'string' },
        token: { type: 'string' },
        out: { type: 'string' },
        ca: { type: 'string' },
      },
    });
  } catch (error) {
    exitWith(2, `${(error as Error).message}\n\n${USAGE}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const command = positionals[0];
  if (command === 'enroll') {
    // The token may come from the environment, to keep it out of the process list.
    const token = values.token ?? process.env.GATEHOUSE_ENROL_TOKEN;
    if (!values.hub || !token) exitWith(2, `enroll needs --hub URL and --token TOKEN\n\n${USAGE}`);
    const out = values.out ?? 'gateway-credentials.json';
    try {
      const credentials = await enrol({ hub: values.hub, token, out, caFile: values.ca });
      process.stdout.write(`enrolled as ${credentials.site}/${credentials.gateway} at ${credentials.mqtt.url}; credentials in ${out} (mode 0600)\n`);
    } catch (error) {
      if (!(error instanceof EnrolmentError)) throw error;
      exitWith(1, error.message);
    }
    return;
  }
  if (command !== 'run' && command !== 'check' && command !== 'plan') exitWith(2, `unknown command "${command ?? ''}"\n\n${USAGE}`);
  if (!values.config) exitWith(2, `--config FILE is required\n\n${USAGE}`);

  let loaded;
  try {
    loaded = loadConfigFile(values.config);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const lines = error.issues.map((issue) => `  ${issue.path}: ${issue.message}`).join('\n');
    exitWith(2, `${error.file} is invalid:\n${lines}`);
  }
  if (command === 'plan') {
    process.stdout.write(`${planReport(loaded)}\n`);
    return;
  }
  if (command === 'check') {
    const { config } = loaded;
    process.stdout.write(`${values.config}: valid (${config.devices.length} devices on ${config.buses.length} buses, version ${loaded.version})\n`);
    return;
  }

  const log = pino({ name: 'gatehouse-edge' });
  const agent = await startAgent(loaded, log);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    agent.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  process.stderr.write(`gatehouse-edge: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
