// The policy guard's RBAC rule (deploy/rbac.yaml: list/watch of globalnetworkpolicies, tiers and
// felixconfigurations) is needed, not decoration: with it removed from the shipped ClusterRole, the
// policy list is denied and the agent creates no HEP (the guard holds while it cannot see the
// policies); with the shipped ClusterRole, nothing is denied and the HEP is created
// (test/deploy/rbac.test.ts proves the whole ClusterRole enough and no more).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NO_EVENTS } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { startFakeApiServer } from '../fake-apiserver/index.ts';
import type { PolicyRule } from '../fake-apiserver/rbac.ts';
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';
import { DEPLOY, find, kustomize, kustomizeSkipReason } from './render.ts';

const skip = await kustomizeSkipReason();
const SA_USER = 'system:serviceaccount:calico-hep-agent:calico-hep-agent';
const GNPS = 'globalnetworkpolicies.projectcalico.org';
const HEPS = 'hostendpoints.projectcalico.org';

async function runAgent(withoutGuardRule: boolean) {
  const clusterRole = find(await kustomize(DEPLOY), 'ClusterRole') as unknown as { rules: PolicyRule[] };
  const rules = clusterRole.rules.filter((r) => !(withoutGuardRule && r.resources?.includes('globalnetworkpolicies')));
  assert.equal(rules.length, clusterRole.rules.length - (withoutGuardRule ? 1 : 0), 'the shipped ClusterRole has the guard rule');
  const server = await startFakeApiServer({
    rbac: { clusterRole: [{ ...clusterRole, rules }], user: SA_USER },
    seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } }] as never,
  });
  const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
  const agent = new Agent({
    config: validateConfig({ nodeName: 'n1', intervals: { debounceMilliseconds: 10 } }),
    nodeName: 'n1',
    kc: server.kubeConfig(),
    discover: async () => [iface('eth0', ['192.0.2.10/24'])],
    metrics,
    events: NO_EVENTS,
    logger: silentLogger,
    clock: systemClock,
    version: 'test',
  });
  agent.start();
  const held = async () => (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith('calico_hep_agent_drift{kind="policy-held"} '));
  return { server, held, stop: async () => { await agent.stop(); await server.close(); } };
}

test('with the shipped ClusterRole: the guard reads the policies and the HEP is created, nothing denied', { skip: skip ?? false }, async () => {
  const h = await runAgent(false);
  try {
    await waitFor('HEP created', () => h.server.store.get(HEPS, 'n1-eth0'));
    assert.deepEqual(h.server.requestLog.filter((e) => e.denied).map((e) => `${e.verb} ${e.resource}`), []);
    assert.ok(h.server.requests({ verb: 'watch', resource: GNPS }).length >= 1);
  } finally {
    await h.stop();
  }
});

test('without the guard rule: listing GlobalNetworkPolicies is denied and no HEP is created', { skip: skip ?? false }, async () => {
  const h = await runAgent(true);
  try {
    await waitFor('a denied GNP list', () => h.server.requestLog.some((e) => e.denied && e.resource === GNPS));
    // A pass ran and reported the hold (policies unknown), and nothing was written.
    await waitFor('policy-held drift = 1', async () => (await h.held())?.endsWith(' 1'));
    assert.equal(h.server.store.get(HEPS, 'n1-eth0'), undefined);
    assert.equal(h.server.requests({ verb: 'create', resource: HEPS }).length, 0);
  } finally {
    await h.stop();
  }
});
