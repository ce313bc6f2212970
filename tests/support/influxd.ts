import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort } from './processes.js';

/** Debian's influxd (package `influxdb`); GATEHOUSE_INFLUXD names another binary. */
export const INFLUXD = process.env.GATEHOUSE_INFLUXD ?? 'influxd';

/**
 * A throw-away influxd: its own config, meta, data and WAL in a temporary directory, its HTTP
 * API and its RPC listener (8088 by default) on free loopback ports, every other listener
 * (graphite, collectd, opentsdb, udp) left disabled as they are by default, no phoning home and
 * no _internal monitor database. `stop()` and `start()` again keep the data, for tests of a
 * store that goes away and comes back; `remove()` stops it and deletes everything.
 */
export class Influxd {
  readonly url: string;
  private child: ChildProcess | undefined;
  private output: string[] = [];

  private constructor(
    private readonly dir: string,
    private readonly config: string,
    readonly port: number,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  static async create(): Promise<Influxd> {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-influxd-'));
    const [httpPort, rpcPort] = [await freePort(), await freePort()];
    const config = join(dir, 'influxd.conf');
    writeFileSync(
      config,
      [
        'reporting-disabled = true',
        `bind-address = "127.0.0.1:${rpcPort}"`,
        '[meta]',
        `  dir = "${join(dir, 'meta')}"`,
        '[data]',
        `  dir = "${join(dir, 'data')}"`,
        `  wal-dir = "${join(dir, 'wal')}"`,
        '  query-log-enabled = false',
        '[http]',
        `  bind-address = "127.0.0.1:${httpPort}"`,
        '  log-enabled = false',
        '  pprof-enabled = false',
        '[monitor]',
        '  store-enabled = false',
        '[ifql]',
        '  enabled = false',
        '[logging]',
        '  level = "warn"',
        '  suppress-logo = true',
        '',
      ].join('\n'),
    );
    const influxd = new Influxd(dir, config, httpPort);
    await influxd.start();
    return influxd;
  }

  /** Starts influxd and waits until /ping answers; fails with its output if it exits first. */
  async start(): Promise<void> {
    this.output = [];
    const child = spawn(INFLUXD, ['-config', this.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const keep = (chunk: Buffer) => this.output.push(chunk.toString('utf8'));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let failed: Error | undefined;
    child.once('error', (error) => {
      failed = new Error(`cannot run ${INFLUXD} (${error.message}): install the Debian package influxdb`);
    });
    await eventually(async () => {
      if (failed) throw failed;
      if (child.exitCode !== null) throw new Error(`influxd exited with ${child.exitCode}:\n${this.output.join('')}`);
      const response = await fetch(`${this.url}/ping`);
      return response.status === 204 ? true : undefined;
    }, `influxd on ${this.url}`);
    if (failed) throw failed;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  async remove(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
