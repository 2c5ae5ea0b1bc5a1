// The agent in-process, over the real client-node adapters, against the fake API server over HTTPS.
// Discovery is replaced by a list the test edits (kernel behaviour has its own netns tests).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NodeEventRecorder } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HostEndpoint, NetInterface } from '../../src/core/model.ts';
import { MANAGED_BY_LABEL } from '../../src/core/ownership.ts';
import { createLogger, silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiClient } from '../helpers/api-client.ts';

const V3 = 'hostendpoints.projectcalico.org';
const V1 = 'hostendpoints.crd.projectcalico.org';

interface Harness {
  server: FakeApiServer;
  agent: Agent;
  metrics: AgentMetrics;
  events: NodeEventRecorder;
  setInterfaces(list: NetInterface[]): void;
  failDiscovery(on: boolean): void;
  hep(name: string, resource?: string): HostEndpoint | undefined;
  stop(): Promise<void>;
}

function node(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

async function harness(opts: { config?: Record<string, unknown>; calicoGroups?: ('projectcalico.org/v3' | 'crd.projectcalico.org/v1')[]; seed?: object[]; interfaces?: NetInterface[] } = {}): Promise<Harness> {
  const server = await startFakeApiServer({
    calicoGroups: opts.calicoGroups ?? ['projectcalico.org/v3'],
    seed: [node('n1', { role: 'master' }), ...(opts.seed ?? [])] as never,
  });
  let interfaces = opts.interfaces ?? [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])];
  let discoveryFails = false;
  const config = validateConfig({
    nodeName: 'n1',
    intervals: { debounceMilliseconds: 10, removalGraceSeconds: 1, rescanSeconds: 3600, resyncSeconds: 3600 },
    ...opts.config,
  });
  const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
  const kc = apiClient(server, metrics);
  const events = new NodeEventRecorder(kc, 'n1', { logger: silentLogger, clock: systemClock });
  const agent = new Agent({
    config,
    nodeName: 'n1',
    client: kc,
    discover: async () => {
      if (discoveryFails) throw new Error('ip: simulated failure');
      return interfaces;
    },
    metrics,
    events,
    logger: process.env['AGENT_TEST_LOGS'] ? createLogger('debug', process.stderr) : silentLogger,
    clock: systemClock,
    version: 'test',
  });
  agent.start();
  return {
    server,
    agent,
    metrics,
    events,
    setInterfaces: (list) => {
      interfaces = list;
      agent.kernelChanged('test');
    },
    failDiscovery: (on) => {
      discoveryFails = on;
    },
    hep: (name, resource = V3) => server.store.get(resource, name) as HostEndpoint | undefined,
    stop: async () => {
      await agent.stop();
      await server.close();
    },
  };
}

