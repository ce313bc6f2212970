#!/usr/bin/env node
import { pino } from 'pino';
import { startHub } from './hub.js';
import { hubSettingsFromEnv, SettingsError } from './settings.js';
import { isStoreError } from './store/errors.js';

async function main(): Promise<void> {
  let settings;
  try {
    settings = hubSettingsFromEnv();
  } catch (error) {
    if (!(error instanceof SettingsError)) throw error;
    process.stderr.write(`gatehouse-hub: ${error.message}\n`);
    process.exit(2);
  }
  const log = pino({ name: 'gatehouse-hub', level: settings.logLevel });
  const hub = await startHub(settings, log);
  log.info({ http_url: hub.httpUrl, mqtt_url: hub.mqttUrl, data_dir: settings.dataDir }, 'hub ready');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    hub.stop().then(
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
  // A store that cannot be reached at start says which and what to check; anything else is a bug.
  const message = isStoreError(error) ? error.message : ((error as Error).stack ?? String(error));
  process.stderr.write(`gatehouse-hub: ${message}\n`);
  process.exit(1);
});
