// The container image, built and run for real without a Docker engine.
//
// 1. The Dockerfile against hadolint-style rules and against the DaemonSet (static, always runs).
// 2. As root with buildah, podman and mmdebstrap (CI installs them in .ci/run): stand-ins for the
//    Dockerfile's base images are built from Debian's archive and the npm registry
//    (test/deploy/standin-base.sh, cached in a container storage under the cache directory, keyed by
//    its inputs), the project's Dockerfile is built unchanged with `buildah bud --pull=never`, and the
//    image runs under podman the way the DaemonSet runs it: host network = a test network namespace
//    with interfaces, read-only root, UID 65532, no capabilities, no new privileges, the shipped
//    config mounted, a service-account token and CA at the in-cluster paths, KUBERNETES_SERVICE_HOST
//    and _PORT pointing at the fake API server (reached through Unix sockets, test/deploy/netns-bridge.ts)
//    enforcing the shipped RBAC. Under CI=true a missing prerequisite fails instead of skipping (prereq.ts).
// The image size and the agent's RSS in the container are printed as diagnostics (docs/benchmarks.md).
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';
import type { HostEndpoint } from '../../src/core/model.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import type { PolicyRule } from '../fake-apiserver/rbac.ts';
import { canUseNetns, Netns, run } from '../helpers/netns.ts';
import { prereq } from '../helpers/prereq.ts';
import { waitFor } from '../helpers/wait.ts';
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

interface Stage { from: string; name: string | undefined; platform: string | undefined; body: Instruction[] }

function stages(ins: Instruction[]): { args: Record<string, string>; stages: Stage[] } {
  const args: Record<string, string> = {};
  const out: Stage[] = [];
  for (const i of ins) {
    if (i.cmd === 'ARG' && out.length === 0) {
      const [k, v] = i.args.split('=');
      args[k!] = v ?? '';
    } else if (i.cmd === 'FROM') {
      const m = /^(?:--platform=(\S+)\s+)?(\S+)(?:\s+AS\s+(\S+))?$/i.exec(i.args)!;
      const from = m[2]!.replace(/\$\{(\w+)\}|\$(\w+)/g, (_, a: string | undefined, b: string | undefined) => args[(a ?? b)!] ?? '');
      out.push({ from, name: m[3], platform: m[1], body: [] });
    } else {
      out.at(-1)?.body.push(i);
    }
  }
  return { args, stages: out };
}

const dockerfile = await readFile(join(ROOT, 'Dockerfile'), 'utf8');
const ins = instructions(dockerfile);
const { args: ARGS, stages: st } = stages(ins);
const stage = (name: string): Stage => {
  const found = st.find((s) => s.name === name);
  assert.ok(found, `a stage named ${name}`);
  return found;
};
const build = stage('build');
const runtime = st.at(-1)!;
const PKG = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const ds = parse(await readFile(join(ROOT, 'deploy/daemonset.yaml'), 'utf8')) as {
  spec: { template: { spec: { securityContext: { runAsUser: number; runAsGroup: number }; containers: { args: string[]; ports: { containerPort: number }[] }[] } } };
};