async function metric(h: Harness, name: string, labels = ''): Promise<number | undefined> {
  const text = await h.metrics.registry.metrics();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('agent against the fake API server', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => h.stop());

  test('creates one HEP per selected interface, exactly as plan computes them, then is ready', async () => {
    const eth0 = await waitFor('n1-eth0', () => h.hep('n1-eth0'));
    await waitFor('n1-eth1', () => h.hep('n1-eth1'));
    assert.equal(eth0.spec.interfaceName, 'eth0');
    assert.deepEqual(eth0.spec.expectedIPs, ['192.0.2.10']);
    assert.equal(eth0.metadata.labels?.['role'], 'master');
    assert.equal(eth0.metadata.labels?.[MANAGED_BY_LABEL], 'calico-hep-agent');
    assert.equal(eth0.metadata.ownerReferences?.[0]?.kind, 'Node');
    await waitFor('ready', () => h.agent.status().ready);
    assert.equal(h.agent.status().calicoApi, 'projectcalico.org/v3');
  });

  test('an address added on an interface updates its expectedIPs', async () => {
    h.setInterfaces([iface('eth0', ['192.0.2.10/24', '192.0.2.11/24', '2001:db8::10/64']), iface('eth1', ['198.51.100.10/24'])]);
    await waitFor('new IPs', () => h.hep('n1-eth0')?.spec.expectedIPs?.length === 3);
    assert.deepEqual(h.hep('n1-eth0')?.spec.expectedIPs, ['192.0.2.10', '192.0.2.11', '2001:db8::10']);
  });

  test('Node label change: HEP labels follow', async () => {
    h.server.store.put(node('n1', { role: 'worker', zone: 'z1' }) as never);
    await waitFor('labels', () => h.hep('n1-eth1')?.metadata.labels?.['role'] === 'worker');
    assert.equal(h.hep('n1-eth1')?.metadata.labels?.['zone'], 'z1');
  });

  test('a managed HEP deleted or edited behind its back is restored', async () => {
    h.server.store.delete(V3, 'n1-eth1');
    await waitFor('recreated', () => h.hep('n1-eth1'));
    const edited = structuredClone(h.hep('n1-eth0')!);
    edited.spec.expectedIPs = ['203.0.113.99'];
    edited.metadata.labels = { ...edited.metadata.labels, intruder: 'yes' };
    h.server.store.put(edited as never);
    await waitFor('repaired', () => h.hep('n1-eth0')?.spec.expectedIPs?.length === 3 && h.hep('n1-eth0')?.metadata.labels?.['intruder'] === undefined);
    assert.ok((await metric(h, 'calico_hep_agent_drift_repaired_total', '{kind="modified"}'))! >= 1);
    assert.ok((await metric(h, 'calico_hep_agent_drift_repaired_total', '{kind="missing"}'))! >= 3);
  });

  test('a vanished interface keeps its HEP for the grace period, then loses it; link down keeps it', async () => {
    h.setInterfaces([iface('eth0', ['192.0.2.10/24', '192.0.2.11/24', '2001:db8::10/64'], { operState: 'DOWN', flags: ['NO-CARRIER'] })]);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(h.hep('n1-eth1'), 'kept within the grace period');
    await waitFor('deleted after grace', () => h.hep('n1-eth1') === undefined, 5000);
    assert.ok(h.hep('n1-eth0'), 'carrier-down interface keeps its HEP');
  });

  test('failed or empty discovery never deletes', async () => {
    h.setInterfaces([]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(h.hep('n1-eth0'), 'empty discovery is not trusted for deletes');
    h.failDiscovery(true);
    h.setInterfaces([iface('eth0', ['192.0.2.10/24'])]);
    await new Promise((r) => setTimeout(r, 1500));
    assert.ok(h.hep('n1-eth0'));
    h.failDiscovery(false);
    h.agent.kernelChanged('test');
    await waitFor('converged', () => h.hep('n1-eth0')?.spec.expectedIPs?.length === 1);
  });

  test('a 20 s API outage, dropped watches, compaction and a 409 burst: no crash, nothing lost, converged after', async () => {
    const before = JSON.stringify(h.server.store.list(V3));
    await h.server.controls.outage(20_000);
    h.setInterfaces([iface('eth0', ['192.0.2.10/24']), iface('eth2', ['192.0.2.20/24'])]);
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(JSON.stringify(h.server.store.list(V3)), before, 'nothing lost or written during the outage');
    h.server.controls.conflictBurst(3);
    await waitFor('eth2 after outage', () => h.hep('n1-eth2'), 60_000);
    assert.ok(h.hep('n1-eth0'));
    h.server.controls.compact();
    h.server.controls.dropWatches('reset');
    h.server.store.delete(V3, 'n1-eth2');
    await waitFor('restored after compaction', () => h.hep('n1-eth2'), 60_000);
    h.server.controls.conflictBurst(4);
    h.server.store.put(node('n1', { role: 'master' }) as never);
    // Backoff after the outage may hold a retry for up to 30 s; the deadline only bounds a hang.
    await waitFor('labels after 409s', () => h.hep('n1-eth2')?.metadata.labels?.['role'] === 'master', 60_000);
  });

  test('Events on the Node record what the agent did', async () => {
    await h.events.flush();
    const events = h.server.store.list('events', 'default');
    assert.ok(events.some((e) => (e as { reason?: string }).reason === 'HostEndpointCreated'));
    assert.ok(events.every((e) => (e as { involvedObject?: { kind?: string; name?: string } }).involvedObject?.name === 'n1'));
  });
});

