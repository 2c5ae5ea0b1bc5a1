// `npm run bench`: every benchmark in turn, each in its own process (so one's leftovers cannot skew
// the next). Flags pass through: `npm run bench -- --quick`. `--only a,b` picks benchmarks.
// The 10-minute and 1-hour modes are separate: `node bench/steady.ts --long` / `--soak`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { log } from './lib/common.ts';

const ALL = ['convergence', 'coldstart', 'steady', 'scale', 'memory', 'footprint', 'fleet', 'cluster-view', 'pod-churn', 'api-load'];
const argv = process.argv.slice(2);
const oi = argv.indexOf('--only');
const only = oi >= 0 ? argv[oi + 1]!.split(',') : ALL;
const pass = argv.filter((a, i) => a !== '--only' && (oi < 0 || i !== oi + 1));

let failed = 0;
for (const name of only) {
  if (!ALL.includes(name)) {
    log(`unknown benchmark ${name}; one of ${ALL.join(', ')}`);
    process.exit(2);
  }
  log(`=== ${name} ${pass.join(' ')}`);
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [fileURLToPath(new URL(`./${name}.ts`, import.meta.url)), ...pass], { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.once('SIGINT', forward);
    process.once('SIGTERM', forward);
    child.once('exit', (c) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(c);
    });
  });
  if (code !== 0) {
    failed++;
    log(`${name} failed (exit ${code})`);
  }
}
log(failed === 0 ? 'all benchmarks done; results in bench/results/' : `${failed} benchmark(s) failed`);
process.exitCode = failed === 0 ? 0 : 1;
