// The agent as a child process (`run --netns NS`), from source or from the bundled build.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, statSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SOURCE_ENTRY = join(ROOT, 'bin/calico-hep-agent.js');
export const DIST_ENTRY = join(ROOT, 'dist/calico-hep-agent.mjs');
const PRIVATE_BUNDLE = join(tmpdir(), 'hepbench-bundle', 'calico-hep-agent.mjs');

export type Build = 'source' | 'bundle';

/**
 * The bundled build: `dist/calico-hep-agent.mjs` from `npm run build` when it exists; otherwise the
 * benchmark bundles src/main.ts itself with esbuild (same inputs, labelled `bench-private` in the
 * results) so the numbers exist before the project's build script does.
 */
export async function bundleEntry(): Promise<{ path: string; kind: 'dist' | 'bench-private' | 'override'; bytes: number }> {
  // HEPBENCH_BUNDLE=/path/to/other.mjs compares another build (e.g. one made from an older commit).
  const override = process.env['HEPBENCH_BUNDLE'];
  if (override !== undefined && override !== '') return { path: override, kind: 'override', bytes: statSync(override).size };
  if (existsSync(DIST_ENTRY)) return { path: DIST_ENTRY, kind: 'dist', bytes: statSync(DIST_ENTRY).size };
  // The project's own build (scripts/bundle.ts, with its stubs), written privately.
  const { bundle } = await import('../../scripts/bundle.ts');
  await bundle({ outfile: PRIVATE_BUNDLE, quiet: true });
  return { path: PRIVATE_BUNDLE, kind: 'bench-private', bytes: statSync(PRIVATE_BUNDLE).size };
}

export async function writeConfig(dir: string, yaml: string): Promise<string> {
  const path = join(dir, `config-${Math.random().toString(36).slice(2, 8)}.yaml`);
  // Port 0: several agents (and other engineers' tests) share the machine.
  await writeFile(path, `server: { address: 127.0.0.1, port: 0 }\n${yaml}\n`);
  return path;
}

/** Temp dirs (configs, agent logs) made by this run; removed at the end of a successful run. */
export const TEMP_DIRS: string[] = [];

export async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `hepbench-${prefix}-`));
  TEMP_DIRS.push(dir);
  return dir;
}

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** performance.now() just before spawn. */
  readonly spawnedAt: number;
  readonly logFile: string;
  stop(): Promise<number | null>;
}

/** Node flags for every agent a benchmark starts, e.g. HEPBENCH_NODE_ARGS="--max-semi-space-size=1 --lite-mode" (the image's). */
export const ENV_NODE_ARGS = (process.env['HEPBENCH_NODE_ARGS'] ?? '').split(/\s+/).filter((a) => a !== '');

export function spawnAgent(p: {
  entry: string;
  kubeconfig: string;
  config: string;
  netns: string;
  nodeName: string;
  logFile: string;
  nodeArgs?: string[];
}): AgentProcess {
  const log = createWriteStream(p.logFile);
  const spawnedAt = performance.now();
  const child = spawn(
    process.execPath,
    [...(p.nodeArgs ?? ENV_NODE_ARGS), p.entry, 'run', '--kubeconfig', p.kubeconfig, '--config', p.config, '--netns', p.netns],
    {
      env: { ...process.env, NODE_NAME: p.nodeName },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  return {
    child,
    pid: child.pid!,
    spawnedAt,
    logFile: p.logFile,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode);
        const kill = setTimeout(() => child.kill('SIGKILL'), 6000);
        child.once('exit', (code) => {
          clearTimeout(kill);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A bare Node process idling, the baseline for memory and CPU measured in the same run. */
export function spawnIdleNode(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(()=>{},1e9)'], { stdio: 'ignore' });
}
