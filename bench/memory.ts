// Where the agent's resident memory goes: RSS of processes that only load a set of modules (and, for
// "TLS watch", hold one HTTPS watch open), each minus a bare idling `node` measured in the same run.
//
//   node bench/memory.ts [--quick] [--before PATH.mjs]
//
// It answers "what does X cost" without rewriting the agent: the runtime dependencies one by one (and
// the alternatives considered), a TLS watch with built-ins imported as ESM and through require(), and
// the bundle loading its entry point only (`--before PATH.mjs` adds another build of it).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BANNER, footprintStubs } from '../scripts/bundle.ts';
import { fileURLToPath } from 'node:url';
import { bundleEntry } from './lib/agent-proc.ts';
import { flags, log, main, modeName, saveResult, sleep } from './lib/common.ts';
import { MiB, readProc } from './lib/procfs.ts';
import { fmt, median } from './lib/stats.ts';

const f = flags();
const ROUNDS = f.quick ? 3 : 7;
const ROOT = fileURLToPath(new URL('../', import.meta.url));

const TLS_WATCH = `
import { createServer } from 'node:https'; import { request } from 'node:https'; import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'; import { tmpdir } from 'node:os'; import { join } from 'node:path';
const d = mkdtempSync(join(tmpdir(), 'hepbench-tls-'));
execFileSync('openssl', ['req','-x509','-newkey','ec','-pkeyopt','ec_paramgen_curve:P-256','-nodes','-subj','/CN=127.0.0.1','-addext','subjectAltName=IP:127.0.0.1','-keyout',join(d,'k'),'-out',join(d,'c'),'-days','1'], { stdio: 'ignore' });
const cert = readFileSync(join(d,'c')); const key = readFileSync(join(d,'k')); rmSync(d, { recursive: true, force: true });
const srv = createServer({ cert, key }, (q, s) => { s.writeHead(200); s.write('{}\\n'); });
await new Promise((r) => srv.listen(0, '127.0.0.1', r));
const req = request({ host: '127.0.0.1', port: srv.address().port, ca: cert, path: '/w' }, (res) => res.on('data', () => {})); req.end();
`;

// The same TLS watch with every Node built-in loaded through require(), as the bundle does
// (footprintStubs in scripts/bundle.ts): an ESM import of a built-in evaluates all of its lazy exports.
const TLS_WATCH_CJS = `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);
const { createServer, request } = require('node:https'); const { execFileSync } = require('node:child_process');
const { mkdtempSync, readFileSync, rmSync } = require('node:fs'); const { tmpdir } = require('node:os'); const { join } = require('node:path');
${TLS_WATCH.split('\n')
  .filter((l) => !l.startsWith('import '))
  .join('\n')}`;

const CASES: Record<string, string> = {
  'bare node (baseline)': '',
  '@kubernetes/client-node (its index: APIs, models, undici)': "await import('@kubernetes/client-node');",
  '@kubernetes/client-node KubeConfig only (dist/config.js, unbundled: still undici and gen/)': "await import('@kubernetes/client-node/dist/config.js');",
  undici: "await import('undici');",
  'zod (classic API, what src/config/schema.ts uses)': "await import('zod');",
  'zod/mini': "await import('zod/mini');",
  'prom-client': "await import('prom-client');",
  pino: "await import('pino');",
  yaml: "await import('yaml');",
  'picomatch + ipaddr.js': "await import('picomatch'); await import('ipaddr.js');",
  'TLS server+client with one open watch (node:https, ESM import)': TLS_WATCH,
  'TLS server+client with one open watch (node:https, require)': TLS_WATCH_CJS,
};

/**
 * Each piece as the bundle holds it: a small entry using it the way the agent does, bundled with the
 * agent's own build settings and stubs (scripts/bundle.ts), so the figure is what it costs in the
 * bundle rather than as a tree of node_modules files.
 */
