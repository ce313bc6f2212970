import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, Proc } from './processes.js';

/** Debian's Mosquitto: the production broker the tests run against. */
export const MOSQUITTO = '/usr/sbin/mosquitto';

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  /** Stops the broker (an outage); `start` brings it back on the same port. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  close(): Promise<void>;
}

async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A throw-away Mosquitto on a free loopback port, persistent across `stop` and `start` as a
 * production broker is, with `extraConfig` appended to its config
 * (password and ACL files, persistence). Anonymous clients are allowed unless the config says not.
 */
export async function startMosquitto(extraConfig: string[] = []): Promise<Mosquitto> {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-mosquitto-'));
  // Started as root, mosquitto drops to its own user, which must be able to save its database here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  const anonymous = extraConfig.some((line) => line.startsWith('allow_anonymous')) ? [] : ['allow_anonymous true'];
  // Persistence as in production: sessions and their queued QoS 1 messages survive a restart.
  const persistence = ['persistence true', `persistence_location ${dir}/`];
  writeFileSync(
    config,
    [`listener ${port} 127.0.0.1`, ...anonymous, ...persistence, 'log_dest stderr', 'log_type error', ...extraConfig, ''].join('\n'),
  );
  let proc: Proc | undefined;
  const start = async () => {
    proc = new Proc('mosquitto', spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] }));
    await listening(port, 10_000);
  };
  const stop = async () => {
    await proc?.stop('SIGTERM');
    proc = undefined;
  };
  await start();
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    stop,
    start,
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
