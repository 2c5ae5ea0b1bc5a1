// `prune` through the CLI against the fake API server: only managed HEPs of missing Nodes go.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, test } from 'node:test';
import { runCli } from '../../src/cli/cli.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { apiClient } from '../helpers/api-client.ts';

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
  kubeconfig = join(await mkdtemp(join(tmpdir(), 'hep-prune-')), 'kubeconfig');
  await server.writeKubeconfig(kubeconfig);
});

after(() => server.close());

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
  assert.deepEqual(server.store.list(V3).map((h) => h.metadata?.name).sort(), ['alive-eth0', 'gone-by-hand']);
  assert.equal((await cli('prune', '--kubeconfig', kubeconfig)).out, 'no orphaned HostEndpoints\n');
});

test('the periodic sweep: one agent wins the Lease and prunes; another skips while it is held', async () => {
  const { Agent } = await import('../../src/agent/agent.ts');
  const { NO_EVENTS } = await import('../../src/agent/events.ts');
  const { validateConfig } = await import('../../src/config/load.ts');
  const { AgentMetrics } = await import('../../src/observability/metrics.ts');
  const { Registry } = await import('prom-client');
  const { systemClock } = await import('../../src/adapters/system-clock.ts');
  const { silentLogger } = await import('../../src/logger.ts');
  const { waitFor } = await import('../helpers/wait.ts');
  server.store.put(hep('gone2-eth0', 'gone2', managed) as never);
  const make = (nodeName: string) =>
    new Agent({
      config: validateConfig({ nodeName, prune: { sweep: true, intervalSeconds: 3600 }, interfaces: { include: [] } }),
      nodeName,
      client: apiClient(server),
      discover: async () => [],
      metrics: new AgentMetrics(new Registry(), { defaultMetrics: false }),
      events: NO_EVENTS,
      logger: silentLogger,
      clock: systemClock,
      version: 'test',
      leaseNamespace: 'default',
    });
  const a = make('alive');
  const b = make('other');
  a.start();
  b.start();
  try {
    await waitFor('a ready', () => a.status().calicoApi);
    await waitFor('b ready', () => b.status().calicoApi);
    await b.sweepNow(); // b takes the lease first and prunes
    assert.equal(server.store.get(V3, 'gone2-eth0'), undefined);
    server.store.put(hep('gone3-eth0', 'gone3', managed) as never);
    await a.sweepNow(); // held by b: a must not prune
    assert.ok(server.store.get(V3, 'gone3-eth0'));
    const lease = server.store.get('leases', 'calico-hep-agent-prune', 'default') as { spec?: { holderIdentity?: string } };
    assert.equal(lease.spec?.holderIdentity, 'other');
    await b.sweepNow();
    assert.equal(server.store.get(V3, 'gone3-eth0'), undefined);
  } finally {
    await a.stop();
    await b.stop();
  }
});
