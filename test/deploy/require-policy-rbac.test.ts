// The require-policy component grants exactly what the lockout guard adds: with it, an agent with
// requirePolicy: true runs as the service account with nothing denied; without it, the
// GlobalNetworkPolicy list is refused (so the component is needed, not decoration).
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
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';
import { find, kustomizeSkipReason, kustomizeWith } from './render.ts';
import { apiClient } from '../helpers/api-client.ts';

const skip = await kustomizeSkipReason();
const SA_USER = 'system:serviceaccount:calico-hep-agent:calico-hep-agent';
const GNPS = 'globalnetworkpolicies.projectcalico.org';

async function runGuardedAgent(components: string[]) {
  const clusterRole = find(await kustomizeWith(components), 'ClusterRole');
  const server = await startFakeApiServer({
    rbac: { clusterRole: [clusterRole], user: SA_USER },
    seed: [
      { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } },
      { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name: 'masters' }, spec: { selector: 'role == "master"', ingress: [{ action: 'Allow' }] } },
    ] as never,
  });
  const agent = new Agent({
    config: validateConfig({ nodeName: 'n1', requirePolicy: true, hostEndpoint: { profiles: [] }, intervals: { debounceMilliseconds: 10 } }),
    nodeName: 'n1',
    client: apiClient(server),
    discover: async () => [iface('eth0', ['192.0.2.10/24'])],
    metrics: new AgentMetrics(new Registry(), { defaultMetrics: false }),
    events: NO_EVENTS,
    logger: silentLogger,
    clock: systemClock,
    version: 'test',
  });
  agent.start();
  return { server, agent, stop: async () => { await agent.stop(); await server.close(); } };
}

test('with components/require-policy: the guarded agent works and nothing is denied', { skip: skip ?? false }, async () => {
  const h = await runGuardedAgent(['components/require-policy']);
  try {
    await waitFor('HEP created once the policy is seen', () => h.server.store.get('hostendpoints.projectcalico.org', 'n1-eth0'));
    assert.deepEqual(h.server.requestLog.filter((e) => e.denied), []);
    assert.ok(h.server.requests({ verb: 'watch', resource: GNPS }).length >= 1);
  } finally {
    await h.stop();
  }
});

test('without it: listing GlobalNetworkPolicies is denied and no HEP is created', { skip: skip ?? false }, async () => {
  const h = await runGuardedAgent([]);
  try {
    await waitFor('a denied GNP list', () => h.server.requestLog.some((e) => e.denied && e.resource === GNPS));
    assert.equal(h.server.store.get('hostendpoints.projectcalico.org', 'n1-eth0'), undefined);
  } finally {
    await h.stop();
  }
});
