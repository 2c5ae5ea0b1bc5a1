// The policy guard in the running agent (issue 12), in-process on fake time against the fake API
// server: a HEP that a GlobalNetworkPolicy would turn from "allow everything" into "drop" is not
// written; the drift, the log and a Node Event name the policy; a policy change retries. The rescan
// and resync intervals are 1 h of fake time and each retry is checked to come before that: a write
// that happens after the start does so because of a policy watch event, not a timer.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import type { HostEndpoint } from '../../src/core/model.ts';
import { TRUST_ANNOTATION } from '../../src/core/policy/index.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.ts';
import { iface } from '../helpers/interfaces.ts';

const HEPS = 'hostendpoints.projectcalico.org';
const GNPS = 'globalnetworkpolicies.projectcalico.org';
const FCS = 'felixconfigurations.projectcalico.org';
const TIERS = 'tiers.projectcalico.org';
/** The harness's rescan and resync interval (fake time): retries must come before it. */
const INTERVAL_MS = 3_600_000;

function gnp(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name, ...(annotations ? { annotations } : {}) }, spec };
}

/** Calico's recommended cluster-wide pod default deny: it selects every HEP too (a HEP has no namespace label). */
const podDefaultDeny = (annotations?: Record<string, string>) =>
  gnp(
    'default-deny',
    { selector: 'projectcalico.org/namespace not in {"kube-system", "calico-system", "tigera-operator"}', types: ['Ingress', 'Egress'] },
    annotations,
  );

interface Harness {
  server: FakeApiServer;
  h: AgentHarness;
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
  const h = startAgent({ server, config, interfaces: [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])] });
  return {
    server,
    h,
    hep: (name) => server.store.get(HEPS, name) as HostEndpoint | undefined,
    held: () => h.metric('calico_hep_agent_drift', '{kind="policy-held"}'),
    eventMessages: async (reason) => {
      await h.events.flush();
      return server.store
        .list('events', 'default')
        .filter((e) => (e as { reason?: string }).reason === reason)
        .map((e) => String((e as { message?: string }).message));
    },
    stop: async () => {
      await h.stop();
      await server.close();
    },
  };
}

/** Both HEPs held: the drift gauge says 2, a Node Event per HEP names the policy, and no HEP exists, also after 10 minutes of fake time. */
async function assertHeld(t: Harness, policy: string): Promise<void> {
  await t.h.until('ready', () => t.h.agent.status().ready);
  await t.h.until('policy-held drift = 2', async () => (await t.held()) === 2);
  const messages = await t.h.until('a HostEndpointHeldByPolicyGuard Event per HEP', async () => {
    const m = await t.eventMessages('HostEndpointHeldByPolicyGuard');
    return m.length >= 2 ? m : undefined;
  });
  for (const m of messages) assert.match(m, new RegExp(`HostEndpoint n1-eth[01] not created: .*${policy}`), m);
  await t.h.advance(600_000);
  assert.equal(t.hep('n1-eth0'), undefined);
  assert.equal(t.hep('n1-eth1'), undefined);
  assert.equal(await t.held(), 2);
}

/** Both HEPs created by a policy change (a watch event), before any periodic rescan or resync. */
async function assertCreatedByWatch(t: Harness): Promise<void> {
  const from = t.h.clock.now();
  await t.h.until('n1-eth0 and n1-eth1 created', () => t.hep('n1-eth0') && t.hep('n1-eth1'));
  await t.h.until('no policy-held drift', async () => (await t.held()) === 0);
  assert.ok(t.h.clock.now() - from < INTERVAL_MS, 'retried on the policy watch event, not by a periodic rescan or resync');
}

