// `prune` through the CLI against the fake API server: only managed HEPs of missing Nodes go.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/cli.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';

const V3 = 'hostendpoints.projectcalico.org';
const managed = { 'app.kubernetes.io/managed-by': 'calico-hep-agent' };

function hep(name: string, node: string, labels: Record<string, string>) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels }, spec: { node, interfaceName: 'eth0' } };
}

let server: FakeApiServer;
let kubeconfig: string;

before(async () => {
  server = await startFakeApiServer({
    seed: [
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'alive' } },
      hep('alive-eth0', 'alive', managed),
      hep('gone-eth0', 'gone', managed),
      hep('gone-by-hand', 'gone', { role: 'master' }),
    ] as never,
  });
  dir = await mkdtemp(join(tmpdir(), 'hep-prune-'));
  kubeconfig = join(dir, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig);
});

let dir: string | undefined;
after(async () => {
  await server.close();
  // The kubeconfig holds the fake server's token: leave nothing behind.
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]): Promise<{ code: number; out: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await runCli(argv, { stdout, stderr, stdin: new PassThrough(), env: {} });
  return { code, out };
}

test('--dry-run lists orphans and deletes nothing', async () => {
  const r = await cli('prune', '--kubeconfig', kubeconfig, '--dry-run');
  assert.equal(r.code, 0);
  assert.equal(r.out, 'would delete hostendpoint/gone-eth0\n');
  assert.equal(server.store.list(V3).length, 3);
});

test('deletes managed HEPs of missing Nodes only; hand-written and live ones stay', async () => {
  const r = await cli('prune', '--kubeconfig', kubeconfig);
  assert.equal(r.code, 0);
  assert.equal(r.out, 'deleted hostendpoint/gone-eth0\n');
  assert.deepEqual(
    server.store
      .list(V3)
      .map((h) => h.metadata?.name)
      .sort(),
    ['alive-eth0', 'gone-by-hand'],
  );
  assert.equal((await cli('prune', '--kubeconfig', kubeconfig)).out, 'no orphaned HostEndpoints\n');
});