describe('Dockerfile: hadolint-style rules', () => {
  const nodeVersion = ARGS['NODE_VERSION']!;
  const release = ARGS['DEBIAN_RELEASE']!;

  test('multi-stage on Debian slim; every base pinned (Node to a patch release), never latest', () => {
    assert.match(nodeVersion, /^24\.\d+\.\d+$/, 'NODE_VERSION: the current Node LTS, major.minor.patch');
    assert.match(release, /^[a-z]+$/, 'DEBIAN_RELEASE: a Debian code name');
    assert.equal(build.from, `node:${nodeVersion}-${release}-slim`);
    assert.equal(build.platform, '$BUILDPLATFORM', 'the bundle is plain JavaScript: build it on the build platform');
    assert.equal(stage('node').from, `node:${nodeVersion}-${release}-slim`, 'the node binary comes from the official image of the target platform');
    assert.equal(stage('node').platform, undefined);
    assert.equal(runtime.name, 'runtime');
    assert.equal(runtime.from, `debian:${release}-slim`, 'runtime: the Debian slim release the official image is built on');
    for (const s of st) assert.ok(!/:latest$|^[^:]+$/.test(s.from), `${s.from}: a tag other than latest (DL3006, DL3007)`);
  });

  test('build stage: npm ci (never npm install) without install scripts, the extra CA optional, then the bundle', () => {
    const runs = build.body.filter((i) => i.cmd === 'RUN').map((i) => i.args);
    const ci = runs.find((r) => /\bnpm ci\b/.test(r));
    assert.ok(ci !== undefined);
    assert.match(ci, /--ignore-scripts/);
    assert.match(ci, /--mount=type=secret,id=ca,required=false/, 'a build secret can carry a proxy CA; optional');
    assert.ok(runs.some((r) => /\bnode scripts\/bundle\.ts\b/.test(r)));
    assert.ok(!ins.some((i) => i.cmd === 'RUN' && /\bnpm (install|i)\b/.test(i.args)), 'npm install is not reproducible (DL3016 spirit)');
  });

  test('runtime stage: the node binary and the bundle copied in, iproute2 from Debian without recommends or lists, no ADD', () => {
    const copies = runtime.body.filter((i) => i.cmd === 'COPY');
    assert.deepEqual(copies.map((c) => c.args), [
      '--from=node /usr/local/bin/node /usr/local/bin/node',
      '--from=build /src/dist/calico-hep-agent.mjs /src/dist/calico-hep-agent.mjs.map /app/',
    ]);
    const apt = runtime.body.filter((i) => i.cmd === 'RUN' && /apt-get/.test(i.args));
    assert.equal(apt.length, 1, 'one layer');
    assert.match(apt[0]!.args, /apt-get install -y --no-install-recommends iproute2/, 'DL3015');
    assert.match(apt[0]!.args, /rm -rf \/var\/lib\/apt\/lists\/\*/, 'DL3009');
    assert.ok(!ins.some((i) => i.cmd === 'ADD'), 'COPY instead of ADD (DL3020)');
    assert.ok(!ins.some((i) => /\bsudo\b/.test(i.args)), 'no sudo (DL3004)');
    for (const w of ins.filter((i) => i.cmd === 'WORKDIR')) assert.match(w.args, /^\//, 'absolute WORKDIR (DL3000)');
  });

  test('runs as a numeric non-root user, the same one the DaemonSet requires', () => {
    const users = runtime.body.filter((i) => i.cmd === 'USER');
    assert.equal(users.length, 1);
    const [uid, gid] = users[0]!.args.split(':').map(Number);
    assert.ok(uid! > 0 && gid! > 0, 'numeric, not root (DL3002)');
    assert.ok(runtime.body.findIndex((i) => i.cmd === 'USER') > runtime.body.findLastIndex((i) => i.cmd === 'RUN'), 'USER after the last RUN');
    const pod = ds.spec.template.spec;
    assert.equal(uid, pod.securityContext.runAsUser);
    assert.equal(gid, pod.securityContext.runAsGroup);
  });

  test('exec-form ENTRYPOINT with one marked place for Node flags; CMD matching the DaemonSet; OCI labels; no HEALTHCHECK', () => {
    const entry = JSON.parse(runtime.body.find((i) => i.cmd === 'ENTRYPOINT')!.args) as string[];
    assert.equal(entry[0], 'node');
    assert.equal(entry.at(-1), '/app/calico-hep-agent.mjs');
    for (const flag of entry.slice(1, -1)) assert.match(flag, /^--[a-z][a-z0-9-]*(=\S+)?$/, 'only Node/V8 flags between node and the bundle');
    assert.equal(dockerfile.match(/NODE FLAGS/g)?.length, 1, 'one marked place for the flags');
    assert.match(dockerfile, /# ---- NODE FLAGS:[^\n]*\n(#[^\n]*\n)*ENTRYPOINT \[/, 'the marker sits right above ENTRYPOINT');
    assert.ok(!ins.some((i) => i.cmd === 'ENV' && /NODE_OPTIONS/.test(i.args)), 'flags live in the ENTRYPOINT, not also in NODE_OPTIONS');
    assert.deepEqual(JSON.parse(runtime.body.find((i) => i.cmd === 'CMD')!.args), ['run']);
    assert.equal(ds.spec.template.spec.containers[0]!.args[0], 'run');
    const labels = runtime.body.filter((i) => i.cmd === 'LABEL').map((i) => i.args).join(' ');
    for (const key of ['title', 'description', 'licenses', 'version', 'revision', 'source']) {
      assert.match(labels, new RegExp(`org\\.opencontainers\\.image\\.${key}=`), key);
    }
    const expose = runtime.body.find((i) => i.cmd === 'EXPOSE')?.args;
    assert.equal(Number(expose), ds.spec.template.spec.containers[0]!.ports[0]!.containerPort);
    assert.ok(!ins.some((i) => i.cmd === 'HEALTHCHECK'));
    assert.match(dockerfile, /No HEALTHCHECK: Kubernetes ignores it/);
  });

  test('.dockerignore lets in exactly what the build stage copies', async () => {
    const allowed = dockerignore(await readFile(join(ROOT, '.dockerignore'), 'utf8'));
    const files = (await walk(ROOT)).filter(allowed);
    assert.ok(files.includes('package.json') && files.includes('package-lock.json') && files.includes('scripts/bundle.ts'));
    assert.ok(files.some((f) => f.startsWith('src/')));
    assert.ok(!files.some((f) => f.startsWith('test/') || f.startsWith('deploy/') || f.startsWith('.git') || f.startsWith('node_modules/')), 'tests, manifests, git and node_modules stay out');
    for (const c of build.body.filter((i) => i.cmd === 'COPY')) {
      for (const source of c.args.split(/\s+/).slice(0, -1)) {
        const src = source.replace(/\/$/, '');
        assert.ok(files.some((f) => f === src || f.startsWith(`${src}/`)), `COPY ${source}: not in the build context (.dockerignore)`);
      }
    }
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

// ---- The real build and run ----

const CACHE = join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'calico-hep-agent', 'image-test');
/** A container storage of its own: the stand-in tags never shadow a real debian or node image of the machine. */
const STORAGE_CONF = join(CACHE, 'storage.conf');
const CONTAINERS_ENV = { CONTAINERS_STORAGE_CONF: STORAGE_CONF };
/**
 * The same storage as flags for podman, without CONTAINERS_STORAGE_CONF: with that variable `podman
 * run --rm` waits 20 s for its exit command (`podman container cleanup`, which gets the flags).
 */
const PODMAN = ['podman', '--root', join(CACHE, 'storage'), '--runroot', '/run/calico-hep-agent-image-test'];
const TAG = `localhost/calico-hep-agent:test-${process.pid}`;
const NS = 'calico-hep-agent';
const SA_USER = `system:serviceaccount:${NS}:calico-hep-agent`;
const V3 = 'hostendpoints.projectcalico.org';
const UID = ds.spec.template.spec.securityContext.runAsUser;
const GID = ds.spec.template.spec.securityContext.runAsGroup;

async function whyNoContainers(): Promise<string | null> {
  const netns = await canUseNetns();
  if (netns !== null) return netns;
  for (const [tool, arg] of [['buildah', '--version'], ['podman', '--version'], ['mmdebstrap', '--version'], ['unshare', '--version']] as const) {
    const ok = await run(tool, [arg]).then((r) => r.code === 0, () => false);
    if (!ok) return `${tool} is not installed (.ci/run installs buildah, podman, mmdebstrap and uidmap)`;
  }
  return null;
}

const reason = await whyNoContainers();
const skip = prereq(reason);
if (skip !== false) console.log(`# skipping the image build and run: ${skip}`);

/** Runs a command with its output collected; rejects with the output when it fails. */
function sh(cmd: string, args: readonly string[], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-4000)}`));
    });
  });
}

/**
 * `podman run` as on a node: in a private mount namespace where the cgroup2 mount of this hybrid
 * cgroup host is gone (`--cgroups=disabled`), with the container limits a kubelet sets.
 */
function podmanRunArgs(ns: Netns, extra: readonly string[], command: readonly string[], opts: { imageUser?: boolean } = {}): string[] {
  const podman = [
    ...PODMAN, 'run', '--rm', '--cgroups=disabled',
    '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024',
    '--network', `ns:/run/netns/${ns.name}`,
    '--read-only', ...(opts.imageUser === true ? [] : ['--user', `${UID}:${GID}`]), '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    ...extra, TAG, ...command,
  ];
  const quoted = podman.map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return ['-m', 'sh', '-c', `if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; exec ${quoted}`];
}

function httpGetUnix(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

describe('the image, built with buildah and run with podman as the DaemonSet runs it', { skip }, () => {
  let ns: Netns;
  let work: string;
  let imageBytes = 0;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'hep-image-'));
    await chmod(work, 0o755);
    // Layers of earlier builds stay as the build cache; past 4 GB start again from an empty storage.
    const used = Number((await run('du', ['-sb', join(CACHE, 'storage')]).catch(() => ({ stdout: '0' }))).stdout.split('\t')[0]);
    if (used > 4 * 1024 ** 3) await sh(PODMAN[0]!, [...PODMAN.slice(1), 'system', 'reset', '--force'], { timeoutMs: 120_000 });
    await mkdir(join(CACHE, 'storage'), { recursive: true });
    await writeFile(STORAGE_CONF, `[storage]\ndriver = "overlay"\ngraphroot = "${PODMAN[2]}"\nrunroot = "${PODMAN[4]}"\n`);
    // Stand-ins for node:<v>-<release>-slim and debian:<release>-slim, cached by their inputs.
    await sh('bash', [join(ROOT, 'test/deploy/standin-base.sh'), ARGS['NODE_VERSION']!, ARGS['DEBIAN_RELEASE']!], { env: CONTAINERS_ENV, timeoutMs: 300_000 });
    // The project's Dockerfile, unchanged, built by `npm run image` (scripts/image.sh) with buildah.
    // The machine's extra CAs reach `npm ci` as a build secret: NODE_EXTRA_CA_CERTS, else the system
    // bundle, where a machine behind a TLS-inspecting proxy has them too.
    const systemBundle = '/etc/ssl/certs/ca-certificates.crt';
    const extraCa = process.env['NODE_EXTRA_CA_CERTS'] || ((await readFile(systemBundle).then(() => true, () => false)) ? systemBundle : '');
    const buildahContainers = async () => (await sh('buildah', ['containers', '--quiet'], { env: CONTAINERS_ENV })).split('\n').filter((l) => l !== '').length;
    const containersBefore = await buildahContainers();
    const log = await sh('bash', [join(ROOT, 'scripts/image.sh'), TAG], {
      env: { ...CONTAINERS_ENV, IMAGE_BUILDER: 'buildah', IMAGE_BUILD_FLAGS: '--isolation chroot --pull=never', EXTRA_CA_FILE: extraCa },
      timeoutMs: 480_000,
    });
    assert.match(log, /npm run image: buildah building/);
    assert.equal(await buildahContainers(), containersBefore, 'the build leaves no working container behind');
    imageBytes = Number((await sh(PODMAN[0]!, [...PODMAN.slice(1), 'image', 'inspect', '--format', '{{.Size}}', TAG])).trim());
    ns = await Netns.create();
    await ns.addVeth('eth0', 'peer0');
    await ns.setUp('eth0', 'peer0');
    await ns.addAddr('eth0', '192.0.2.10/24');
  });

  after(async () => {
    await ns?.destroy();
    await sh(PODMAN[0]!, [...PODMAN.slice(1), 'rmi', '--force', TAG]).catch(() => undefined);
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  test('Debian slim with iproute2, the Node of the Dockerfile, no npm; non-root by default; --version', async (t) => {
    t.diagnostic(`image size: ${(imageBytes / 1024 / 1024).toFixed(1)} MiB (${imageBytes} bytes)`);
    assert.ok(imageBytes > 0 && imageBytes < 300 * 1024 * 1024, `${imageBytes} bytes`);
    const script = 'id -u; id -g; node --version; . /etc/os-release; echo "$ID $VERSION_CODENAME"; ip -V; ls /usr/local/bin; ls /app';
    const out = await sh('unshare', podmanRunArgs(ns, ['--entrypoint', 'sh'], ['-c', script], { imageUser: true }));
    const lines = out.trim().split('\n');
    assert.deepEqual(lines.slice(0, 2), [String(UID), String(GID)], 'USER of the image');
    assert.equal(lines[2], `v${ARGS['NODE_VERSION']}`);
    assert.equal(lines[3], `debian ${ARGS['DEBIAN_RELEASE']}`);
    assert.match(lines[4]!, /^ip utility, iproute2-/);
    assert.deepEqual(lines.slice(5), ['node', 'calico-hep-agent.mjs', 'calico-hep-agent.mjs.map'], 'no npm, npx, corepack or yarn');
    const version = await sh('unshare', podmanRunArgs(ns, [], ['--version']));
    assert.equal(version, `calico-hep-agent ${PKG.version}\n`);
  });

  test('plan in the node\'s network namespace prints its interfaces\' HEPs', async () => {
    const out = await sh('unshare', podmanRunArgs(ns, [], ['plan', '--node-name', 'n1', '--node-labels', 'role=master', '--output', 'json']));
    const heps = (JSON.parse(out) as { items: HostEndpoint[] }).items;
    assert.deepEqual(heps.map((h) => h.metadata.name).sort(), ['n1-eth0', 'n1-peer0']);
    assert.deepEqual(heps.find((h) => h.spec.interfaceName === 'eth0')?.spec.expectedIPs, ['192.0.2.10']);
  });

  describe('run, as the DaemonSet: service account, shipped config and RBAC, host network', () => {
    let server: FakeApiServer;
    let bridge: ChildProcess;
    let agent: ChildProcess;
    let output = '';
    let exit: Promise<number | null>;
    const probe = () => join(work, 'probe.sock');
    const agentPidFile = () => join(work, 'agent.pid');
    const hep = (name: string) => server.store.get(V3, name) as HostEndpoint | undefined;

    before(async () => {
      const rbac = parseAllDocuments(await readFile(join(ROOT, 'deploy/rbac.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; metadata: { name: string }; rules?: PolicyRule[] });
      // The fake server knows ClusterRoles only: the Role's rules join as one more ClusterRole.
      const roles = rbac.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').map((o) => ({ kind: 'ClusterRole', metadata: { name: `${o.kind}-${o.metadata.name}` }, rules: o.rules ?? [] }));
      server = await startFakeApiServer({
        namespaces: ['default', 'kube-system', NS],
        rbac: { clusterRole: roles as never, user: SA_USER },
        seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } } }] as never,
      });
      // The API server on 127.0.0.1:6443 of the node's namespace, the agent's port on a socket here.
      const apiSock = join(work, 'api.sock');
      const { createServer, connect } = await import('node:net');
      const port = Number(new URL(server.url).port);
      const front = createServer((c) => {
        const upstream = connect(port, '127.0.0.1');
        c.pipe(upstream).pipe(c);
        c.on('error', () => upstream.destroy());
        upstream.on('error', () => c.destroy());
      });
      await new Promise<void>((r) => front.listen(apiSock, r));
      front.unref();
      bridge = spawn('ip', ['netns', 'exec', ns.name, process.execPath, join(ROOT, 'test/deploy/netns-bridge.ts'), '--tcp-to-unix', `6443=${apiSock}`, '--unix-to-tcp', `${probe()}=9808`], { stdio: ['pipe', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        bridge.stdout!.once('data', () => resolve());
        bridge.once('exit', (code) => reject(new Error(`netns bridge exited with ${code}`)));
      });
      // The service account as the kubelet projects it: token, CA and namespace, readable by the agent.
      const sa = join(work, 'serviceaccount');
      await mkdir(sa, { mode: 0o755 });
      await writeFile(join(sa, 'token'), server.token, { mode: 0o644 });
      await writeFile(join(sa, 'ca.crt'), server.caPem, { mode: 0o644 });
      await writeFile(join(sa, 'namespace'), NS, { mode: 0o644 });
      agent = spawn('unshare', podmanRunArgs(ns, [
        '--name', `calico-hep-agent-test-${process.pid}`, '--pidfile', agentPidFile(),
        '-v', `${join(ROOT, 'deploy/config.yaml')}:/etc/calico-hep-agent/config.yaml:ro`,
        '-v', `${sa}:/var/run/secrets/kubernetes.io/serviceaccount:ro`,
        '-e', 'NODE_NAME=n1', '-e', `POD_NAMESPACE=${NS}`,
        '-e', 'KUBERNETES_SERVICE_HOST=127.0.0.1', '-e', 'KUBERNETES_SERVICE_PORT=6443',
      ], ['run', '--config', '/etc/calico-hep-agent/config.yaml']), { stdio: ['ignore', 'pipe', 'pipe'] });
      agent.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      agent.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      exit = new Promise((resolve) => agent.once('exit', (code) => resolve(code)));
    });

    after(async () => {
      if (agent !== undefined && agent.exitCode === null) {
        agent.kill('SIGKILL');
        await sh(PODMAN[0]!, [...PODMAN.slice(1), 'rm', '--force', `calico-hep-agent-test-${process.pid}`]).catch(() => undefined);
      }
      bridge?.stdin?.end();
      bridge?.kill('SIGTERM');
      await server?.close();
    });

    test('creates the HEPs of the namespace\'s interfaces with the Node\'s derived labels', async () => {
      const h = await waitFor(`n1-eth0 (agent output: ${output})`, () => hep('n1-eth0'), 60_000);
      assert.deepEqual(h.spec.expectedIPs, ['192.0.2.10']);
      assert.equal(h.metadata.labels?.['role'], 'master');
      assert.deepEqual(h.spec.profiles, ['projectcalico-default-allow']);
      await waitFor('n1-peer0', () => hep('n1-peer0'), 20_000);
    });

    test('/readyz answers 200 from outside the container', async () => {
      const r = await waitFor('/readyz 200', async () => {
        const res = await httpGetUnix(probe(), '/readyz');
        return res.status === 200 ? res : undefined;
      }, 30_000);
      assert.equal(r.body, 'ok\n');
      assert.equal((await httpGetUnix(probe(), '/healthz')).status, 200);
      assert.match((await httpGetUnix(probe(), '/metrics')).body, /^calico_hep_agent_/m);
    });

    test('an address added on the node is followed into expectedIPs', async () => {
      await ns.addAddr('eth0', '192.0.2.11/24');
      await waitFor(`expectedIPs follow (agent output: ${output.slice(-2000)})`, () => hep('n1-eth0')?.spec.expectedIPs?.includes('192.0.2.11'), 20_000);
      assert.deepEqual(hep('n1-eth0')?.spec.expectedIPs, ['192.0.2.10', '192.0.2.11']);
    });

    test('docs/install.md\'s rollout check: plan with the DaemonSet\'s config, run in the agent\'s container', async () => {
      const podmanExec = [...PODMAN, 'exec', `calico-hep-agent-test-${process.pid}`, 'node', '/app/calico-hep-agent.mjs', 'plan', '--config', '/etc/calico-hep-agent/config.yaml', '--output', 'json'];
      const quoted = podmanExec.map((a) => `'${a}'`).join(' ');
      const out = await sh('unshare', ['-m', 'sh', '-c', `if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi; exec ${quoted}`]);
      const heps = (JSON.parse(out) as { items: HostEndpoint[] }).items;
      // The Node's labels come from the cluster through the pod's service account, as in the DaemonSet.
      assert.deepEqual(heps.map((h) => h.metadata.name).sort(), ['n1-eth0', 'n1-peer0']);
      for (const h of heps) assert.equal(h.metadata.labels?.['role'], 'master');
      assert.deepEqual(heps.find((h) => h.metadata.name === 'n1-eth0')?.spec.expectedIPs, hep('n1-eth0')?.spec.expectedIPs, 'what the agent wrote');
    });

    test('the agent\'s memory in the container (diagnostic)', async (t) => {
      const pid = Number((await readFile(agentPidFile(), 'utf8')).trim());
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
      assert.match(status, new RegExp(`^Uid:\\s+${UID}\\s+${UID}\\s+${UID}\\s+${UID}$`, 'm'), 'the agent runs as the DaemonSet\'s user');
      assert.match(status, new RegExp(`^Gid:\\s+${GID}\\s+${GID}\\s+${GID}\\s+${GID}$`, 'm'), 'and group');
      assert.match(status, /^CapEff:\s+0+$/m, 'without capabilities');
      assert.match(status, /^NoNewPrivs:\s+1$/m);
      t.diagnostic(`agent RSS in the container: ${(field('VmRSS') / 1024).toFixed(1)} MiB (peak ${(field('VmHWM') / 1024).toFixed(1)} MiB)`);
      assert.ok(field('VmRSS') > 0);
    });

    test('SIGTERM: exits 0 and leaves the HEPs in place', async () => {
      agent.kill('SIGTERM'); // podman run proxies the signal to the container
      const code = await exit;
      assert.equal(code, 0, output.slice(-3000));
      assert.ok(hep('n1-eth0'));
      assert.ok(hep('n1-peer0'));
    });
  });
});
