// The lockout guard (requirePolicy) in the running agent, in-process against the fake API server:
// HEPs without the default-allow profile appear only once a GlobalNetworkPolicy selects them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NodeEventRecorder } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HostEndpoint } from '../../src/core/model.ts';
import { silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiClient } from '../helpers/api-client.ts';

const HEPS = 'hostendpoints.projectcalico.org';
const GNPS = 'globalnetworkpolicies.projectcalico.org';

function gnp(name: string, selector: string, extra: Record<string, unknown> = {}) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { selector, ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }], ...extra } };
}

describe('agent with requirePolicy against the fake API server', () => {
  let server: FakeApiServer;
  let agent: Agent;
  let metrics: AgentMetrics;
  const hep = (name: string) => server.store.get(HEPS, name) as HostEndpoint | undefined;
  const unguarded = async () => {
    const line = (await metrics.registry.metrics()).split('\n').find((l) => l.startsWith('calico_hep_agent_drift{kind="unguarded"} '));
    return line === undefined ? undefined : Number(line.split(' ')[1]);
  };

  before(async () => {
    server = await startFakeApiServer({
      calicoGroups: ['projectcalico.org/v3'],
      seed: [
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } },
        // Selects nobody this agent makes: does not count.
        gnp('workers', 'role == "worker"'),
      ] as never,
    });
    const config = validateConfig({
      nodeName: 'n1',
      requirePolicy: true,
      hostEndpoint: { profiles: [] },
      interfaceRules: [{ name: 'external', match: { names: ['eth0'] }, labels: { type: 'external' } }],
      intervals: { debounceMilliseconds: 10, rescanSeconds: 3600, resyncSeconds: 3600 },
    });
    metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
    const kc = apiClient(server, metrics);
    agent = new Agent({
      config,
      nodeName: 'n1',
      client: kc,
      discover: async () => [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])],
      metrics,
      events: new NodeEventRecorder(kc, 'n1', { logger: silentLogger, clock: systemClock }),
      logger: silentLogger,
      clock: systemClock,
      version: 'test',
    });
    agent.start();
  });
  after(async () => {
    await agent.stop();
    await server.close();
  });

  test('no policy selects them: nothing is created, drift unguarded = 2, still ready', async () => {
    await waitFor('ready', () => agent.status().ready);
    await waitFor('unguarded drift', async () => (await unguarded()) === 2);
    assert.equal(hep('n1-eth0'), undefined);
    assert.equal(hep('n1-eth1'), undefined);
    assert.ok(server.requests({ verb: 'list', resource: GNPS }).length >= 1, 'lists GlobalNetworkPolicies');
    assert.ok(server.requests({ verb: 'watch', resource: GNPS }).length >= 1, 'watches them');
  });

  test('a policy for the external interface arrives by watch: that HEP is created, the other still held back', async () => {
    server.store.put(gnp('masters-external', 'role == "master" && type == "external"') as never);
    await waitFor('n1-eth0 created', () => hep('n1-eth0'));
    assert.deepEqual(hep('n1-eth0')!.spec.profiles ?? [], []);
    await waitFor('unguarded drift 1', async () => (await unguarded()) === 1);
    assert.equal(hep('n1-eth1'), undefined);
  });

  test('a policy for every master interface: the rest is created; deleting the policies deletes nothing', async () => {
    server.store.put(gnp('masters', 'role == "master"', { preDNAT: true, applyOnForward: true }) as never);
    await waitFor('n1-eth1 created', () => hep('n1-eth1'));
    await waitFor('no unguarded drift', async () => (await unguarded()) === 0);
    server.store.delete(GNPS, 'masters');
    server.store.delete(GNPS, 'masters-external');
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(hep('n1-eth0') && hep('n1-eth1'), 'existing HEPs stay: the guard only withholds creation');
    assert.equal(await unguarded(), 0);
  });
});
