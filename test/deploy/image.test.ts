// The container image without a Docker engine: the Dockerfile is checked against hadolint-style
// rules and against the DaemonSet, and its build stage is replayed: exactly the files .dockerignore
// lets into the context, `npm run build` (node_modules stands in for `npm ci`), then the runtime
// ENTRYPOINT runs the bundle (--help, plan). Where network namespaces work, the bundle and `ip`
// also run as the image's non-root user with no capabilities inside one, as the pod does.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, copyFile, cp, link, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { canUseNetns, Netns, run } from '../helpers/netns.ts';
import { ROOT } from './render.ts';

interface Instruction { cmd: string; args: string; line: number }

/** Dockerfile instructions with line continuations joined and comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending !== '' && line.startsWith('#')) return;
    if (pending === '') start = i + 1;
    pending += (pending === '' ? '' : ' ') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      const m = /^(\S+)\s*(.*)$/.exec(pending)!;
      out.push({ cmd: m[1]!.toUpperCase(), args: m[2]!, line: start });
      pending = '';
    }
  });
  return out;
}

interface Stage { from: string; name: string | undefined; body: Instruction[] }

function stages(ins: Instruction[]): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const out: Stage[] = [];
  for (const i of ins) {
    if (i.cmd === 'ARG' && out.length === 0) {
      const [k, v] = i.args.split('=');
      args[k!] = v ?? '';
    } else if (i.cmd === 'FROM') {
      const m = /^(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)!;
      const from = m[1]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
      out.push({ from, name: m[2], body: [] });
    } else {
      out.at(-1)?.body.push(i);
    }
  }
  return { args, stages: out };
}

const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
const ins = instructions(dockerfile);
const { stages: st } = stages(ins);
const build = st[0]!;
const runtime = st.at(-1)!;
const ds = parse(await readFile(join(ROOT, 'deploy/daemonset.yaml'), 'utf8')) as {
  spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number }; containers: { args: string[]; ports: { containerPort: number }[] }[] } } };
};

describe('Dockerfile: hadolint-style rules', () => {
  test('multi-stage; every base image pinned to a Node patch release, never latest', () => {
    assert.ok(st.length >= 2, 'a build and a runtime stage');
    for (const s of st) {
      const [image, tag] = s.from.split(':');
      assert.ok(tag !== undefined && tag !== '', `${s.from}: a tag is required (DL3006)`);
      assert.notEqual(tag, 'latest', `${s.from}: latest (DL3007)`);
      assert.equal(image, 'node');
      assert.match(tag!, /^\d+\.\d+\.\d+-(slim|alpine)/, `${s.from}: pin Node major.minor.patch`);
    }
    assert.match(runtime.from, /^node:24\.\d+\.\d+-alpine/, 'runtime: current Node LTS on alpine');
    assert.match(build.from, /^node:24\./, 'build with the same Node major');
    assert.equal(build.from.split(':')[1]!.split('-')[0], runtime.from.split(':')[1]!.split('-')[0], 'same Node version in both stages');
  });

  test('build stage: npm ci (never npm install), then npm run build', () => {
    const runs = build.body.filter((i) => i.cmd === 'RUN').map((i) => i.args);
    assert.ok(runs.some((r) => /\bnpm ci\b/.test(r)));
    assert.ok(runs.some((r) => /\bnpm run build\b/.test(r)));
    assert.ok(!ins.some((i) => i.cmd === 'RUN' && /\bnpm (install|i)\b/.test(i.args)), 'npm install is not reproducible (DL3016 spirit)');
    assert.ok(build.name !== undefined, 'a named build stage');
  });

  test('runtime stage: COPY --from the build stage, iproute2, no npm, no ADD', () => {
    const copies = runtime.body.filter((i) => i.cmd === 'COPY');
    assert.ok(copies.length > 0 && copies.every((c) => c.args.startsWith(`--from=${build.name} `)), 'only build outputs');
    const apk = runtime.body.filter((i) => i.cmd === 'RUN' && /apk add/.test(i.args));
    assert.equal(apk.length, 1);
    assert.match(apk[0]!.args, /apk add --no-cache iproute2/, 'no apk cache (DL3019), iproute2 for ip -j');
    assert.match(apk[0]!.args, /rm -rf [^&]*\/usr\/local\/lib\/node_modules\/npm/, 'npm is not needed at runtime');
    assert.ok(!ins.some((i) => i.cmd === 'ADD'), 'COPY instead of ADD (DL3020)');
    assert.ok(!ins.some((i) => /\bsudo\b/.test(i.args)), 'no sudo (DL3004)');
    for (const w of ins.filter((i) => i.cmd === 'WORKDIR')) assert.match(w.args, /^\//, 'absolute WORKDIR (DL3000)');
  });

  test('runs as a numeric non-root user, the same one the DaemonSet requires', () => {
    const users = runtime.body.filter((i) => i.cmd === 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = users[0]!.args.split(':').map(Number);
    assert.ok(uid! > 0 && gid! > 0, 'numeric, not root (DL3002)');
    assert.equal(runtime.body.at(-1)?.cmd === 'USER' || runtime.body.findIndex((i) => i.cmd === 'USER') > runtime.body.findIndex((i) => i.cmd === 'RUN'), true, 'USER after the last RUN');
    const pod = ds.spec.template.spec;
    assert.equal(uid, pod.securityContext.runAsUser);
    assert.equal(gid, pod.securityContext.runAsGroup);
  });

  test('exec-form ENTRYPOINT/CMD matching the DaemonSet args; OCI labels; no HEALTHCHECK (Kubernetes probes instead)', () => {
    const entry = JSON.parse(runtime.body.find((i) => i.cmd === 'ENTRYPOINT')!.args) as string[];
    assert.deepEqual(entry, ['node', '/app/calico-hep-agent.mjs']);
    assert.deepEqual(JSON.parse(runtime.body.find((i) => i.cmd === 'CMD')!.args), ['run']);
    assert.equal(ds.spec.template.spec.containers[0]!.args[0], 'run');
    const labels = runtime.body.filter((i) => i.cmd === 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'source']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), key);
    }
    const expose = runtime.body.find((i) => i.cmd === 'EXPOSE')?.args;
    assert.equal(Number(expose), ds.spec.template.spec.containers[0]!.ports[0]!.containerPort);
    // Kubernetes ignores HEALTHCHECK; the DaemonSet's /healthz and /readyz probes are the checks.
    assert.ok(!ins.some((i) => i.cmd === 'HEALTHCHECK'));
    assert.match(dockerfile, /No HEALTHCHECK: Kubernetes ignores it/);
  });
});

/** Docker's .dockerignore semantics for the patterns we use: last matching rule wins, `!` re-includes. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).map((l) => {
    const negate = l.startsWith('!');
    const pattern = (negate ? l.slice(1) : l).replace(/\/$/, '');
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')}(/.*)?$`);
    return { negate, re };
  });
  return (path) => {
    let included = true;
    for (const r of rules) if (r.re.test(path)) included = r.negate;
    return included;
  };
}

async function walk(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.name === 'node_modules' || e.name === '.git' || e.name === 'dist') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p, base)));
    else out.push(relative(base, p));
  }
  return out;
}

function runNode(args: string[], opts: { cwd: string; timeoutMs?: number; node?: string }): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(opts.node ?? process.execPath, args, { cwd: opts.cwd, env: { PATH: process.env['PATH'] ?? '', HOME: opts.cwd } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

describe('the image build, replayed without Docker', () => {
  let ctx: string;
  let app: string;
  let entry: string[];

  before(async () => {
    // The build context: only what .dockerignore lets through.
    const allowed = dockerignore(await readFile(join(ROOT, '.dockerignore'), 'utf8'));
    const files = (await walk(ROOT)).filter(allowed);
    assert.ok(files.includes('package.json') && files.includes('package-lock.json') && files.includes('scripts/bundle.ts'));
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('deploy/') || f.startsWith('.git')), 'tests, manifests and git stay out');
    ctx = await mkdtemp(join(tmpdir(), 'hep-image-'));
    await chmod(ctx, 0o755);
    const workdir = join(ctx, 'src-stage');
    // COPY instructions of the build stage, each from the context.
    for (const c of build.body.filter((i) => i.cmd === 'COPY')) {
      const parts = c.args.split(/\s+/);
      const dest = parts.at(-1)!;
      for (const source of parts.slice(0, -1)) {
        const src = source.replace(/\/$/, '');
        const inCtx = files.filter((f) => f === src || f.startsWith(`${src}/`));
        assert.ok(inCtx.length > 0, `COPY ${source}: not in the build context (.dockerignore)`);
        for (const f of inCtx) {
          const target = dest.endsWith('/') || dest === './' ? join(workdir, dest, f.startsWith(`${src}/`) && dest !== './' ? f.slice(src.length + 1) : f) : join(workdir, dest);
          await mkdir(dirname(target), { recursive: true });
          await copyFile(join(ROOT, f), target);
        }
      }
    }
    // `npm ci` stand-in: the checkout's node_modules (same lockfile).
    await symlink(join(ROOT, 'node_modules'), join(workdir, 'node_modules'));
    const r = await runNode(['--run', 'build'], { cwd: workdir, timeoutMs: 120_000 });
    assert.equal(r.code, 0, `npm run build: ${r.stderr}`);
    // Runtime stage: COPY --from=build the bundle (and its map) into /app.
    app = join(ctx, 'app');
    await mkdir(app);
    for (const c of runtime.body.filter((i) => i.cmd === 'COPY')) {
      const parts = c.args.split(/\s+/).slice(1);
      for (const source of parts.slice(0, -1)) {
        const local = join(workdir, relative('/src', source));
        await cp(local, join(app, relative('/src/dist', source)));
      }
    }
    const ep = JSON.parse(runtime.body.find((i) => i.cmd === 'ENTRYPOINT')!.args) as string[];
    entry = ep.slice(1).map((a) => a.replace(/^\/app\//, `${app}/`));
  });

  after(async () => {
    if (ctx !== undefined) await rm(ctx, { recursive: true, force: true });
  });

  test('one ESM file of modest size, with its source map', async () => {
    const files = (await readdir(app)).sort();
    assert.deepEqual(files, ['calico-hep-agent.mjs', 'calico-hep-agent.mjs.map']);
    const { size } = await stat(join(app, 'calico-hep-agent.mjs'));
    assert.ok(size < 8 * 1024 * 1024, `${size} bytes`);
    const text = await readFile(join(app, 'calico-hep-agent.mjs'), 'utf8');
    assert.ok(!/from\s*["'](?!node:)[a-z@][^"']*["']/.test(text.slice(0, 5000)), 'no bare imports left: everything is bundled');
  });

  test('ENTRYPOINT --help and run --help', async () => {
    const help = await runNode([...entry, '--help'], { cwd: app });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /commands:[\s\S]*run[\s\S]*plan[\s\S]*prune/);
    const runHelp = await runNode([...entry, 'run', '--help'], { cwd: app });
    assert.equal(runHelp.code, 0, runHelp.stderr);
    assert.match(runHelp.stdout, /--config FILE/);
  });

  test('plan with the shipped config prints this machine\'s HEPs, as from source', async () => {
    const args = ['plan', '--config', join(ROOT, 'deploy/config.yaml'), '--node-name', 'n1', '--node-labels', 'node-role.kubernetes.io/control-plane=', '--output', 'json'];
    const bundled = await runNode([...entry, ...args], { cwd: app });
    assert.equal(bundled.code, 0, bundled.stderr);
    const fromSource = await runNode([join(ROOT, 'bin/calico-hep-agent.js'), ...args], { cwd: app });
    assert.equal(fromSource.code, 0, fromSource.stderr);
    // Discovery runs twice; addresses could change in between only if the host changed: compare names.
    const items = (out: string) => (JSON.parse(out) as { kind: string; items: { metadata: { name: string; labels: Record<string, string> } }[] }).items;
    assert.deepEqual(items(bundled.stdout).map((h) => h.metadata.name), items(fromSource.stdout).map((h) => h.metadata.name));
    assert.ok(items(bundled.stdout).length > 0);
    for (const h of items(bundled.stdout)) assert.equal(h.metadata.labels['role'], 'master');
  });

  test('a bad config or flag exits 2 naming the field (zod and yaml bundled intact)', async () => {
    const badConfig = join(ctx, 'bad.yaml');
    await writeFile(badConfig, 'mode: sometimes\n');
    const r = await runNode([...entry, 'plan', '--config', badConfig, '--node-labels', 'a=b'], { cwd: app });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /mode/);
    const bad = await runNode([...entry, 'plan', '--output', 'xml', '--node-labels', 'a=b'], { cwd: app });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--output/);
  });

  describe('as the image\'s non-root user, without capabilities, in a network namespace', async () => {
    const skipNs = await canUseNetns();
    const setpriv = await run('setpriv', ['--version']).then((r) => r.code === 0, () => false);
    const reason = skipNs ?? (setpriv ? null : 'setpriv (util-linux) is not installed');
    if (reason !== null) console.log(`# skipping non-root netns checks: ${reason}`);
    let ns: Netns;
    let nodeBin: string;
    const uid = String(ds.spec.template.spec.securityContext.runAsUser);
    const asAgent = (cmd: string, args: string[]) => ['netns', 'exec', ns.name, 'setpriv', '--reuid', uid, '--regid', uid, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', cmd, ...args];

    before(async () => {
      if (reason !== null) return;
      ns = await Netns.create();
      await ns.addVeth('eth0', 'peer0');
      await ns.setUp('eth0', 'peer0');
      await ns.addAddr('eth0', '192.0.2.10/24');
      // The Node binary of this checkout may sit under an unreadable home: give the user its own copy.
      nodeBin = join(ctx, 'node');
      await link(process.execPath, nodeBin).catch(() => copyFile(process.execPath, nodeBin));
      await chmod(nodeBin, 0o755);
    });
    after(async () => ns?.destroy());

    test('ip -j addr and ip monitor work without privileges', { skip: reason ?? false }, async () => {
      const r = await run('ip', asAgent('ip', ['-j', 'addr']));
      assert.equal(r.code, 0, r.stderr);
      const addrs = JSON.parse(r.stdout) as { ifname: string; addr_info: { local: string }[] }[];
      assert.deepEqual(addrs.find((a) => a.ifname === 'eth0')?.addr_info.map((a) => a.local).filter((a) => a.includes('.')), ['192.0.2.10']);
      const monitor = spawn('ip', asAgent('ip', ['-o', 'monitor', 'link', 'address', 'route']));
      let out = '';
      monitor.stdout.on('data', (d: Buffer) => (out += d.toString()));
      try {
        await new Promise((r2) => setTimeout(r2, 300));
        await ns.addAddr('eth0', '192.0.2.11/24');
        const deadline = Date.now() + 5000;
        while (!out.includes('192.0.2.11') && Date.now() < deadline) await new Promise((r2) => setTimeout(r2, 50));
        assert.match(out, /192\.0\.2\.11/, 'the unprivileged monitor saw the new address');
      } finally {
        monitor.kill('SIGKILL');
      }
    });

    test('the bundle plans the namespace\'s interfaces as uid 65532', { skip: reason ?? false }, async () => {
      const r = await run('ip', asAgent(nodeBin, [...entry, 'plan', '--node-name', 'n1', '--node-labels', 'role=master', '--output', 'json']), { timeoutMs: 30_000 });
      assert.equal(r.code, 0, r.stderr);
      const heps = (JSON.parse(r.stdout) as { items: { spec: { interfaceName: string; expectedIPs: string[] } }[] }).items;
      const eth0 = heps.find((h) => h.spec.interfaceName === 'eth0');
      assert.deepEqual(eth0?.spec.expectedIPs, ['192.0.2.10', '192.0.2.11']);
    });
  });
});
