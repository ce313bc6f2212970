// `npm test`: installs what is missing, builds, checks types and lint, and runs every test.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build, ensureDebianPackages, ensureNodeModules, run, step } from './setup.mjs';

/**
 * What the tests start: a browser, a broker, the telemetry and relational databases, serial line
 * pairs and Modbus peers nobody here wrote.
 */
const DEBIAN_PACKAGES = ['chromium', 'mosquitto', 'influxdb', 'postgresql', 'socat', 'mbpoll', 'python3-pymodbus', 'python3-aiosmtpd'];

const started = Date.now();
ensureNodeModules();
ensureDebianPackages(DEBIAN_PACKAGES);
build();
step('type-checking');
run('npx', ['turbo', 'run', 'typecheck', '--output-logs=errors-only']);
step('linting');
run('npx', ['eslint', '.', '--max-warnings', '0']);

step('running tests');
const reportDir = mkdtempSync(join(tmpdir(), 'gatehouse-test-report-'));
const report = join(reportDir, 'vitest.json');
const status = run(
  'npx',
  ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...process.argv.slice(2)],
  { allowFailure: true },
);
let summary = 'tests: no report';
try {
  const results = JSON.parse(readFileSync(report, 'utf8'));
  summary = `tests: ${results.numPassedTests} passed, ${results.numFailedTests} failed`;
  if (results.numPendingTests + results.numTodoTests > 0) summary += `, ${results.numPendingTests + results.numTodoTests} skipped`;
} catch {
  // no report: vitest itself failed, and its exit status says so
}
rmSync(reportDir, { recursive: true, force: true });
process.stdout.write(`\nfull run took ${Math.round((Date.now() - started) / 1000)} s\n${summary}\n`);
process.exit(status ?? 1);
