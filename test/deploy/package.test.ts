// The npm package: `npm pack` ships the bundle (prepack), the bin and the LICENSE, and nothing else;
// installed into another project, `npx calico-hep-agent` works from any folder. The bin on a Node
// older than 22.19 re-runs itself under the cached Node, or says what to do.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prereq } from '../helpers/prereq.ts';
import { ROOT } from './render.ts';

function exec(cmd: string, args: readonly string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string; files: string[] };

describe('npm pack, npm install <tarball>, npx calico-hep-agent', () => {
  let dir: string;
  let tarball: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hep-package-'));
    const packed = await exec('npm', ['pack', '--json', '--pack-destination', dir], { cwd: ROOT, timeoutMs: 120_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
    tarball = join(dir, info!.filename);
    files = info!.files.map((f) => f.path).sort();
  });
  let files: string[] = [];

  after(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  test('ships the bundle, the bin, the LICENSE of the declared license; no sources, tests or benchmarks', async () => {
    assert.deepEqual(files, ['LICENSE', 'README.md', 'bin/calico-hep-agent.js', 'bin/node-runtime.js', 'deploy/config.example.yaml', 'dist/calico-hep-agent.mjs', 'package.json']);
    assert.equal(pkg.license, 'Apache-2.0');
    const license = await readFile(join(ROOT, 'LICENSE'), 'utf8');
    assert.match(license, /Apache License\s+Version 2\.0, January 2004/);
    assert.match(license, /END OF TERMS AND CONDITIONS/);
  });

  test('installed in another project, it runs from another folder: --version and plan', async () => {
    const project = join(dir, 'project');
    const elsewhere = join(dir, 'elsewhere');
    await mkdir(project);
    await mkdir(elsewhere);
    await writeFile(join(project, 'package.json'), '{"name": "user-project", "version": "1.0.0", "private": true}\n');
    const installed = await exec('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: project, timeoutMs: 180_000 });
    assert.equal(installed.code, 0, installed.stderr);
    const bin = join(project, 'node_modules', '.bin', 'calico-hep-agent');
    const version = await exec(bin, ['--version'], { cwd: elsewhere });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `calico-hep-agent ${pkg.version}\n`);
    const plan = await exec('npx', ['--prefix', project, 'calico-hep-agent', 'plan', '--node-name', 'n1', '--node-labels', 'role=master', '--output', 'json'], { cwd: elsewhere });
    assert.equal(plan.code, 0, plan.stderr);
    const items = (JSON.parse(plan.stdout) as { items: { metadata: { labels: Record<string, string> } }[] }).items;
    assert.ok(items.length > 0);
    for (const h of items) assert.equal(h.metadata.labels['role'], 'master');
  });
});

describe('the bin on a Node older than 22.19', async () => {
  // The machine's own Node, when it is older (Node 20 on these machines); otherwise nothing to check.
  const candidates = ['/usr/bin/node', '/usr/local/bin/node'];
  let old: string | undefined;
  for (const c of candidates) {
    const r = await exec(c, ['-p', 'process.versions.node'], { cwd: ROOT }).catch(() => undefined);
    const [major, minor] = (r?.stdout.trim() ?? '').split('.').map(Number);
    if (r?.code === 0 && (major! < 22 || (major === 22 && minor! < 19))) {
      old = c;
      break;
    }
  }
  // CI machines ship Node 20 at /usr/bin/node, so under CI=true a missing old Node fails (prereq).
  const skip = prereq(old === undefined ? 'no Node older than 22.19 at /usr/bin/node or /usr/local/bin/node' : null);
  let cache: string;
  before(async () => {
    cache = await mkdtemp(join(tmpdir(), 'hep-node-cache-'));
  });
  after(async () => {
    if (cache !== undefined) await rm(cache, { recursive: true, force: true });
  });
  const bin = join(ROOT, 'bin', 'calico-hep-agent.js');
  const env = () => ({ PATH: process.env['PATH'] ?? '', HOME: cache, NODE_CACHE: join(cache, 'node24') });

  test('without a suitable Node: exit 1 and an explanation, no stack trace', { skip }, async () => {
    const r = await exec(old!, [bin, '--version'], { cwd: ROOT, env: env() });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^calico-hep-agent needs Node\.js >= 22\.19; this is Node v\d+/);
    assert.match(r.stderr, /run `npm ci`/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  test('with the cached Node: re-runs under it, exit codes passed through', { skip }, async () => {
    const nodeBin = join(cache, 'node24', 'node_modules', 'node', 'bin');
    await mkdir(nodeBin, { recursive: true });
    await symlink(process.execPath, join(nodeBin, 'node'));
    const version = await exec(old!, [bin, '--version'], { cwd: ROOT, env: env() });
    assert.equal(version.code, 0, version.stderr);
    assert.equal(version.stdout, `calico-hep-agent ${pkg.version}\n`);
    const usage = await exec(old!, [bin, 'match', '--selector', 'a ==', '--labels', 'a=b'], { cwd: ROOT, env: env() });
    assert.equal(usage.code, 2, 'a usage error stays exit 2');
    const script = await exec(old!, [join(ROOT, 'scripts', 'node.js'), '-p', 'process.versions.node + " " + process.env.PATH.split(":")[0]'], { cwd: ROOT, env: env() });
    assert.equal(script.code, 0, script.stderr);
    assert.equal(script.stdout.trim(), `${process.versions.node} ${nodeBin}`, 'npm scripts run under it, with it first on PATH');
  });
});
