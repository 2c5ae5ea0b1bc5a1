// The agent as a child process (`calico-hep-agent run`), watching a real network namespace through
// netlink, against the fake API server over HTTPS. kubectl edits the cluster where the image has it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { HostEndpoint } from '../../src/core/model.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { canUseNetns, Netns, run } from '../helpers/netns.ts';
import { waitFor } from '../helpers/wait.ts';
import { prereq } from '../helpers/prereq.ts';

const CLI = fileURLToPath(new URL('../../bin/calico-hep-agent.js', import.meta.url));
const V3 = 'hostendpoints.projectcalico.org';
const skip = prereq(await canUseNetns());
if (skip !== false) console.log(`# skipping agent namespace tests: ${skip}`);
const kubectl = (await run('kubectl', ['version', '--client']).then(
  (r) => r.code === 0,
  () => false,
))
  ? 'kubectl'
  : undefined;
const kubectlSkip = prereq(kubectl === undefined ? 'kubectl not found' : null);

let ns: Netns;
let server: FakeApiServer;
let agent: ChildProcess;
let kubeconfig: string;
let output = '';
let dir: string | undefined;

const hep = (name: string) => server.store.get(V3, name) as HostEndpoint | undefined;

before(async () => {
  if (skip !== false) return;
  ns = await Netns.create();
  await ns.addVeth('eth0', 'peer0');
  await ns.setUp('eth0', 'peer0');
  await ns.addAddr('eth0', '192.0.2.10/24');
  server = await startFakeApiServer({ seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } }] as never });
  dir = await mkdtemp(join(tmpdir(), 'hep-e2e-'));
  kubeconfig = join(dir, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig, { admin: true });
  const config = join(dir, 'config.yaml');
  await writeFile(config, 'server: { address: 127.0.0.1, port: 0 }\nintervals: { removalGraceSeconds: 2, debounceMilliseconds: 20 }\nlogLevel: info\n');
  agent = spawn(process.execPath, [CLI, 'run', '--kubeconfig', kubeconfig, '--config', config, '--netns', ns.name], {
    env: { ...process.env, NODE_NAME: 'n1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  agent.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  agent.stderr?.on('data', (d: Buffer) => (output += d.toString()));
});

after(async () => {
  if (agent?.exitCode === null) agent.kill('SIGKILL');
  await server?.close();
  await ns?.destroy();
  // The kubeconfig holds the fake server's admin token: leave nothing behind.
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

const opts = { skip };

test('start: the HEP for the namespace interface is created', opts, async () => {
  const h = await waitFor(`n1-eth0 (agent output: ${output})`, () => hep('n1-eth0'), 20_000);
  assert.deepEqual(h.spec.expectedIPs, ['192.0.2.10']);
  assert.equal(h.metadata.labels?.['role'], 'master');
});

test('ip addr add: expectedIPs follow; new interface: new HEP; link down: kept', opts, async () => {
  await ns.addAddr('eth0', '2001:db8::10/64', { nodad: true });
  await waitFor('IPv6 added', () => hep('n1-eth0')?.spec.expectedIPs?.includes('2001:db8::10'));
  await ns.addVeth('eth1', 'peer1');
  await ns.addAddr('eth1', '198.51.100.1/24');
  await waitFor('n1-eth1', () => hep('n1-eth1')?.spec.expectedIPs?.[0] === '198.51.100.1');
  await ns.setDown('eth1');
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(hep('n1-eth1'), 'a down link keeps its HEP');
});

test('interface deleted: HEP removed after the grace period', opts, async () => {
  await ns.delLink('eth1');
  await new Promise((r) => setTimeout(r, 500));
  assert.ok(hep('n1-eth1'), 'still there within the grace period');
  await waitFor('n1-eth1 removed', () => hep('n1-eth1') === undefined, 10_000);
});

test('a HEP deleted with kubectl is restored', { skip: skip || kubectlSkip }, async () => {
  const r = await run('kubectl', ['--kubeconfig', kubeconfig, 'delete', 'hostendpoints.projectcalico.org', 'n1-eth0']);
  assert.equal(r.code, 0, r.stderr);
  await waitFor('restored', () => hep('n1-eth0'));
});

test('SIGTERM: exits within 5 s and leaves the HEPs in place', opts, async () => {
  const started = Date.now();
  const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
  agent.kill('SIGTERM');
  const code = await exited;
  const took = Date.now() - started;
  assert.equal(code, 0, output.slice(-2000));
  assert.ok(took < 5000, `took ${took} ms`);
  assert.ok(hep('n1-eth0'));
});
