// `npm run bench -- NAME`: builds, then runs the benchmark tests/bench/NAME.ts. Each benchmark
// ends its output with one line holding a JSON object of its figures (see docs/benchmarks.md).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { build, ensureNodeModules, ROOT, run } from './setup.mjs';

const BENCH_DIR = join(ROOT, 'tests', 'bench');
const available = readdirSync(BENCH_DIR)
  .filter((file) => file.endsWith('.ts'))
  .map((file) => file.slice(0, -3))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (!name || !available.includes(name)) {
  process.stderr.write(`usage: npm run bench -- NAME [args]\nbenchmarks: ${available.join(', ')}\n`);
  process.exit(2);
}
ensureNodeModules();
build();
process.exit(run(process.execPath, ['--import', 'tsx', join(BENCH_DIR, `${name}.ts`), ...args]));
