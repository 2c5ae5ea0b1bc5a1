// The agent in-process on fake time (test/helpers/agent-harness.ts), over the real HttpApiClient,
// against the fake API server over HTTPS. Discovery is replaced by a list the test edits (kernel
// behaviour has its own netns tests). No assertion depends on how much wall time passed.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { desiredStateBuilder } from '../../src/core/desired.ts';
import { legacyHostEndpointName } from '../../src/core/naming.ts';
import type { HostEndpoint, NetInterface } from '../../src/core/model.ts';
import { MANAGED_BY_LABEL, NODE_LABEL } from '../../src/core/ownership.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.ts';
import { iface } from '../helpers/interfaces.ts';

const V3 = 'hostendpoints.projectcalico.org';
const V1 = 'hostendpoints.crd.projectcalico.org';

function node(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

function unmanagedHep(name: string, spec: Record<string, unknown>, labels: Record<string, string> = { role: 'master' }) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels }, spec: { node: 'n1', ...spec } };
}

interface Setup {
  server: FakeApiServer;
  h: AgentHarness;
  hep(name: string, resource?: string): HostEndpoint | undefined;
  stop(): Promise<void>;
}

async function setup(
  opts: {
    config?: Record<string, unknown>;
    calicoGroups?: ('projectcalico.org/v3' | 'crd.projectcalico.org/v1')[];
    seed?: object[];
    nodeLabels?: Record<string, string>;
    interfaces?: NetInterface[];
  } = {},
): Promise<Setup> {
  const server = await startFakeApiServer({
    calicoGroups: opts.calicoGroups ?? ['projectcalico.org/v3'],
    seed: [node('n1', opts.nodeLabels ?? { role: 'master' }), ...(opts.seed ?? [])] as never,
  });
  let h: AgentHarness;
  try {
    h = startAgent({
      server,
      config: opts.config,
      interfaces: opts.interfaces ?? [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])],
    });
  } catch (err) {
    await server.close(); // a config the schema refuses: no agent, and no server left open
    throw err;
  }
  return {
    server,
    h,
    hep: (name, resource = V3) => server.store.get(resource, name) as HostEndpoint | undefined,
    stop: async () => {
      await h.stop();
      await server.close();
    },
  };
}

const writes = (server: FakeApiServer) =>
  server.requestLog.filter((e) => ['create', 'update', 'patch', 'delete'].includes(e.verb) && e.resource?.startsWith('hostendpoints') && !e.injected);