describe('ownership and modes', () => {
  const handWritten = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: 'master1-eth0-by-hand', labels: { role: 'master' } },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] },
  };

  test('an unmanaged HEP for the same interface is left alone and reported as a conflict', async () => {
    const h = await harness({ seed: [handWritten] });
    try {
      await waitFor('eth1 created', () => h.hep('n1-eth1'));
      await waitFor('conflict metric', async () => (await metric(h, 'calico_hep_agent_drift', '{kind="conflict"}')) === 1);
      assert.equal(h.hep('n1-eth0'), undefined, 'no second HEP for the interface');
      assert.deepEqual(h.hep('master1-eth0-by-hand')?.metadata.labels, { role: 'master' }, 'untouched');
    } finally {
      await h.stop();
    }
  });

  test('with adopt: true it is taken over in place, keeping its name', async () => {
    const h = await harness({ seed: [handWritten], config: { adopt: true } });
    try {
      await waitFor('adopted', () => h.hep('master1-eth0-by-hand')?.metadata.labels?.[MANAGED_BY_LABEL] === 'calico-hep-agent');
      assert.equal(h.hep('n1-eth0'), undefined);
      assert.ok(h.server.requests({ verb: 'delete' }).length === 0, 'never deleted and recreated');
    } finally {
      await h.stop();
    }
  });

  test('audit mode reports drift and writes nothing', async () => {
    const h = await harness({ config: { mode: 'audit' } });
    try {
      await waitFor('missing drift reported', async () => (await metric(h, 'calico_hep_agent_drift', '{kind="missing"}')) === 2);
      const writes = h.server.requestLog.filter((e) => ['create', 'update', 'patch', 'delete'].includes(e.verb) && e.resource?.startsWith('hostendpoints'));
      assert.deepEqual(writes, []);
      assert.equal(h.hep('n1-eth0'), undefined);
    } finally {
      await h.stop();
    }
  });

  test('only crd.projectcalico.org/v1 served: refuses and stays not ready without opt-in', async () => {
    const h = await harness({ calicoGroups: ['crd.projectcalico.org/v1'] });
    try {
      await waitFor('refusal', () => h.agent.status().lastError?.includes('crd.projectcalico.org/v1'));
      assert.equal(h.agent.status().ready, false);
      assert.equal(h.server.store.list(V1).length, 0);
    } finally {
      await h.stop();
    }
  });

  test('with apiGroup: crd.projectcalico.org/v1 it writes v1 and mirrors labels into projectcalico.org/metadata', async () => {
    const h = await harness({ calicoGroups: ['crd.projectcalico.org/v1'], config: { apiGroup: 'crd.projectcalico.org/v1' } });
    try {
      const hep = await waitFor('v1 HEP', () => h.hep('n1-eth0', V1));
      const meta = JSON.parse(hep.metadata.annotations?.['projectcalico.org/metadata'] ?? '{}') as { labels?: Record<string, string> };
      assert.deepEqual(meta.labels, hep.metadata.labels);
      assert.equal(meta.labels?.['role'], 'master');
      // A label change keeps both in step.
      h.server.store.put(node('n1', { role: 'edge' }) as never);
      await waitFor('v1 labels follow', () => {
        const now = h.hep('n1-eth0', V1);
        const m = JSON.parse(now?.metadata.annotations?.['projectcalico.org/metadata'] ?? '{}') as { labels?: Record<string, string> };
        return now?.metadata.labels?.['role'] === 'edge' && m.labels?.['role'] === 'edge';
      });
      await waitFor('ready', () => h.agent.status().ready);
    } finally {
      await h.stop();
    }
  });

  test('the scan of all HEPs runs at start and then every conflictScanSeconds, never more', async () => {
    const scans = (h: Harness) =>
      h.server.requests({ verb: 'list', resource: V3 }).filter((e) => !e.query.includes('labelSelector')).length;
    const once = await harness({ config: { intervals: { debounceMilliseconds: 10, conflictScanSeconds: 0, rescanSeconds: 1, resyncSeconds: 3600 } } });
    const often = await harness({ config: { intervals: { debounceMilliseconds: 10, conflictScanSeconds: 1, rescanSeconds: 1, resyncSeconds: 3600 } } });
    try {
      await waitFor('both started', () => once.hep('n1-eth0') && often.hep('n1-eth0'));
      await new Promise((r) => setTimeout(r, 3000)); // several rescans and reconciles
      assert.equal(scans(once), 1, 'only at start');
      assert.ok(scans(often) >= 2, `scanned ${scans(often)} times`);
    } finally {
      await once.stop();
      await often.stop();
    }
  });

  test('Node deleted: garbage collection removes its HEPs and the agent does not recreate them', async () => {
    const h = await harness();
    try {
      await waitFor('created', () => h.hep('n1-eth0') && h.hep('n1-eth1'));
      h.server.store.delete('nodes', 'n1');
      await waitFor('collected', () => h.server.store.list(V3).length === 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(h.server.store.list(V3).length, 0);
    } finally {
      await h.stop();
    }
  });
});