const BUNDLED: Record<string, string> = {
  'zod, classic API (src/config/schema.ts)':
    "import { z } from 'zod'; const s = z.strictObject({ a: z.string().min(1), b: z.array(z.number()).optional(), c: z.record(z.string(), z.string()) }); s.parse({ a: 'x', c: {} });",
  'zod/mini':
    "import * as z from 'zod/mini'; const s = z.strictObject({ a: z.string().check(z.minLength(1)), b: z.optional(z.array(z.number())), c: z.record(z.string(), z.string()) }); s.parse({ a: 'x', c: {} });",
  // What the schema module imports besides zod (node:net, the core's name/glob/CIDR checks, the guard's modes):
  // the schema row minus this one is what zod and the schema's own objects cost.
  'the core modules src/config/schema.ts imports, without zod':
    "import { isIP } from 'node:net'; import { POLICY_GUARD_MODES } from './src/core/policy/guard.ts'; import { DEFAULT_MAX_DELETE_FRACTION } from './src/core/reconcile.ts'; import { isDns1123Subdomain } from './src/core/k8s-names.ts'; import { globError } from './src/core/globs.ts'; import { isCidr } from './src/core/ip.ts'; void [isIP, POLICY_GUARD_MODES, DEFAULT_MAX_DELETE_FRACTION, isDns1123Subdomain, globError, isCidr];",
  "the agent's config schema (src/config/schema.ts on zod/mini, English messages), one parse":
    "import { configSchema } from './src/config/schema.ts'; import en from 'zod/v4/locales/en.js'; configSchema.parse({}, { error: en().localeError });",
  'prom-client (Registry, counters, histograms; no default metrics)':
    "import { Registry, Counter, Histogram } from 'prom-client'; const r = new Registry(); new Counter({ name: 'a_total', help: 'a', registers: [r] }).inc(); new Histogram({ name: 'b', help: 'b', registers: [r] }).observe(1); await r.metrics();",
  'pino (JSON lines to stdout)': "import { pino } from 'pino'; pino({ level: 'info' }, process.stderr);",
  yaml: "import { parse, stringify } from 'yaml'; stringify(parse('a: 1'));",
  "client-node's KubeConfig (stubbed: no gen/, undici, js-yaml)":
    "import { KubeConfig } from '@kubernetes/client-node/dist/config.js'; const kc = new KubeConfig(); kc.loadFromString('apiVersion: v1\\nclusters: [{name: c, cluster: {server: \"https://127.0.0.1:1\"}}]\\nusers: [{name: u, user: {token: t}}]\\ncontexts: [{name: x, context: {cluster: c, user: u}}]\\ncurrent-context: x\\n');",
  'picomatch + ipaddr.js': "import picomatch from 'picomatch'; import ipaddr from 'ipaddr.js'; picomatch('eth*')('eth0'); ipaddr.parse('::1');",
  "the agent's HttpApiClient module (not connected)": "import { HttpApiClient } from './src/adapters/kube/http-client.ts'; void HttpApiClient;",
};

async function bundleCase(dir: string, name: string, code: string): Promise<string> {
  const outfile = join(dir, `${name.replace(/[^a-z0-9]+/gi, '-')}.mjs`);
  await build({
    stdin: { contents: code, resolveDir: ROOT, loader: 'ts', sourcefile: 'case.ts' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minifySyntax: true,
    minifyWhitespace: true,
    keepNames: true,
    banner: { js: BANNER },
    plugins: [footprintStubs(ROOT)],
    outfile,
    logLevel: 'error',
  });
  return outfile;
}

function rssOf(code: string, cwd: string, settleMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', `${code}\nsetInterval(()=>{},1e9);`], { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
    setTimeout(() => {
      const p = readProc(child.pid!);
      child.kill('SIGKILL');
      if (p === undefined) reject(new Error(`process for ${code.slice(0, 40)} exited early`));
      else resolve(p.rssBytes);
    }, settleMs);
  });
}

await main(async () => {
  const bundle = await bundleEntry();
  // The bundle up to its CLI (--help): module evaluation of everything it contains. --before PATH adds another build.
  const loadBundle = (path: string) =>
    `process.argv = [process.argv[0], 'x', '--help']; const w = process.stdout.write; process.stdout.write = () => true; await import(${JSON.stringify(path)}); process.stdout.write = w;`;
  const bi = f.args.indexOf('--before');
  const before = bi >= 0 ? f.args[bi + 1] : undefined;
  const cases: Record<string, string> = { ...CASES, [`bundle (${bundle.kind}) loaded, --help`]: loadBundle(bundle.path) };
  const dir = await mkdtemp(join(tmpdir(), 'hepbench-memory-'));
  for (const [name, code] of Object.entries(BUNDLED)) cases[`bundled: ${name}`] = `await import(${JSON.stringify(await bundleCase(dir, name, code))});`;
  if (before !== undefined) cases[`bundle before (${before}) loaded, --help`] = loadBundle(before);
  const rows: Record<string, number[]> = {};
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, code] of Object.entries(cases)) {
      (rows[name] ??= []).push(await rssOf(code, ROOT, 1500));
      await sleep(50);
    }
  }
  const base = median(rows['bare node (baseline)']!);
  const table = Object.fromEntries(
    Object.entries(rows).map(([k, v]) => [
      k,
      { rssMiB: median(v) / MiB, overBareMiB: (median(v) - base) / MiB, samplesMiB: v.map((x) => Math.round((x / MiB) * 10) / 10) },
    ]),
  );
  for (const [k, v] of Object.entries(table)) log(`${k.padEnd(55)} rss ${fmt(v.rssMiB)} MiB, +${fmt(v.overBareMiB)} over bare node`);
  await rm(dir, { recursive: true, force: true });
  log(`saved ${saveResult('memory', modeName(f), { rounds: ROUNDS, note: 'median RSS 1.5 s after start, each case in its own process, interleaved', table })}`);
});
