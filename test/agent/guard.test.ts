// The lockout guard (requirePolicy) in the running agent, in-process on fake time against the fake
// API server: HEPs without the default-allow profile appear only once a GlobalNetworkPolicy selects them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { HostEndpoint } from '../../src/core/model.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.ts';
import { iface } from '../helpers/interfaces.ts';

const HEPS = 'hostendpoints.projectcalico.org';
const GNPS = 'globalnetworkpolicies.projectcalico.org';

function gnp(name: string, selector: string, extra: Record<string, unknown> = {}) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name }, spec: { selector, ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }], ...extra } };
}

describe('agent with requirePolicy against the fake API server', () => {
  let server: FakeApiServer;
  let h: AgentHarness;
  const hep = (name: string) => server.store.get(HEPS, name) as HostEndpoint | undefined;
  const unguarded = () => h.metric('calico_hep_agent_drift', '{kind="unguarded"}');

  before(async () => {
    server = await startFakeApiServer({
      calicoGroups: ['projectcalico.org/v3'],
      seed: [
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } },
        // Selects nobody this agent makes: does not count.
        gnp('workers', 'role == "worker"'),
      ] as never,
    });
    h = startAgent({
      server,
      config: {
        requirePolicy: true,
        hostEndpoint: { profiles: [] },
        interfaceRules: [{ name: 'external', match: { names: ['eth0'] }, labels: { type: 'external' } }],
      },
      interfaces: [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])],
    });
  });
  after(async () => {
    await h.stop();
    await server.close();
  });

  test('no policy selects them: nothing is created, drift unguarded = 2, still ready', async () => {
    await h.until('ready', () => h.agent.status().ready);
    await h.until('unguarded drift', async () => (await unguarded()) === 2);
    assert.equal(hep('n1-eth0'), undefined);
    assert.equal(hep('n1-eth1'), undefined);
    assert.ok(server.requests({ verb: 'list', resource: GNPS }).length >= 1, 'lists GlobalNetworkPolicies');
    assert.ok(server.requests({ verb: 'watch', resource: GNPS }).length >= 1, 'watches them');
  });

  test('a policy for the external interface arrives by watch: that HEP is created, the other still held back', async () => {
    server.store.put(gnp('masters-external', 'role == "master" && type == "external"') as never);
    await h.until('n1-eth0 created', () => hep('n1-eth0'));
    assert.deepEqual(hep('n1-eth0')!.spec.profiles ?? [], []);
    await h.until('unguarded drift 1', async () => (await unguarded()) === 1);
    assert.equal(hep('n1-eth1'), undefined);
  });

  test('a policy for every master interface: the rest is created; deleting the policies deletes nothing', async () => {
    server.store.put(gnp('masters', 'role == "master"', { preDNAT: true, applyOnForward: true }) as never);
    await h.until('n1-eth1 created', () => hep('n1-eth1'));
    await h.until('no unguarded drift', async () => (await unguarded()) === 0);
    server.store.delete(GNPS, 'masters');
    server.store.delete(GNPS, 'masters-external');
    await h.advance(600_000);
    assert.ok(hep('n1-eth0') && hep('n1-eth1'), 'existing HEPs stay: the guard only withholds creation');
    assert.equal(await unguarded(), 0);
  });
});
