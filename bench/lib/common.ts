// Flags, output and clean-up shared by the benchmarks.
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupLeftoverNetns, Netns } from '../../test/helpers/netns.ts';
import { TEMP_DIRS } from './agent-proc.ts';
import { machine, type Machine } from './machine.ts';

export const BENCH_NETNS_PREFIX = 'hepbench-';
const RESULTS = fileURLToPath(new URL('../results/', import.meta.url));

/** The code under test, captured when the benchmark starts (a long run must not report a later state). */
const SOURCE_AT_START = (() => {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: fileURLToPath(new URL('.', import.meta.url)), encoding: 'utf8' }).trim();
    } catch {
      return undefined;
    }
  };
  let distBuiltAt: string | undefined;
  try {
    distBuiltAt = statSync(new URL('../../dist/calico-hep-agent.mjs', import.meta.url)).mtime.toISOString();
  } catch {
    distBuiltAt = undefined;
  }
  return {
    commit: git('rev-parse', '--short', 'HEAD'),
    srcChanged: (git('status', '--porcelain', '--', '../../src') ?? '') !== '',
    distBuiltAt,
    startedAt: new Date().toISOString(),
  };
})();

export interface Flags {
  quick: boolean;
  long: boolean;
  soak: boolean;
  args: string[];
}

export function flags(argv = process.argv.slice(2)): Flags {
  return { quick: argv.includes('--quick'), long: argv.includes('--long'), soak: argv.includes('--soak'), args: argv };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function log(msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

/** Writes `bench/results/<name>[-mode].json` with the machine and the command line; returns the path. */
export function saveResult(name: string, mode: string, result: object): string {
  mkdirSync(RESULTS, { recursive: true });
  // --tag NAME keeps runs apart, e.g. a before/after pair.
  const ti = process.argv.indexOf('--tag');
  const tag = ti >= 0 ? process.argv[ti + 1] : undefined;
  const path = join(RESULTS, `${[name, mode, tag].filter(Boolean).join('-')}.json`);
  const m: Machine = machine();
  writeFileSync(
    path,
    `${JSON.stringify({ benchmark: name, mode, command: `node bench/${name}.ts ${process.argv.slice(2).join(' ')}`.trim(), date: new Date().toISOString(), source: SOURCE_AT_START, machine: m, bundleOverride: process.env['HEPBENCH_BUNDLE'], nodeArgs: process.env['HEPBENCH_NODE_ARGS'], ...result }, null, 2)}\n`,
  );
  return path;
}

export function modeName(f: Flags): string {
  return f.soak ? 'soak' : f.long ? 'long' : f.quick ? 'quick' : '';
}

/** A benchmark namespace; remove leftovers of crashed benchmark runs first. */
export async function benchNetns(): Promise<Netns> {
  await cleanupLeftoverNetns(BENCH_NETNS_PREFIX).catch(() => undefined);
  return Netns.create(BENCH_NETNS_PREFIX);
}

/** Runs `fn` with clean-up on SIGINT/SIGTERM too; exits non-zero on failure. */
export async function main(fn: (cleanups: Array<() => unknown>) => Promise<void>): Promise<void> {
  const cleanups: Array<() => unknown> = []; // a clean-up may return a promise; it is awaited
  const cleanup = async () => {
    for (const c of cleanups.reverse())
      await Promise.resolve()
        .then(c)
        .catch((e: unknown) => log(`cleanup: ${String(e)}`));
    cleanups.length = 0;
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await fn(cleanups);
  } catch (err) {
    log(`FAILED: ${(err as Error).stack ?? String(err)}`);
    if (TEMP_DIRS.length > 0) log(`agent logs kept in ${TEMP_DIRS.join(' ')}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
    if (process.exitCode !== 1) for (const d of TEMP_DIRS.splice(0)) rmSync(d, { recursive: true, force: true });
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