describe('agent against the fake API server', () => {
  let s: Setup;
  let h: AgentHarness;
  const hep = (name: string) => s.hep(name);
  before(async () => {
    s = await setup();
    h = s.h;
  });
  after(async () => s.stop());

  test('creates one HEP per selected interface, exactly as plan computes them, then is ready', async () => {
    const eth0 = await h.until('n1-eth0', () => hep('n1-eth0'));
    await h.until('n1-eth1', () => hep('n1-eth1'));
    assert.equal(eth0.spec.interfaceName, 'eth0');
    assert.deepEqual(eth0.spec.expectedIPs, ['192.0.2.10']);
    assert.equal(eth0.metadata.labels?.['role'], 'master');
    assert.equal(eth0.metadata.labels?.[MANAGED_BY_LABEL], 'calico-hep-agent');
    assert.equal(eth0.metadata.ownerReferences?.[0]?.kind, 'Node');
    await h.until('ready', () => h.agent.status().ready);
    assert.equal(h.agent.status().calicoApi, 'projectcalico.org/v3');
  });

  test('no cluster-wide HEP list: every HEP list and watch is label-selected', () => {
    const heps = s.server.requestLog.filter((e) => e.resource === V3 && (e.verb === 'list' || e.verb === 'watch'));
    assert.ok(heps.length >= 3);
    for (const e of heps) assert.match(e.query, /labelSelector=/, `${e.verb} ${e.query}`);
    // Read always, for the policy guard; tiers and staged policies are not served by this fake server (404: optional).
    const policyReads = ['globalnetworkpolicies', 'stagedglobalnetworkpolicies', 'tiers', 'felixconfigurations'];
    for (const r of policyReads)
      assert.ok(
        s.server.requestLog.some((e) => e.method === 'GET' && e.path === `/apis/projectcalico.org/v3/${r}`),
        `lists ${r}`,
      );
  });

  test('an address added on an interface updates its expectedIPs', async () => {
    h.setInterfaces([iface('eth0', ['192.0.2.10/24', '192.0.2.11/24', '2001:db8::10/64']), iface('eth1', ['198.51.100.10/24'])]);
    await h.until('new IPs', () => hep('n1-eth0')?.spec.expectedIPs?.length === 3);
    assert.deepEqual(hep('n1-eth0')?.spec.expectedIPs, ['192.0.2.10', '192.0.2.11', '2001:db8::10']);
  });

  test('Node label change: HEP labels follow', async () => {
    s.server.store.put(node('n1', { role: 'worker', zone: 'z1' }));
    await h.until('labels', () => hep('n1-eth1')?.metadata.labels?.['role'] === 'worker');
    assert.equal(hep('n1-eth1')?.metadata.labels?.['zone'], 'z1');
  });

  test('a managed HEP deleted or edited behind its back is restored', async () => {
    s.server.store.delete(V3, 'n1-eth1');
    await h.until('recreated', () => hep('n1-eth1'));
    const edited = structuredClone(hep('n1-eth0')!);
    edited.spec.expectedIPs = ['203.0.113.99'];
    edited.metadata.labels = { ...edited.metadata.labels, intruder: 'yes' };
    s.server.store.put(edited as never);
    await h.until('repaired', () => hep('n1-eth0')?.spec.expectedIPs?.length === 3 && hep('n1-eth0')?.metadata.labels?.['intruder'] === undefined);
    assert.ok((await h.metric('calico_hep_agent_drift_repaired_total', '{kind="modified"}'))! >= 1);
    assert.ok((await h.metric('calico_hep_agent_drift_repaired_total', '{kind="missing"}'))! >= 3);
  });

  test('a vanished interface keeps its HEP for the grace period, then loses it; link down keeps it', async () => {
    h.setInterfaces([iface('eth0', ['192.0.2.10/24', '192.0.2.11/24', '2001:db8::10/64'], { operState: 'DOWN', flags: ['NO-CARRIER'] })]);
    await h.advance(200_000); // 200 s of the 300 s grace
    assert.ok(hep('n1-eth1'), 'kept within the grace period');
    const before = h.agent.stats.runs;
    await h.until('deleted after grace', () => hep('n1-eth1') === undefined, 200_000);
    assert.ok(h.agent.stats.runs - before <= 3, `grace expiry is one requeue, not polling: ${h.agent.stats.runs - before} runs`);
    assert.ok(hep('n1-eth0'), 'carrier-down interface keeps its HEP');
  });

  test('failed or empty discovery never deletes', async () => {
    h.setInterfaces([]);
    await h.advance(1_000_000);
    assert.ok(hep('n1-eth0'), 'empty discovery is not trusted for deletes');
    h.failDiscovery(true);
    h.setInterfaces([iface('eth0', ['192.0.2.10/24'])]);
    await h.advance(1_000_000);
    assert.ok(hep('n1-eth0'));
    h.failDiscovery(false);
    h.agent.kernelChanged('test');
    await h.until('converged', () => hep('n1-eth0')?.spec.expectedIPs?.length === 1);
  });

  test('an API outage, dropped watches, compaction and a 409 burst: bounded retries, nothing lost, converged after', async () => {
    const deletesBefore = s.server.requests({ verb: 'delete', resource: V3 }).length;
    const failedBefore = (await h.metric('calico_hep_agent_api_requests_total', '{verb="list",resource="hostendpoints",code="0"}')) ?? 0;
    const outageMs = 1_000;
    const outageEnds = Date.now() + outageMs;
    await s.server.controls.outage(outageMs, 'refuse'); // resolves once the listener is closed
    h.setInterfaces([iface('eth0', ['192.0.2.10/24']), iface('eth2', ['192.0.2.20/24'])]);
    // Ten minutes of fake time while the server refuses: backoff keeps the attempts few.
    for (let i = 0; i < 20; i++) await h.advance(30_000);
    assert.ok(hep('n1-eth0'), 'nothing lost');
    assert.equal(s.server.requests({ verb: 'delete', resource: V3 }).length, deletesBefore, 'no delete because of the outage');
    const failed = ((await h.metric('calico_hep_agent_api_requests_total', '{verb="list",resource="hostendpoints",code="0"}')) ?? 0) - failedBefore;
    assert.ok(failed <= 2 * 40, `HEP lists refused during 10 fake minutes: ${failed}`);
    // The server's outage is real time: wait for its listener to come back (setup, not an assertion).
    await new Promise((r) => setTimeout(r, Math.max(0, outageEnds - Date.now()) + 50));
    s.server.controls.conflictBurst(3);
    const back = h.clock.now();
    await h.until('eth2 after outage', () => hep('n1-eth2'), 120_000);
    // Reflectors notice the server within their backoff (<= 30 s); the change then jumps the reconcile backoff.
    assert.ok(h.clock.now() - back <= 31_000, `reached the API ${h.clock.now() - back} ms (fake) after recovery`);
    assert.ok(hep('n1-eth0'));
    s.server.controls.compact();
    s.server.controls.dropWatches('reset');
    s.server.store.delete(V3, 'n1-eth2');
    await h.until('restored after compaction', () => hep('n1-eth2'), 120_000);
    s.server.controls.conflictBurst(4);
    s.server.store.put(node('n1', { role: 'master' }));
    await h.until('labels after 409s', () => hep('n1-eth2')?.metadata.labels?.['role'] === 'master', 120_000);
  });

  test('Events on the Node record what the agent did', async () => {
    await h.events.flush();
    const events = s.server.store.list('events', 'default');
    assert.ok(events.some((e) => (e as { reason?: string }).reason === 'HostEndpointCreated'));
    assert.ok(events.every((e) => (e as { involvedObject?: { kind?: string; name?: string } }).involvedObject?.name === 'n1'));
  });
});

