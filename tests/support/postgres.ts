import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './processes.js';

/**
 * PostgreSQL's server programs: GATEHOUSE_PG_BIN, else Debian's newest
 * /usr/lib/postgresql/N/bin, else whatever `initdb` is on PATH.
 */
function serverBinDir(): string | undefined {
  if (process.env.GATEHOUSE_PG_BIN) return process.env.GATEHOUSE_PG_BIN;
  const debian = '/usr/lib/postgresql';
  if (!existsSync(debian)) return undefined;
  const versions = readdirSync(debian)
    .filter((name) => existsSync(join(debian, name, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(debian, versions[0], 'bin');
}

/** PostgreSQL refuses to run as root; as root the server runs as this unprivileged user. */
const SERVER_USER = 'nobody';
const isRoot = () => process.getuid?.() === 0;

/**
 * A throw-away PostgreSQL cluster: initdb into a temporary directory, a server on a free
 * loopback port with its unix socket in that directory (never in /var/run), trust
 * authentication for the local superuser `postgres`. `stop()` and `start()` again keep the
 * data, for tests of a store that goes away and comes back; `remove()` stops it and deletes it.
 */
export class PostgresServer {
  readonly url: string;

  private constructor(
    private readonly dir: string,
    readonly port: number,
  ) {
    this.url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  }

  static async create(): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-postgres-'));
    if (isRoot()) {
      const uid = Number(run('id', ['-u', SERVER_USER]).trim());
      const gid = Number(run('id', ['-g', SERVER_USER]).trim());
      chownSync(dir, uid, gid);
    }
    const server = new PostgresServer(dir, await freePort());
    // fsync off and no sync after initdb: the cluster lives for one test run.
    server.pg('initdb', ['-D', server.dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
    server.start();
    return server;
  }

  private get dataDir(): string {
    return join(this.dir, 'data');
  }

  /** Starts the server; `pg_ctl -w` returns once it accepts connections. */
  start(): void {
    const options = `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
    this.pg('pg_ctl', ['-D', this.dataDir, '-o', options, '-l', join(this.dir, 'server.log'), '-w', 'start']);
  }

  stop(): void {
    if (existsSync(join(this.dataDir, 'postmaster.pid'))) this.pg('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', 'stop']);
  }

  remove(): void {
    this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private pg(program: string, args: string[]): void {
    const bin = serverBinDir();
    const path = bin ? join(bin, program) : program;
    const [command, commandArgs] = isRoot() ? ['runuser', ['-u', SERVER_USER, '--', path, ...args]] : [path, args];
    const result = spawnSync(command, commandArgs, { encoding: 'utf8', cwd: this.dir });
    if (result.error || result.status !== 0) {
      const log = join(this.dir, 'server.log');
      const serverLog = existsSync(log) ? readFileSync(log, 'utf8').slice(-2000) : '';
      throw new Error(
        `${program} failed (${result.error?.message ?? `exit ${result.status}`}) as ${isRoot() ? SERVER_USER : userInfo().username}; ` +
          `install the Debian package postgresql or set GATEHOUSE_PG_BIN:\n${result.stderr ?? ''}${serverLog}`,
      );
    }
  }
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}
