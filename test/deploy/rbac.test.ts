// The shipped RBAC is enough and no more: the agent runs in-process against the fake API server as
// the DaemonSet's service account, with the rendered ClusterRole and Role enforced, through a
// scenario that exercises every kind of request it makes. No request may be denied, every request
// must be granted by a rule in the right scope (the Role only in the agent's namespace), and every
// verb of every rule must have been used.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { parse } from 'yaml';
import { readNodeFacts } from '../../src/adapters/kube/nodes.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NodeEventRecorder } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { HostEndpoint, NetInterface } from '../../src/core/model.ts';
import { createLogger, silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { ruleAllows, type PolicyRule } from '../fake-apiserver/rbac.ts';
import { startFakeApiServer, type FakeApiServer, type RequestLogEntry } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';
import { DEPLOY, find, kustomize, kustomizeSkipReason } from './render.ts';
import { apiClient } from '../helpers/api-client.ts';

const skip = await kustomizeSkipReason();
const NS = 'calico-hep-agent';
const SA_USER = `system:serviceaccount:${NS}:calico-hep-agent`;
const V3 = 'hostendpoints.projectcalico.org';
const MANAGED = { 'app.kubernetes.io/managed-by': 'calico-hep-agent' };

interface Role { metadata: { name: string; namespace?: string }; rules: PolicyRule[] }

/** kind/group/resource of a fake-apiserver log entry: "hostendpoints.projectcalico.org" -> group projectcalico.org. */
function groupResource(entry: RequestLogEntry): { group: string; resource: string } {
  const r = entry.resource ?? '';
  const dot = r.indexOf('.');
  return dot < 0 ? { group: '', resource: r } : { group: r.slice(dot + 1), resource: r.slice(0, dot) };
}

describe('RBAC: the rendered ClusterRole and Role against what the agent really calls', { skip: skip ?? false }, () => {
  let server: FakeApiServer;
  let clusterRole: Role;
  let role: Role;
  let agent: Agent;
  let events: NodeEventRecorder;
  let interfaces: NetInterface[] = [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])];
  const hep = (name: string) => server.store.get(V3, name) as HostEndpoint | undefined;

  before(async () => {
    const objects = await kustomize(DEPLOY);
    clusterRole = find(objects, 'ClusterRole') as unknown as Role;
    role = find(objects, 'Role') as unknown as Role;
    assert.equal(role.metadata.namespace, NS);
    // The fake server knows ClusterRoles only: it enforces the union, and the test below checks
    // that everything granted by the Role happened in the Role's namespace.
    server = await startFakeApiServer({
      namespaces: ['default', 'kube-system', NS],
      rbac: { clusterRole: [clusterRole, { kind: 'ClusterRole', metadata: { name: 'role-as-cluster-role' }, rules: role.rules }], user: SA_USER },
      seed: [
        { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } } },
        { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name: 'gone-eth0', labels: { ...MANAGED } }, spec: { node: 'gone', interfaceName: 'eth0' } },
      ] as never,
    });
    const shipped = parse(await readFile(join(DEPLOY, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    const config = validateConfig({
      ...shipped,
      nodeName: 'n1',
      intervals: { debounceMilliseconds: 10, removalGraceSeconds: 1, rescanSeconds: 3600, resyncSeconds: 3600 },
      prune: { sweep: true, intervalSeconds: 3600 },
    });
    const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
    const kc = apiClient(server, metrics);
    events = new NodeEventRecorder(kc, 'n1', { logger: silentLogger, clock: systemClock });
    agent = new Agent({
      config,
      nodeName: 'n1',
      client: kc,
      discover: async () => interfaces,
      metrics,
      events,
      logger: process.env['AGENT_TEST_LOGS'] ? createLogger('debug', process.stderr) : silentLogger,
      clock: systemClock,
      version: 'test',
      leaseNamespace: NS,
    });
    agent.start();
  });

  after(async () => {
    await agent?.stop();
    await server?.close();
  });

  test('scenario: create, repair, label change, interface removal, Events, the prune sweep, plan', async () => {
    // Start: list+watch Node and HEPs, scan all HEPs, GET the desired names, create.
    await waitFor('HEPs created', () => hep('n1-eth0') && hep('n1-eth1'));
    assert.equal(hep('n1-eth0')?.metadata.labels?.['role'], 'master', 'the shipped config derives role=master');
    await waitFor('ready', () => agent.status().ready);
    // A managed HEP deleted behind the agent's back: re-created; the repeated "created" Event is a patch.
    server.store.delete(V3, 'n1-eth1');
    await waitFor('re-created', () => hep('n1-eth1'));
    // A Node label change: update.
    server.store.put({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '', zone: 'z1' } } } as never);
    await waitFor('labels updated', () => hep('n1-eth0')?.metadata.labels?.['zone'] === 'z1');
    // An interface gone for longer than the grace period: delete.
    interfaces = [iface('eth0', ['192.0.2.10/24'])];
    agent.kernelChanged('test');
    await waitFor('stale HEP deleted', () => hep('n1-eth1') === undefined, 10_000);
    // The sweep: the first run creates the Lease and prunes; the second renews it (get + update).
    await agent.sweepNow();
    assert.equal(hep('gone-eth0'), undefined, 'the orphan was pruned');
    await agent.sweepNow();
    const lease = server.store.get('leases.coordination.k8s.io', 'calico-hep-agent-prune', NS) as { spec?: { holderIdentity?: string } } | undefined;
    assert.equal(lease?.spec?.holderIdentity, 'n1');
    // `calico-hep-agent plan` in the pod reads its Node with a GET.
    const facts = await readNodeFacts(apiClient(server), 'n1');
    assert.equal(facts?.labels['zone'], 'z1');
    await events.flush();
  });

  test('no request was denied, and each was granted by a rule in its scope', () => {
    const mine = server.requestLog.filter((e) => e.user === SA_USER);
    assert.ok(mine.length > 10, 'the scenario ran as the service account');
    assert.deepEqual(mine.filter((e) => e.denied === true || e.code === 403).map((e) => `${e.verb} ${e.resource} ${e.name ?? ''}`), []);
    // Discovery (GET /apis) is open to every authenticated user through the system:discovery
    // ClusterRole that every cluster has; it needs no rule of ours.
    const discovery = mine.filter((e) => e.verb === 'discovery');
    assert.ok(discovery.length > 0, 'the agent discovered the Calico API');
    for (const e of mine.filter((x) => x.verb !== 'discovery')) {
      const attrs = { verb: e.verb, ...groupResource(e), ...(e.name !== undefined ? { name: e.name } : {}), ...(e.namespace !== undefined ? { namespace: e.namespace } : {}) };
      const byClusterRole = clusterRole.rules.some((r) => ruleAllows(r, attrs));
      const byRole = e.namespace === role.metadata.namespace && role.rules.some((r) => ruleAllows(r, attrs));
      assert.ok(byClusterRole || byRole, `${e.method} ${e.path}: not granted in its scope`);
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
              if (!used) unused.push(`${source}: ${verb} ${resource}${group ? `.${group}` : ''}`);
            }
          }
        }
      }
    };
    check('ClusterRole', clusterRole.rules);
    check('Role', role.rules, role.metadata.namespace);
    assert.deepEqual(unused, []);
  });
});