describe('conflicts, ownership and modes', () => {
  const handWritten = unmanagedHep('master1-eth0-by-hand', { interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] });

  test('an unmanaged HEP for the same interface is left alone and reported as a conflict', async () => {
    const s = await setup({ seed: [handWritten] });
    try {
      await s.h.until('eth1 created', () => s.hep('n1-eth1'));
      await s.h.until('conflict metric', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="conflict"}')) === 1);
      assert.equal(s.hep('n1-eth0'), undefined, 'no second HEP for the interface');
      assert.deepEqual(s.hep('master1-eth0-by-hand')?.metadata.labels, { role: 'master' }, 'untouched');
    } finally {
      await s.stop();
    }
  });

  test('a hand-written HEP created while the agent runs is reported within 2 s; deleting it brings ours back at once', async () => {
    const s = await setup();
    try {
      await s.h.until('both created', () => s.hep('n1-eth0') && s.hep('n1-eth1'));
      await s.h.advance(3_600_000); // long after start: no scan will come
      s.server.store.put(unmanagedHep('eth1-by-hand', { interfaceName: 'eth1' }));
      const t0 = s.h.clock.now();
      await s.h.until('conflict reported', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="conflict"}')) === 1, 2_000);
      assert.ok(s.h.clock.now() - t0 <= 2_000);
      await s.h.events.flush();
      assert.ok(s.server.store.list('events', 'default').some((e) => (e as { reason?: string }).reason === 'HostEndpointConflict'));
      // Ours stays beside it (Felix applies the name that sorts first); theirs is never touched.
      s.server.store.delete(V3, 'eth1-by-hand');
      await s.h.until('conflict gone', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="conflict"}')) === 0, 2_000);
      assert.ok(s.hep('n1-eth1'));
    } finally {
      await s.stop();
    }
  });

  test('a conflict blocks our create; when the operator deletes it, our HEP is created promptly', async () => {
    const s = await setup({ seed: [handWritten] });
    try {
      await s.h.until('conflict', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="conflict"}')) === 1);
      s.server.store.delete(V3, 'master1-eth0-by-hand');
      const t0 = s.h.clock.now();
      await s.h.until('ours created', () => s.hep('n1-eth0'), 2_000);
      assert.ok(s.h.clock.now() - t0 <= 2_000);
    } finally {
      await s.stop();
    }
  });

  test('an expectedIPs-only HEP of this node, and a per-interface Calico auto HEP, are conflicts too', async () => {
    const s = await setup({
      nodeLabels: { role: 'master', 'kubernetes.io/hostname': 'n1' },
      seed: [
        unmanagedHep('by-ip', { expectedIPs: ['192.0.2.10'] }),
        unmanagedHep(
          'n1-eth1-auto-hep',
          { interfaceName: 'eth1' },
          { 'projectcalico.org/created-by': 'calico-kube-controllers', 'kubernetes.io/hostname': 'n1' },
        ),
        // Another node's auto HEP and the all-interfaces auto HEP are not.
        {
          ...unmanagedHep(
            'n2-auto-hep',
            { node: 'n2', interfaceName: 'eth1' },
            { 'projectcalico.org/created-by': 'calico-kube-controllers', 'kubernetes.io/hostname': 'n2' },
          ),
        },
      ],
    });
    try {
      await s.h.until('two conflicts', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="conflict"}')) === 2);
      await s.h.advance(10_000);
      assert.equal(s.hep('n1-eth0'), undefined);
      assert.equal(s.hep('n1-eth1'), undefined);
      const autoWatch = s.server
        .requests({ verb: 'watch', resource: V3 })
        .find((e) => decodeURIComponent(e.query).includes('created-by=calico-kube-controllers'));
      assert.ok(autoWatch, 'auto HEPs are watched by label');
      assert.match(decodeURIComponent(autoWatch.query), /kubernetes\.io\/hostname=n1/, "only this node's");
    } finally {
      await s.stop();
    }
  });

  test('a managed HEP whose node label was removed is repaired, not a permanent conflict', async () => {
    const s = await setup();
    try {
      await s.h.until('created', () => s.hep('n1-eth0') && s.hep('n1-eth1'));
      const stray = structuredClone(s.hep('n1-eth0')!);
      delete stray.metadata.labels![NODE_LABEL];
      s.server.store.put(stray as never);
      await s.h.until('label restored', () => s.hep('n1-eth0')?.metadata.labels?.[NODE_LABEL] !== undefined, 60_000);
      assert.equal(await s.h.metric('calico_hep_agent_drift', '{kind="conflict"}'), 0);
    } finally {
      await s.stop();
    }
  });

  test('fighting another writer backs off: not one write per foreign change', async () => {
    const s = await setup();
    try {
      await s.h.until('created', () => s.hep('n1-eth0'));
      const base = writes(s.server).length;
      // A writer that undoes the agent's repair every time (a second agent with another config, say).
      const unsubscribe = setInterval(() => {
        const cur = s.hep('n1-eth0');
        if (cur !== undefined && cur.metadata.labels?.['fight'] !== 'theirs') {
          cur.metadata.labels = { ...cur.metadata.labels, fight: 'theirs' };
          s.server.store.put(cur as never);
        }
      }, 5);
      try {
        for (let i = 0; i < 60; i++) await s.h.advance(1_000);
      } finally {
        clearInterval(unsubscribe);
      }
      const n = writes(s.server).length - base;
      assert.ok(n >= 2 && n <= 12, `writes in 60 s (fake) of fighting: ${n}`);
    } finally {
      await s.stop();
    }
  });

  test('our own successive changes to one HEP are not a fight: each is written without backoff', async () => {
    const s = await setup();
    try {
      await s.h.until('created', () => s.hep('n1-eth0'));
      // An address that comes and goes on eth0, ten times: each change is new content for n1-eth0.
      for (let i = 0; i < 10; i++) {
        const ips = i % 2 === 0 ? ['192.0.2.10/24', '192.0.2.99/24'] : ['192.0.2.10/24'];
        s.h.setInterfaces([iface('eth0', ips), iface('eth1', ['198.51.100.10/24'])]);
        const want = ips.map((a) => a.split('/')[0]!).join(',');
        // One debounce (100 ms) and a little: no backoff of seconds in between.
        await s.h.until(`change ${i} written`, () => s.hep('n1-eth0')?.spec.expectedIPs?.join(',') === want, 500);
      }
    } finally {
      await s.stop();
    }
  });

  test('with adopt: true it is taken over in place, keeping its name', async () => {
    const s = await setup({ seed: [handWritten], config: { adopt: true } });
    try {
      await s.h.until('adopted', () => s.hep('master1-eth0-by-hand')?.metadata.labels?.[MANAGED_BY_LABEL] === 'calico-hep-agent');
      assert.equal(s.hep('n1-eth0'), undefined);
      assert.ok(s.server.requests({ verb: 'delete' }).length === 0, 'never deleted and recreated');
    } finally {
      await s.stop();
    }
  });

  test('audit mode reports drift and writes nothing', async () => {
    const s = await setup({ config: { mode: 'audit' } });
    try {
      await s.h.until('missing drift reported', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="missing"}')) === 2);
      assert.deepEqual(writes(s.server), []);
      assert.equal(s.hep('n1-eth0'), undefined);
    } finally {
      await s.stop();
    }
  });

  test('only crd.projectcalico.org/v1 served: refuses and stays not ready without opt-in', async () => {
    const s = await setup({ calicoGroups: ['crd.projectcalico.org/v1'] });
    try {
      await s.h.until('refusal', () => s.h.agent.status().lastError?.includes('crd.projectcalico.org/v1'));
      assert.equal(s.h.agent.status().ready, false);
      assert.equal(s.server.store.list(V1).length, 0);
    } finally {
      await s.stop();
    }
  });

  test('with apiGroup: crd.projectcalico.org/v1 it writes v1 and mirrors labels into projectcalico.org/metadata', async () => {
    const s = await setup({ calicoGroups: ['crd.projectcalico.org/v1'], config: { apiGroup: 'crd.projectcalico.org/v1' } });
    try {
      const hep = await s.h.until('v1 HEP', () => s.hep('n1-eth0', V1));
      const meta = JSON.parse(hep.metadata.annotations?.['projectcalico.org/metadata'] ?? '{}') as { labels?: Record<string, string> };
      assert.deepEqual(meta.labels, hep.metadata.labels);
      assert.equal(meta.labels?.['role'], 'master');
      s.server.store.put(node('n1', { role: 'edge' }));
      await s.h.until('v1 labels follow', () => {
        const now = s.hep('n1-eth0', V1);
        const m = JSON.parse(now?.metadata.annotations?.['projectcalico.org/metadata'] ?? '{}') as { labels?: Record<string, string> };
        return now?.metadata.labels?.['role'] === 'edge' && m.labels?.['role'] === 'edge';
      });
      await s.h.until('ready', () => s.h.agent.status().ready);
    } finally {
      await s.stop();
    }
  });

  test('a 403 is named in status (readyz), counted as a failed reconcile, and in the metrics', async () => {
    const s = await setup();
    try {
      s.server.controls.failNext(1_000, 403, { verb: 'list', resource: V3 });
      await s.h.until('error reconcile', async () => ((await s.h.metric('calico_hep_agent_reconciles_total', '{result="error"}')) ?? 0) >= 1);
      const st = s.h.agent.status();
      assert.equal(st.ready, false);
      assert.match(st.lastError ?? '', /403/);
      assert.ok(st.forbidden.includes('hostendpoints'), st.forbidden.join(','));
      assert.equal(await s.h.metric('calico_hep_agent_api_forbidden', '{resource="hostendpoints"}'), 1);
      s.server.controls.reset();
    } finally {
      await s.stop();
    }
  });

  test('the "interface skipped" warning is logged once per change, not on every reconcile; writes log what they wrote', async () => {
    const server = await startFakeApiServer({ seed: [node('n1', { role: 'master' })] as never });
    const lines: { msg?: string; action?: string; expectedIPs?: string[]; interface?: string }[] = [];
    const stream = new PassThrough();
    stream.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as never);
    });
    const bad = iface('this-name-is-far-too-long', ['192.0.2.99/24']);
    const h = startAgent({ server, interfaces: [iface('eth0', ['192.0.2.10/24']), bad], logStream: stream });
    try {
      await h.until('created', () => server.store.get(V3, 'n1-eth0'));
      for (let i = 0; i < 5; i++) {
        h.agent.kernelChanged('test');
        await h.advance(1_000);
      }
      assert.ok(h.agent.stats.runs >= 5);
      assert.equal(lines.filter((l) => l.msg?.includes('this-name-is-far-too-long') === true).length, 1);
      const created = lines.find((l) => l.action === 'create');
      assert.deepEqual([created?.interface, created?.expectedIPs], ['eth0', ['192.0.2.10']]);
    } finally {
      await h.stop();
      await server.close();
    }
  });

  test('30-day intervals (longer than a Node.js timer holds) are accepted and do not spin', async () => {
    const month = 30 * 86_400;
    const s = await setup({ config: { intervals: { debounceMilliseconds: 100, rescanSeconds: month, resyncSeconds: month, removalGraceSeconds: 300 } } });
    try {
      await s.h.until('created', () => s.hep('n1-eth0') && s.hep('n1-eth1'));
      const runs = s.h.agent.stats.runs;
      const lists = s.server.requests({ verb: 'list' }).length;
      await s.h.advance(86_400_000); // a day
      assert.ok(s.h.agent.stats.runs - runs <= 1, `runs in a day: ${s.h.agent.stats.runs - runs}`);
      assert.equal(s.server.requests({ verb: 'list' }).length, lists, 'no relist without a watch failure');
    } finally {
      await s.stop();
    }
  });

  test('stop() (SIGTERM) skips the remaining writes of a reconcile in progress', async () => {
    const server = await startFakeApiServer({ seed: [node('n1', { role: 'master' })] as never });
    const h = startAgent({ server, interfaces: [] });
    try {
      await h.until('ready', () => h.agent.status().ready);
      server.controls.latencyMs = 100; // each write takes 100 ms (real)
      h.setInterfaces(['eth0', 'eth1', 'eth2', 'eth3', 'eth4', 'eth5'].map((n, i) => iface(n, [`192.0.2.${i + 1}/24`])));
      await h.until('first create sent', () => server.requests({ verb: 'create', resource: V3 }).length >= 1);
      await h.agent.stop();
      const creates = server.requests({ verb: 'create', resource: V3 }).length;
      assert.ok(creates < 6, `creates after stop: ${creates}`);
    } finally {
      await h.stop();
      await server.close();
    }
  });

  test('config deselecting every interface: deletes held for the grace period, then by the circuit breaker', async () => {
    // The HEPs the default config wrote for n1, then an agent restarted with a typo in include.
    const written = desiredStateBuilder(validateConfig({}))({ name: 'n1', labels: { role: 'master' } }, [
      iface('eth0', ['192.0.2.10/24']),
      iface('eth1', ['198.51.100.10/24']),
    ]).hostEndpoints;
    const grace = 3600;
    const s = await setup({
      seed: written,
      config: { interfaces: { include: ['em*'] }, intervals: { removalGraceSeconds: grace, rescanSeconds: 3600, resyncSeconds: 3600 } },
    });
    try {
      await s.h.until('ready', () => s.h.agent.status().ready);
      await s.h.advance((grace - 60) * 1000);
      assert.ok(s.hep('n1-eth0') && s.hep('n1-eth1'), 'kept within the grace period');
      assert.deepEqual(s.server.requests({ verb: 'delete' }), []);
      // Held by the grace period itself, not (yet) by the breaker: no stale or breaker drift.
      assert.equal(await s.h.metric('calico_hep_agent_drift', '{kind="breaker"}'), 0);
      assert.equal(await s.h.metric('calico_hep_agent_drift', '{kind="stale"}'), 0);
      // Grace over: 2 of 2 managed interfaces would lose their HEP, more than safety.maxDeleteFraction 0.5.
      await s.h.until('breaker drift', async () => (await s.h.metric('calico_hep_agent_drift', '{kind="breaker"}')) === 2, 600_000);
      await s.h.advance(2 * 3_600_000);
      assert.ok(s.hep('n1-eth0') && s.hep('n1-eth1'), 'the breaker holds every delete');
      assert.deepEqual(s.server.requests({ verb: 'delete' }), []);
      assert.equal(await s.h.metric('calico_hep_agent_drift', '{kind="breaker"}'), 2);
    } finally {
      await s.stop();
    }
  });

  test('one interface of two deselected: kept for the grace period, then deleted (within safety.maxDeleteFraction)', async () => {
    const written = desiredStateBuilder(validateConfig({}))({ name: 'n1', labels: { role: 'master' } }, [
      iface('eth0', ['192.0.2.10/24']),
      iface('eth1', ['198.51.100.10/24']),
    ]).hostEndpoints;
    const s = await setup({
      seed: written,
      config: { interfaces: { include: ['eth0'] }, intervals: { removalGraceSeconds: 300, rescanSeconds: 3600, resyncSeconds: 3600 } },
    });
    try {
      await s.h.until('ready', () => s.h.agent.status().ready);
      await s.h.advance(200_000);
      assert.ok(s.hep('n1-eth1'), 'deselected, but kept within the grace period');
      await s.h.until('n1-eth1 deleted after the grace period', () => s.hep('n1-eth1') === undefined, 200_000);
      assert.ok(s.hep('n1-eth0'));
      assert.equal(await s.h.metric('calico_hep_agent_drift', '{kind="breaker"}'), 0);
      assert.equal(s.server.requests({ verb: 'delete' }).length, 1);
    } finally {
      await s.stop();
    }
  });

  test('a HEP named by the earlier scheme moves to its new name without a gap: create first, then delete', async () => {
    const interfaces = [iface('eth0', ['192.0.2.10/24']), iface('eth-ext', ['198.51.100.10/24'])];
    const written = desiredStateBuilder(validateConfig({}))({ name: 'n1', labels: { role: 'master' } }, interfaces).hostEndpoints;
    const legacy = legacyHostEndpointName('n1', 'eth-ext');
    const renamed = written.find((w) => w.spec.interfaceName === 'eth-ext')!;
    assert.notEqual(renamed.metadata.name, legacy, 'the naming schemes differ for eth-ext');
    const seed = written.map((w) => (w === renamed ? { ...w, metadata: { ...w.metadata, name: legacy } } : w));
    const s = await setup({ seed, interfaces });
    try {
      await s.h.until('renamed', () => s.hep(renamed.metadata.name) !== undefined && s.hep(legacy) === undefined);
      const log = s.server.requestLog.filter((e) => e.resource === V3 && (e.verb === 'create' || e.verb === 'delete') && !e.injected);
      assert.deepEqual(
        log.map((e) => e.verb),
        ['create', 'delete'],
        'the new name exists before the old one goes',
      );
      assert.equal(await s.h.metric('calico_hep_agent_drift', '{kind="breaker"}'), 0, 'a rename is no delete of an interface');
      assert.ok(s.hep(written[0]!.metadata.name), 'eth0 untouched');
    } finally {
      await s.stop();
    }
  });

  test('Node deleted: garbage collection removes its HEPs and the agent does not recreate them', async () => {
    const s = await setup();
    try {
      await s.h.until('created', () => s.hep('n1-eth0') && s.hep('n1-eth1'));
      s.server.store.delete('nodes', 'n1');
      await s.h.until('collected', () => s.server.store.list(V3).length === 0);
      await s.h.advance(600_000);
      assert.equal(s.server.store.list(V3).length, 0);
    } finally {
      await s.stop();
    }
  });
});
