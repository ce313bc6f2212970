// Set-up shared by `npm test`, `npm run demo` and `npm run bench`: install what is missing,
// then build. Uses only Node's standard library, because it runs before dependencies exist.
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

// Turbo phones home and checks for updates unless told not to; this machine has no such network.
const QUIET_TOOLS = { TURBO_TELEMETRY_DISABLED: '1', TURBO_NO_UPDATE_NOTIFIER: '1', DO_NOT_TRACK: '1' };

export function step(message) {
  process.stdout.write(`\n▶ ${message}\n`);
}

export function run(command, args, options = {}) {
  const result = spawnSync(command, args, {
    cwd: ROOT,
    stdio: 'inherit',
    env: { ...process.env, ...QUIET_TOOLS, ...options.env },
  });
  if (result.error) throw result.error;
  if (result.status !== 0 && !options.allowFailure) {
    process.stderr.write(`\n✗ ${command} ${args.join(' ')} exited with ${result.status ?? result.signal}\n`);
    process.exit(result.status ?? 1);
  }
  return result.status;
}

/** npm dependencies, installed when node_modules is missing or older than the lock file. */
export function ensureNodeModules() {
  const installed = join(ROOT, 'node_modules', '.package-lock.json');
  const lock = join(ROOT, 'package-lock.json');
  if (existsSync(installed) && (!existsSync(lock) || statSync(installed).mtimeMs >= statSync(lock).mtimeMs)) return;
  step('installing npm dependencies');
  // `npm install` rather than `npm ci`: it installs the locked versions all the same, and npm 11
  // writes lock files without the other platforms' optional packages (turbo's, for one), which
  // `npm ci` then refuses as out of sync.
  run('npm', ['install', '--no-audit', '--no-fund']);
}

function isInstalled(pkg) {
  const result = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.includes('install ok installed');
}

/**
 * Debian packages the tests talk to (real brokers, databases, serial lines, peers, a browser).
 * As root they are installed; otherwise the exact command to install them is printed.
 */
export function ensureDebianPackages(packages) {
  if (spawnSync('dpkg-query', ['--version']).status !== 0) {
    process.stderr.write(`✗ not a Debian system; install these yourself: ${packages.join(' ')}\n`);
    process.exit(1);
  }
  const missing = packages.filter((pkg) => !isInstalled(pkg));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    process.stderr.write(`✗ missing Debian packages. Install them with:\n  sudo apt-get install -y ${missing.join(' ')}\n`);
    process.exit(1);
  }
  step(`installing Debian packages: ${missing.join(' ')}`);
  const env = { DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** Builds every package (turbo skips what has not changed). */
export function build() {
  step('building');
  run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only']);
}
