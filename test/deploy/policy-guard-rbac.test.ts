// The policy guard's RBAC rule (deploy/rbac.yaml: list/watch of globalnetworkpolicies, tiers and
// felixconfigurations, which the cluster view watches always) is needed, not decoration: with it removed from the shipped ClusterRole, the
// policy list is denied and the agent creates no HEP (the guard holds while it cannot see the
// policies); with the shipped ClusterRole, nothing is denied and the HEP is created
// (test/deploy/rbac.test.ts proves the whole ClusterRole enough and no more).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startFakeApiServer } from '../fake-apiserver/index.ts';
import type { PolicyRule } from '../fake-apiserver/rbac.ts';
import { startAgent } from '../helpers/agent-harness.ts';
import { iface } from '../helpers/interfaces.ts';
import { DEPLOY, find, kustomize, kustomizeSkipReason } from './render.ts';
import { prereq } from '../helpers/prereq.ts';

const skip = prereq(await kustomizeSkipReason());
const SA_USER = 'system:serviceaccount:calico-hep-agent:calico-hep-agent';
const GNPS = 'globalnetworkpolicies.projectcalico.org';
const HEPS = 'hostendpoints.projectcalico.org';

/** The agent in-process on fake time (test/helpers/agent-harness.ts), as the service account. */
async function runAgent(withoutGuardRule: boolean) {
  const clusterRole = find(await kustomize(DEPLOY), 'ClusterRole') as unknown as { rules: PolicyRule[] };
  const rules = clusterRole.rules.filter((r) => !(withoutGuardRule && r.resources?.includes('globalnetworkpolicies')));
  assert.equal(rules.length, clusterRole.rules.length - (withoutGuardRule ? 1 : 0), 'the shipped ClusterRole has the guard rule');
  const server = await startFakeApiServer({
    rbac: { clusterRole: [{ ...clusterRole, rules }], user: SA_USER },
    seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } }] as never,
  });
  const h = startAgent({ server, interfaces: [iface('eth0', ['192.0.2.10/24'])] });
  const held = () => h.metric('calico_hep_agent_drift', '{kind="policy-held"}');
  return { server, h, held, stop: async () => { await h.stop(); await server.close(); } };
}

test('with the shipped ClusterRole: the guard reads the policies and the HEP is created, nothing denied', { skip }, async () => {
  const t = await runAgent(false);
  try {
    await t.h.until('HEP created', () => t.server.store.get(HEPS, 'n1-eth0'));
    assert.deepEqual(t.server.requestLog.filter((e) => e.denied).map((e) => `${e.verb} ${e.resource}`), []);
    assert.ok(t.server.requests({ verb: 'watch', resource: GNPS }).length >= 1);
  } finally {
    await t.stop();
  }
});

test('without the guard rule: listing GlobalNetworkPolicies is denied, no HEP is created, and readiness names the resource', { skip }, async () => {
  const t = await runAgent(true);
  try {
    await t.h.until('a denied GNP list', () => t.server.requestLog.some((e) => e.denied && e.resource === GNPS));
    // A pass ran and reported the hold (policies unknown), and nothing was written.
    await t.h.until('policy-held drift = 1', async () => (await t.held()) === 1);
    await t.h.advance(600_000);
    assert.equal(t.server.store.get(HEPS, 'n1-eth0'), undefined);
    assert.equal(t.server.requests({ verb: 'create', resource: HEPS }).length, 0);
    const status = t.h.agent.status();
    assert.equal(status.ready, false);
    assert.ok(status.forbidden.includes('globalnetworkpolicies'), status.forbidden.join(','));
    assert.ok((await t.h.metric('calico_hep_agent_reconciles_total', '{result="error"}'))! >= 1, 'counted as a failed reconcile');
    assert.match(status.lastError ?? '', /globalnetworkpolicies.*403/);
  } finally {
    await t.stop();
  }
});