describe('policy guard in the agent (fake API server, fake time)', () => {
  const open: Harness[] = [];
  const start = async (seed: object[], config?: Record<string, unknown>) => {
    const t = await harness(seed, config);
    open.push(t);
    return t;
  };
  after(async () => {
    await Promise.all(open.map((t) => t.stop()));
  });

  test("Calico's pod default-deny (namespace not in {...}, Ingress+Egress): nothing created, drift and Event name it; deleting it creates the HEPs", async () => {
    const t = await start([podDefaultDeny()]);
    await assertHeld(t, 'default-deny');
    const [message] = await t.eventMessages('HostEndpointHeldByPolicyGuard');
    assert.match(
      message!,
      /ingress to the node on eth[01]: all traffic; failsafe ports stay open \(tcp:22, .*\): dropped by the end of tier default: policy default-deny selects the HostEndpoint/,
    );
    // The guard reads what Felix reads, always (no requirePolicy needed), through the cluster view's watches.
    for (const resource of [GNPS, FCS, TIERS]) {
      assert.ok(t.server.requests({ verb: 'list', resource }).length >= 1, `lists ${resource}`);
      assert.ok(t.server.requests({ verb: 'watch', resource }).length >= 1, `watches ${resource}`);
    }
    t.server.store.delete(GNPS, 'default-deny');
    await assertCreatedByWatch(t);
    assert.deepEqual(t.hep('n1-eth0')!.spec.profiles, ['projectcalico-default-allow']);
  });

  test('an empty selector: held; opting the policy in by annotation creates the HEPs', async () => {
    const everything = gnp('everything', { selector: '', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] });
    const t = await start([everything]);
    await assertHeld(t, 'everything');
    t.server.store.put(gnp('everything', everything.spec, { [TRUST_ANNOTATION]: 'trusted' }));
    await assertCreatedByWatch(t);
  });

  test('!has(x): held; replacing it with a GNP that has only a namespaceSelector creates the HEPs (such a GNP selects no HEP)', async () => {
    const t = await start([gnp('no-x', { selector: '!has(x)', types: ['Egress'] })]);
    await assertHeld(t, 'no-x');
    t.server.store.put(gnp('pods-only', { namespaceSelector: 'all()', types: ['Ingress', 'Egress'] }));
    t.server.store.delete(GNPS, 'no-x');
    await assertCreatedByWatch(t);
  });

  test('a GNP with only a namespaceSelector selects no HEP: created at once', async () => {
    const t = await start([gnp('pods-only', { namespaceSelector: 'all()', types: ['Ingress', 'Egress'] })]);
    await assertCreatedByWatch(t);
    assert.deepEqual(await t.eventMessages('HostEndpointHeldByPolicyGuard'), []);
  });

  test('opting in by config (policyGuard.trustedPolicies glob): created with the pod default-deny present', async () => {
    const t = await start([podDefaultDeny()], { policyGuard: { trustedPolicies: ['default-*'] } });
    await assertCreatedByWatch(t);
  });

  test('require-policy (the former requirePolicy: true) with no profile: held until policies decide both directions', async () => {
    const t = await start([], { requirePolicy: true, hostEndpoint: { profiles: [] } });
    await t.h.until('policy-held drift = 2', async () => (await t.held()) === 2);
    await t.h.advance(600_000);
    assert.equal(t.hep('n1-eth0'), undefined);
    t.server.store.put(
      gnp('masters', {
        selector: 'role == "master"',
        types: ['Ingress', 'Egress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }],
      }),
    );
    await assertCreatedByWatch(t);
    assert.deepEqual(t.hep('n1-eth0')!.spec.profiles ?? [], []);
  });

  test('deleting the policies later deletes nothing: the guard only holds writes, never removes HEPs', async () => {
    const t = await start([gnp('pods-only', { namespaceSelector: 'all()', types: ['Ingress', 'Egress'] })], {
      requirePolicy: true,
      hostEndpoint: { profiles: [] },
    });
    await t.h.until('policy-held drift = 2', async () => (await t.held()) === 2);
    t.server.store.put(
      gnp('masters', {
        selector: 'role == "master"',
        types: ['Ingress', 'Egress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }],
      }),
    );
    await assertCreatedByWatch(t);
    t.server.store.delete(GNPS, 'masters');
    await t.h.advance(2 * INTERVAL_MS);
    assert.ok(t.hep('n1-eth0') && t.hep('n1-eth1'), 'existing HEPs stay');
    assert.equal(await t.held(), 0, 'nothing left to write: nothing held');
  });
});
