// The shipped RBAC is enough and no more: the agent runs in-process against the fake API server as
// the DaemonSet's service account, with the rendered ClusterRole and Role enforced, through a
// scenario that exercises every kind of request it makes. No request may be denied, every request
// must be granted by a rule of the ClusterRole, and every verb of every rule must have been used
// (except on resources this fake server does not serve).
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { readNodeFacts } from '../../src/adapters/kube/nodes.ts';
import type { HostEndpoint, NetInterface } from '../../src/core/model.ts';
import { ruleAllows, type PolicyRule } from '../fake-apiserver/rbac.ts';
import { startFakeApiServer, type FakeApiServer, type RequestLogEntry } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';
import { startAgent, type AgentHarness } from '../helpers/agent-harness.ts';
import { DEPLOY, find, kustomize, kustomizeSkipReason } from './render.ts';
import { apiClient } from '../helpers/api-client.ts';
import { prereq } from '../helpers/prereq.ts';

const skip = prereq(await kustomizeSkipReason());
const NS = 'calico-hep-agent';
const SA_USER = `system:serviceaccount:${NS}:calico-hep-agent`;
const V3 = 'hostendpoints.projectcalico.org';
/** Granted, read by the agent, but not served by this fake server (a 404 answers before RBAC). */
const NOT_SERVED = ['tiers', 'stagedglobalnetworkpolicies'];
const MANAGED = { 'app.kubernetes.io/managed-by': 'calico-hep-agent' };

interface Role { metadata: { name: string; namespace?: string }; rules: PolicyRule[] }

/** kind/group/resource of a fake-apiserver log entry: "hostendpoints.projectcalico.org" -> group projectcalico.org. */
function groupResource(entry: RequestLogEntry): { group: string; resource: string } {
  const r = entry.resource ?? '';
  const dot = r.indexOf('.');
  return dot < 0 ? { group: '', resource: r } : { group: r.slice(dot + 1), resource: r.slice(0, dot) };
}

describe('RBAC: the rendered ClusterRole and Role against what the agent really calls', { skip }, () => {
  let server: FakeApiServer;
  let clusterRole: Role;
  let h: AgentHarness;
  const interfaces: NetInterface[] = [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])];
  const hep = (name: string) => server.store.get(V3, name) as HostEndpoint | undefined;

  before(async () => {
    const objects = await kustomize(DEPLOY);
    clusterRole = find(objects, 'ClusterRole') as unknown as Role;
    assert.equal(objects.filter((o) => o.kind === 'Role').length, 0, 'no namespaced Role: the prune sweep left the node agent');
    server = await startFakeApiServer({
      namespaces: ['default', 'kube-system', NS],
      rbac: { clusterRole: [clusterRole], user: SA_USER },
      seed: [
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } } },
        { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'gone-eth0', labels: { ...MANAGED } }, spec: { node: 'gone', interfaceName: 'eth0' } },
      ] as never,
    });
    const shipped = parse(await readFile(join(DEPLOY, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    h = startAgent({
      server,
      config: {
        ...shipped,
        nodeName: 'n1',
        intervals: { debounceMilliseconds: 100, removalGraceSeconds: 1, rescanSeconds: 3600, resyncSeconds: 3600 },
      },
      interfaces,
      kc: server.kubeConfig(), // the service account's token, RBAC-checked
    });
  });

  after(async () => {
    await h?.stop();
    await server?.close();
  });

  test('scenario: create, repair, label change, interface removal, write conflict, Events, plan', async () => {
    // Start: discovery, list+watch of the Node, this node's HEPs, unmanaged HEPs, the policy objects; create.
    await h.until('HEPs created', () => hep('n1-eth0') && hep('n1-eth1'));
    assert.equal(hep('n1-eth0')?.metadata.labels?.['role'], 'master', 'the shipped config derives role=master');
    await h.until('ready', () => h.agent.status().ready);
    // A managed HEP deleted behind the agent's back: re-created; the repeated "created" Event is a patch.
    server.store.delete(V3, 'n1-eth1');
    await h.until('re-created', () => hep('n1-eth1'));
    // A Node label change: update.
    server.store.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '', zone: 'z1' } } });
    await h.until('labels updated', () => hep('n1-eth0')?.metadata.labels?.['zone'] === 'z1');
    // Someone removes our node label: the HEP leaves the managed watch, our create gets 409
    // AlreadyExists, the agent re-reads it with a GET and repairs it in place.
    const stray = structuredClone(hep('n1-eth1')!);
    delete stray.metadata.labels!['calico-hep-agent.io/node'];
    server.store.put(stray as never);
    await h.until('label restored', () => hep('n1-eth1')?.metadata.labels?.['calico-hep-agent.io/node'] !== undefined && server.requests({ verb: 'get', resource: V3 }).length > 0);
    // An interface gone for longer than the grace period: delete.
    h.setInterfaces([iface('eth0', ['192.0.2.10/24'])]);
    await h.until('stale HEP deleted', () => hep('n1-eth1') === undefined);
    // `calico-hep-agent plan` in the pod reads its Node with a GET.
    const facts = await readNodeFacts(apiClient(server), 'n1');
    assert.equal(facts?.labels['zone'], 'z1');
    await h.events.flush();
  });

  test('no request was denied, and each was granted by a rule', () => {
    const mine = server.requestLog.filter((e) => e.user === SA_USER);
    assert.ok(mine.length > 10, 'the scenario ran as the service account');
    assert.deepEqual(mine.filter((e) => e.denied === true || e.code === 403).map((e) => `${e.verb} ${e.resource} ${e.name ?? ''}`), []);
    // Discovery (GET /apis) is open to every authenticated user through the system:discovery
    // ClusterRole that every cluster has; it needs no rule of ours.
    const discovery = mine.filter((e) => e.verb === 'discovery');
    assert.ok(discovery.length > 0, 'the agent discovered the Calico API');
    const unserved = (e: RequestLogEntry) => e.code === 404 && NOT_SERVED.some((r) => e.path.endsWith(`/${r}`));
    for (const e of mine.filter((x) => x.verb !== 'discovery' && !unserved(x))) {
      const attrs = { verb: e.verb, ...groupResource(e), ...(e.name !== undefined ? { name: e.name } : {}), ...(e.namespace !== undefined ? { namespace: e.namespace } : {}) };
      assert.ok(clusterRole.rules.some((r) => ruleAllows(r, attrs)), `${e.method} ${e.path}: not granted`);
    }
  });

  test('least privilege: every verb of every rule was used', () => {
    const mine = server.requestLog.filter((e) => e.user === SA_USER && e.verb !== 'discovery');
    const unused: string[] = [];
    const check = (source: string, rules: PolicyRule[], namespace?: string) => {
      for (const rule of rules) {
        for (const verb of rule.verbs) {
          for (const group of rule.apiGroups ?? []) {
            for (const resource of rule.resources ?? []) {
              const used = mine.some((e) => {
                const gr = groupResource(e);
                return e.verb === verb && gr.group === group && gr.resource === resource
                  && (namespace === undefined || e.namespace === namespace)
                  && (rule.resourceNames === undefined || rule.resourceNames.includes(e.name ?? ''));
              });
              if (!used && !NOT_SERVED.includes(resource)) unused.push(`${source}: ${verb} ${resource}${group ? `.${group}` : ''}`);
            }
          }
        }
      }
    };
    check('ClusterRole', clusterRole.rules);
    assert.deepEqual(unused, []);
  });
});
