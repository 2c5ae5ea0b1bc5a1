// The policy guard in the running agent, in-process against the fake API server (issue 12): a HEP that
// a GlobalNetworkPolicy would turn from "allow everything" into "drop" is not written; the drift, the
// log and a Node Event name the policy; a policy change retries. Every interval is 1 h, so anything
// that happens after the start does so because of a watch event (no resync, no rescan, no timers).
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NodeEventRecorder } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HostEndpoint } from '../../src/core/model.ts';
import { TRUST_ANNOTATION } from '../../src/core/policy/index.ts';
import { silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';

const HEPS = 'hostendpoints.projectcalico.org';
const GNPS = 'globalnetworkpolicies.projectcalico.org';
const FCS = 'felixconfigurations.projectcalico.org';

function gnp(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name, ...(annotations ? { annotations } : {}) }, spec };
}

/** Calico's recommended cluster-wide pod default deny: it selects every HEP too (a HEP has no namespace label). */
const podDefaultDeny = (annotations?: Record<string, string>) =>
  gnp('default-deny', { selector: 'projectcalico.org/namespace not in {"kube-system", "calico-system", "tigera-operator"}', types: ['Ingress', 'Egress'] }, annotations);

interface Harness {
  server: FakeApiServer;
  agent: Agent;
  events: NodeEventRecorder;
  hep(name: string): HostEndpoint | undefined;
  held(): Promise<number | undefined>;
  eventMessages(reason: string): Promise<string[]>;
  stop(): Promise<void>;
}

async function harness(seed: object[], config: Record<string, unknown> = {}): Promise<Harness> {
  const server = await startFakeApiServer({
    calicoGroups: ['projectcalico.org/v3'],
    seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } }, ...seed] as never,
  });
  const kc = server.kubeConfig();
  const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
  const events = new NodeEventRecorder(kc, 'n1', { observer: metrics, logger: silentLogger, clock: systemClock });
  const agent = new Agent({
    config: validateConfig({ nodeName: 'n1', intervals: { debounceMilliseconds: 10, rescanSeconds: 3600, resyncSeconds: 3600, conflictScanSeconds: 0 }, ...config }),
    nodeName: 'n1',
    kc,
    discover: async () => [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])],
    metrics,
    events,
    logger: silentLogger,
    clock: systemClock,
    version: 'test',
  });
  agent.start();
  return {
    server,
    agent,
    events,
    hep: (name) => server.store.get(HEPS, name) as HostEndpoint | undefined,
    held: async () => {
      const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith('calico_hep_agent_drift{kind="policy-held"} '));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    },
    eventMessages: async (reason) => {
      await events.flush();
      return server.store.list('events', 'default').filter((e) => (e as { reason?: string }).reason === reason).map((e) => String((e as { message?: string }).message));
    },
    stop: async () => {
      await agent.stop();
      await server.close();
    },
  };
}

/** Both HEPs held: the drift gauge says 2 and no HEP exists. */
async function assertHeld(h: Harness, policy: string): Promise<void> {
  await waitFor('ready', () => h.agent.status().ready);
  await waitFor('policy-held drift = 2', async () => (await h.held()) === 2);
  assert.equal(h.hep('n1-eth0'), undefined);
  assert.equal(h.hep('n1-eth1'), undefined);
  const messages = await waitFor('a HostEndpointHeldByPolicyGuard Event', async () => {
    const m = await h.eventMessages('HostEndpointHeldByPolicyGuard');
    return m.length >= 2 ? m : undefined;
  });
  for (const m of messages) assert.match(m, new RegExp(`HostEndpoint n1-eth[01] not created: .*${policy}`), m);
}

async function assertCreated(h: Harness): Promise<void> {
  await waitFor('n1-eth0 and n1-eth1 created', () => h.hep('n1-eth0') && h.hep('n1-eth1'));
  await waitFor('no policy-held drift', async () => (await h.held()) === 0);
}

describe('policy guard in the agent (fake API server)', () => {
  const open: Harness[] = [];
  const start = async (seed: object[], config?: Record<string, unknown>) => {
    const h = await harness(seed, config);
    open.push(h);
    return h;
  };
  after(async () => {
    await Promise.all(open.map((h) => h.stop()));
  });

  test("Calico's pod default-deny (namespace not in {...}, Ingress+Egress): nothing created, drift and Event name it; deleting it creates the HEPs", async () => {
    const h = await start([podDefaultDeny()]);
    await assertHeld(h, 'default-deny');
    const [message] = await h.eventMessages('HostEndpointHeldByPolicyGuard');
    assert.match(message!, /ingress to the node on eth[01]: all traffic; failsafe ports stay open \(tcp:22, .*\): dropped by the end of tier default: policy default-deny selects the HostEndpoint/);
    // The guard reads what Felix reads, always (no requirePolicy needed).
    for (const resource of [GNPS, FCS]) {
      assert.ok(h.server.requests({ verb: 'list', resource }).length >= 1, `lists ${resource}`);
      assert.ok(h.server.requests({ verb: 'watch', resource }).length >= 1, `watches ${resource}`);
    }
    h.server.store.delete(GNPS, 'default-deny');
    await assertCreated(h);
    assert.deepEqual(h.hep('n1-eth0')!.spec.profiles, ['projectcalico-default-allow']);
  });

  test('an empty selector: held; opting the policy in by annotation creates the HEPs', async () => {
    const everything = gnp('everything', { selector: '', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] });
    const h = await start([everything]);
    await assertHeld(h, 'everything');
    h.server.store.put(gnp('everything', everything.spec, { [TRUST_ANNOTATION]: 'trusted' }) as never);
    await assertCreated(h);
  });

  test('!has(x): held; replacing it with a GNP that has only a namespaceSelector creates the HEPs (such a GNP selects no HEP)', async () => {
    const h = await start([gnp('no-x', { selector: '!has(x)', types: ['Egress'] })]);
    await assertHeld(h, 'no-x');
    h.server.store.put(gnp('pods-only', { namespaceSelector: 'all()', types: ['Ingress', 'Egress'] }) as never);
    h.server.store.delete(GNPS, 'no-x');
    await assertCreated(h);
  });

  test('a GNP with only a namespaceSelector selects no HEP: created at once', async () => {
    const h = await start([gnp('pods-only', { namespaceSelector: 'all()', types: ['Ingress', 'Egress'] })]);
    await assertCreated(h);
  });

  test('opting in by config (policyGuard.trustedPolicies glob): created with the pod default-deny present', async () => {
    const h = await start([podDefaultDeny()], { policyGuard: { trustedPolicies: ['default-*'] } });
    await assertCreated(h);
  });

  test('require-policy (the former requirePolicy: true) with no profile: held until policies decide both directions', async () => {
    const h = await start([], { requirePolicy: true, hostEndpoint: { profiles: [] } });
    await waitFor('policy-held drift = 2', async () => (await h.held()) === 2);
    h.server.store.put(gnp('masters', { selector: 'role == "master"', types: ['Ingress', 'Egress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] }) as never);
    await assertCreated(h);
    assert.deepEqual(h.hep('n1-eth0')!.spec.profiles ?? [], []);
  });
});
