// Fidelity check with the real kubectl: the commands an operator would run against a cluster behave the same
// against the fake (discovery, table printing, label/patch/apply/delete, watch). Skipped without kubectl.
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeApiServer, type FakeApiServer } from './index.ts';
import { hep, waitFor } from './testutil.ts';
import { prereq } from '../helpers/prereq.ts';

const kubectlPath = spawnSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).stdout.trim();
const skip = prereq(kubectlPath ? null : 'kubectl not found on PATH');
if (skip) console.log(`# skipping kubectl fidelity tests: ${skip}`);

let s: FakeApiServer;
let dir: string;
let kubeconfig: string;

function kubectl(args: string[], opts: { kubeconfig?: string; input?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      kubectlPath,
      ['--kubeconfig', opts.kubeconfig ?? kubeconfig, '--cache-dir', join(dir, 'cache'), ...args],
      { env: { ...process.env, HOME: dir, KUBECONFIG: '' }, timeout: 20000 },
      (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

describe('kubectl fidelity', { skip }, () => {
  before(async () => {
    s = await startFakeApiServer({ calicoGroups: ['projectcalico.org/v3', 'crd.projectcalico.org/v1'] });
    dir = await mkdtemp(join(tmpdir(), 'fake-kubectl-'));
    kubeconfig = join(dir, 'kubeconfig');
    await s.writeKubeconfig(kubeconfig);
  });
  after(async () => {
    await s?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('get, label (strategic merge on nodes) and server-side apply of nodes', async () => {
    const node = JSON.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'k1', labels: { a: 'b' } } });
    let r = await kubectl(['create', '-f', '-'], { input: node });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /node\/k1 created/);
    r = await kubectl(['get', 'nodes']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION\n/);
    assert.match(r.stdout, /\nk1\s+Unknown\s+<none>/);
    r = await kubectl(['label', 'node', 'k1', 'calico-hep-agent/managed=true']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.store.get('nodes', 'k1')?.metadata.labels?.['calico-hep-agent/managed'], 'true');
    // kubectl 1.32 labels with a merge patch; strategic merge on nodes is covered by http/client-node tests.
    assert.match(String(s.requests({ verb: 'patch', resource: 'nodes' }).at(-1)?.contentType), /^application\/(strategic-)?merge-patch\+json$/);
    r = await kubectl(['get', 'nodes', '-l', 'calico-hep-agent/managed=true', '-o', 'jsonpath={.items[*].metadata.name}']);
    assert.equal(r.stdout, 'k1');
  });

  it('apply --server-side, patch --type=merge, label, get (printer columns) and delete of hostendpoints', async () => {
    const manifest = JSON.stringify(hep('k1-eth0', { node: 'k1', interfaceName: 'eth0', expectedIPs: ['10.0.0.5'] }));
    let r = await kubectl(['apply', '--server-side', '-f', '-'], { input: manifest });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hostendpoint.projectcalico.org\/k1-eth0 serverside-applied/);
    assert.equal(s.store.get('hostendpoints.projectcalico.org', 'k1-eth0')?.metadata.managedFields?.[0]?.manager, 'kubectl');
    r = await kubectl(['get', 'heps']);
    assert.match(r.stdout, /^NAME\s+NODE\s+INTERFACE\s+AGE\n/);
    assert.match(r.stdout, /\nk1-eth0\s+k1\s+eth0\s+\d+s\n/);
    r = await kubectl(['patch', 'hep', 'k1-eth0', '--type=merge', '-p', '{"spec":{"interfaceName":"eth1"}}']);
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(['label', 'hostendpoints.projectcalico.org', 'k1-eth0', 'x=y']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(s.requests({ verb: 'patch', resource: 'hostendpoints.projectcalico.org' }).at(-1)?.contentType, 'application/merge-patch+json');
    r = await kubectl(['apply', '--server-side', '-f', '-'], { input: manifest });
    assert.notEqual(r.code, 0, 're-applying a field someone else changed conflicts');
    assert.match(r.stderr, /Apply failed with 1 conflict: conflict with "kubectl-patch".*\.spec\.interfaceName/);
    r = await kubectl(['patch', 'hep', 'k1-eth0', '--type=merge', '-p', '{"spec":{"interfaceName":"much-too-long-name"}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /The HostEndpoint "k1-eth0" is invalid/);
    assert.match(r.stderr, /spec.interfaceName: Too long: may not be more than 15 bytes/);
    r = await kubectl(['patch', 'hep', 'k1-eth0', '--type=strategic', '-p', '{"spec":{"interfaceName":"eth2"}}']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /strategic-merge-patch\+json is not supported/);
    r = await kubectl(['get', 'hep', 'k1-eth0', '-o', 'jsonpath={.spec.interfaceName} {.metadata.labels.x}']);
    assert.equal(r.stdout, 'eth1 y');
    r = await kubectl(['delete', 'hep', 'k1-eth0']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /hostendpoint.projectcalico.org "k1-eth0" deleted/);
    r = await kubectl(['get', 'hep', 'k1-eth0']);
    assert.match(r.stderr, /Error from server \(NotFound\): hostendpoints.projectcalico.org "k1-eth0" not found/);
  });

  it('get -w streams adds, updates and deletes', async () => {
    const child = spawn(
      kubectlPath,
      ['--kubeconfig', kubeconfig, '--cache-dir', join(dir, 'cache'), 'get', 'hostendpoints.projectcalico.org', '-w', '--output-watch-events', '-o', 'json'],
      { env: { ...process.env, HOME: dir, KUBECONFIG: '' } },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    try {
      await waitFor(() => s.requests({ verb: 'watch', resource: 'hostendpoints.projectcalico.org' }).length > 0, 'kubectl watching', 10000);
      s.store.put(hep('w-eth0', { node: 'k1' }));
      s.store.put(hep('w-eth0', { node: 'k1', interfaceName: 'eth5' }));
      s.store.delete('hostendpoints.projectcalico.org', 'w-eth0');
      await waitFor(() => (out.match(/"type":\s*"(ADDED|MODIFIED|DELETED)"/g) ?? []).length >= 3, 'three events printed', 10000);
      const types = [...out.matchAll(/"type":\s*"(ADDED|MODIFIED|DELETED)"/g)].map((m) => m[1]);
      assert.deepEqual(types, ['ADDED', 'MODIFIED', 'DELETED']);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('delete node: kubectl reports it and the garbage collector removes the HEPs the node owns', async () => {
    const n = s.store.get('nodes', 'k1')!;
    s.store.put(hep('k1-owned', { node: 'k1' }, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'k1', uid: n.metadata.uid! }] }));
    const r = await kubectl(['delete', 'node', 'k1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /node "k1" deleted/);
    await waitFor(() => !s.store.get('hostendpoints.projectcalico.org', 'k1-owned'), 'owned HEP collected');
  });

  it('an RBAC-restricted kubeconfig gets Forbidden, as from a real cluster', async () => {
    const r2 = await startFakeApiServer({
      rbac: {
        clusterRole: { kind: 'ClusterRole', rules: [{ apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list'] }] },
        user: 'system:serviceaccount:kube-system:agent',
      },
    });
    try {
      const kc = join(dir, 'restricted');
      await r2.writeKubeconfig(kc);
      assert.equal((await kubectl(['get', 'nodes'], { kubeconfig: kc })).code, 0);
      const r = await kubectl(['get', 'heps'], { kubeconfig: kc });
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr,
        /Error from server \(Forbidden\): hostendpoints.projectcalico.org is forbidden: User "system:serviceaccount:kube-system:agent" cannot list resource "hostendpoints" in API group "projectcalico.org" at the cluster scope/,
      );
    } finally {
      await r2.close();
    }
  });
});
