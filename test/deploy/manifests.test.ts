// deploy/ renders with kustomize into objects a cluster accepts, and the DaemonSet, RBAC, config and
// admission policy carry the settings docs/install.md promises, field by field.
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.ts';
import { parseSelector } from '../../src/core/selector/index.ts';
import { DEPLOY, ROOT, find, kustomize, kustomizeSkipReason, kustomizeWith, parseObjects, type KubeObject } from './render.ts';
import { prereq } from '../helpers/prereq.ts';
import type { V1ClusterRole, V1ClusterRoleBinding, V1ConfigMap, V1Container, V1DaemonSet, V1PodSpec, V1ResourceQuota, V1ValidatingAdmissionPolicy, V1ValidatingAdmissionPolicyBinding } from '@kubernetes/client-node';

const skip = prereq(await kustomizeSkipReason());
if (skip !== false) console.log(`# skipping kustomize rendering tests: ${skip}`);
const NS = 'calico-hep-agent';
const SA_USER = `system:serviceaccount:${NS}:calico-hep-agent`;

/** apiVersion/kind pairs we ship, and whether the kind is namespaced. */
const KNOWN: Record<string, boolean> = {
  'v1/Namespace': false,
  'v1/ServiceAccount': true,
  'v1/ConfigMap': true,
  'v1/ResourceQuota': true,
  'rbac.authorization.k8s.io/v1/ClusterRole': false,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': false,
  'rbac.authorization.k8s.io/v1/Role': true,
  'rbac.authorization.k8s.io/v1/RoleBinding': true,
  'apps/v1/DaemonSet': true,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': false,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': false,
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function validLabelKey(key: string): boolean {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  return (prefix === undefined || (prefix.length <= 253 && DNS1123_SUBDOMAIN.test(prefix))) && name.length <= 63 && LABEL_NAME.test(name);
}

/** Structural checks every rendered object must pass, as the API server's ObjectMeta validation would. */
function checkObject(o: KubeObject): void {
  const id = `${o.kind}/${o.metadata?.name}`;
  const gvk = `${o.apiVersion}/${o.kind}`;
  assert.ok(gvk in KNOWN, `${id}: unknown apiVersion/kind ${gvk}`);
  const name = o.metadata.name;
  assert.equal(typeof name, 'string', `${id}: metadata.name`);
  // Namespaces and the DaemonSet (its pods' hostnames/labels) need DNS-1123 labels; the rest subdomains.
  const nameRule = ['Namespace', 'DaemonSet'].includes(o.kind) ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
  assert.ok(nameRule.test(name) && name.length <= (nameRule === DNS1123_LABEL ? 63 : 253), `${id}: invalid name`);
  if (KNOWN[gvk]) assert.equal(o.metadata.namespace, NS, `${id}: namespaced objects live in ${NS}`);
  else assert.equal(o.metadata.namespace, undefined, `${id}: cluster-scoped objects have no namespace`);
  for (const [k, v] of Object.entries(o.metadata.labels ?? {})) {
    assert.ok(validLabelKey(k), `${id}: label key ${k}`);
    assert.ok(typeof v === 'string' && v.length <= 63 && LABEL_VALUE.test(v), `${id}: label value ${k}=${v}`);
  }
  assert.equal(o.metadata.labels?.['app.kubernetes.io/part-of'], 'calico-hep-agent', `${id}: part-of label`);
}

/** A rendered object read as the Kubernetes type of its kind (the shapes of @kubernetes/client-node). */
const as = <T>(o: unknown): T => o as T;

describe('deploy/ rendered by kustomize', { skip }, () => {
  let objects: KubeObject[];
  let ds: V1DaemonSet;
  let pod: V1PodSpec;
  let agent: V1Container;
  before(async () => {
    objects = await kustomize(DEPLOY);
    ds = as<V1DaemonSet>(find(objects, 'DaemonSet', 'calico-hep-agent'));
    pod = ds.spec!.template.spec!;
    agent = pod.containers[0]!;
  });

  test('renders exactly the expected objects, each structurally valid and unique', () => {
    assert.deepEqual(
      objects.map((o) => o.kind).sort(),
      ['ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'DaemonSet', 'Namespace', 'ResourceQuota', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'],
    );
    for (const o of objects) checkObject(o);
    const ids = objects.map((o) => `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
    assert.equal(new Set(ids).size, ids.length, 'no duplicates');
    assert.ok(!objects.some((o) => /GlobalNetworkPolicy|PodMonitor|PrometheusRule/.test(o.kind)), 'examples and monitoring are not in the default install');
  });

  test('every reference resolves: service account, ConfigMap, roles, bindings, policy', () => {
    const sa = find(objects, 'ServiceAccount');
    assert.equal(pod['serviceAccountName'], sa.metadata.name);
    const cm = find(objects, 'ConfigMap');
    assert.match(cm.metadata.name, /^calico-hep-agent-config-[a-z0-9]{10}$/, 'configMapGenerator hash suffix: a config change rolls the pods');
    assert.equal(pod.volumes![0]!.configMap!.name, cm.metadata.name);
    for (const kind of ['ClusterRoleBinding']) {
      const b = as<V1ClusterRoleBinding>(find(objects, kind));
      assert.ok(find(objects, b.roleRef.kind, b.roleRef.name));
      assert.equal(b.roleRef.apiGroup, 'rbac.authorization.k8s.io');
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NS }]);
    }
    const binding = as<V1ValidatingAdmissionPolicyBinding>(find(objects, 'ValidatingAdmissionPolicyBinding'));
    assert.equal(binding.spec.policyName, find(objects, 'ValidatingAdmissionPolicy').metadata.name);
    assert.deepEqual(binding.spec.validationActions, ['Deny']);
    const quota = as<V1ResourceQuota>(find(objects, 'ResourceQuota'));
    assert.deepEqual(quota.spec!.scopeSelector!.matchExpressions![0]!.values, [pod.priorityClassName]);
  });

  test('DaemonSet: every node, critical, host network, rolling updates', () => {
    assert.deepEqual(ds.spec!.selector.matchLabels, { 'app.kubernetes.io/name': 'calico-hep-agent' });
    for (const [k, v] of Object.entries(ds.spec!.selector.matchLabels)) assert.equal(ds.spec!.template.metadata!.labels![k], v);
    assert.deepEqual(pod['tolerations'], [{ operator: 'Exists' }], 'tolerates every taint');
    assert.equal(pod['priorityClassName'], 'system-node-critical');
    assert.equal(pod['hostNetwork'], true);
    assert.equal(pod['dnsPolicy'], 'ClusterFirstWithHostNet');
    assert.deepEqual(ds.spec!.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '10%' } });
    assert.ok(pod.terminationGracePeriodSeconds! >= 5, 'the agent needs ~4 s to stop');
    assert.equal(pod['containers'].length, 1);
  });

  test('DaemonSet: non-root, read-only, no escalation, no capabilities, RuntimeDefault seccomp', () => {
    const podSc = pod.securityContext!;
    assert.equal(podSc.runAsNonRoot, true);
    assert.ok(Number.isInteger(podSc.runAsUser) && podSc.runAsUser! > 0);
    assert.ok(podSc.runAsGroup! > 0);
    assert.deepEqual(podSc.seccompProfile, { type: 'RuntimeDefault' });
    const sc = agent.securityContext!;
    assert.equal(sc.allowPrivilegeEscalation, false);
    assert.equal(sc.readOnlyRootFilesystem, true);
    assert.equal(sc.privileged, false);
    assert.deepEqual(sc.capabilities, { drop: ['ALL'] });
    assert.equal((sc.capabilities as { add?: unknown }).add, undefined);
    assert.ok(!pod.volumes!.some((v) => 'hostPath' in v), 'no host paths');
    assert.equal(pod['hostPID'], undefined);
    assert.equal(pod['hostIPC'], undefined);
  });

  test('DaemonSet: environment from the downward API, config mounted and passed with --config', async () => {
    const env = Object.fromEntries(agent.env!.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
    assert.deepEqual(env, { NODE_NAME: 'spec.nodeName', POD_NAMESPACE: 'metadata.namespace' });
    const mount = agent.volumeMounts!.find((m) => m.name === 'config')!;
    assert.equal(mount.readOnly, true);
    const args = agent.args!;
    const configArg = args[args.indexOf('--config') + 1];
    assert.equal(args[0], 'run');
    assert.equal(configArg, `${mount.mountPath}/config.yaml`);
    const cm = as<V1ConfigMap>(find(objects, 'ConfigMap'));
    assert.deepEqual(Object.keys(cm.data!), ['config.yaml']);
    assert.equal(cm.data!['config.yaml'], await readFile(join(DEPLOY, 'config.yaml'), 'utf8'));
  });

  test('DaemonSet: probes on 9808 (/healthz, /readyz), named port "metrics" as the PodMonitor expects', async () => {
    assert.deepEqual(agent.ports, [{ name: 'metrics', containerPort: 9808, protocol: 'TCP' }]);
    assert.deepEqual(agent.livenessProbe!.httpGet, { path: '/healthz', port: 'metrics' });
    assert.deepEqual(agent.readinessProbe!.httpGet, { path: '/readyz', port: 'metrics' });
    const podMonitor = parse(await readFile(join(DEPLOY, 'monitoring/podmonitor.yaml'), 'utf8')) as { spec: { podMetricsEndpoints: { port: string }[]; selector: { matchLabels: Record<string, string> } } };
    assert.equal(podMonitor.spec.podMetricsEndpoints[0]!.port, 'metrics');
    for (const [k, v] of Object.entries(podMonitor.spec.selector.matchLabels)) assert.equal(ds.spec!.template.metadata!.labels![k], v);
  });

  test('DaemonSet: requests and limits for cpu and memory, requests <= limits', () => {
    const { requests, limits } = agent.resources as { requests: Record<string, string>; limits: Record<string, string> };
    const cpu = (v: string) => (v.endsWith('m') ? Number(v.slice(0, -1)) / 1000 : Number(v));
    const mem = (v: string) => Number(v.replace(/Mi$/, '')) * (v.endsWith('Mi') ? 1 : NaN);
    for (const r of [requests, limits]) {
      assert.ok(cpu(r['cpu']!) > 0 && mem(r['memory']!) > 0, 'cpu in millicores, memory in Mi');
    }
    assert.ok(cpu(requests['cpu']!) <= cpu(limits['cpu']!) && mem(requests['memory']!) <= mem(limits['memory']!));
  });

  test('image: the released version, never latest; the tag matches package.json', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const [repo, tag] = agent.image!.split(/:(?=[^:/]+$)/);
    assert.ok(repo !== undefined && repo.includes('/'), 'a registry path');
    assert.equal(tag, pkg.version);
    assert.equal(agent.imagePullPolicy, 'IfNotPresent');
  });

  test('the shipped config is valid and safe: repair with the default-allow profile, port 9808', async () => {
    const text = await readFile(join(DEPLOY, 'config.yaml'), 'utf8');
    const config = validateConfig(parse(text), 'deploy/config.yaml');
    assert.equal(config.mode, 'repair');
    assert.deepEqual(config.hostEndpoint.profiles, ['projectcalico-default-allow']);
    assert.equal(config.dryRun, false);
    assert.equal(config.server.port, agent.ports![0]!.containerPort);
    assert.equal(config.apiGroup, 'auto');
  });

  test('ClusterRole: exactly the rules the agent needs; no Role (the prune sweep left the node agent)', () => {
    const cr = as<V1ClusterRole>(find(objects, 'ClusterRole'));
    assert.deepEqual(cr.rules, [
      { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['projectcalico.org'], resources: ['hostendpoints'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      // The policy guard (on by default) reads what Felix evaluates; the cluster view holds them always.
      { apiGroups: ['projectcalico.org'], resources: ['globalnetworkpolicies', 'tiers', 'felixconfigurations'], verbs: ['list', 'watch'] },
      { apiGroups: ['projectcalico.org'], resources: ['stagedglobalnetworkpolicies'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
    assert.equal(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding').length, 0);
    for (const r of cr.rules) {
      assert.ok(!r.verbs.includes('*') && !r.resources.includes('*') && !r.apiGroups.includes('*'), 'no wildcards');
    }
  });

  test('admission policy: fails closed, CREATE/UPDATE/DELETE of HostEndpoints in both Calico groups, only for the agent', () => {
    const vap = as<V1ValidatingAdmissionPolicy>(find(objects, 'ValidatingAdmissionPolicy'));
    assert.equal(vap.spec!.failurePolicy, 'Fail');
    assert.deepEqual(vap.spec!.matchConstraints!.resourceRules, [
      { apiGroups: ['projectcalico.org', 'crd.projectcalico.org'], apiVersions: ['*'], operations: ['CREATE', 'UPDATE', 'DELETE'], resources: ['hostendpoints'] },
    ]);
    assert.deepEqual(vap.spec!.matchConditions!.map((c) => c.expression), [`request.userInfo.username == '${SA_USER}'`]);
    for (const v of vap.spec!.validations!) assert.equal(v.reason, 'Forbidden');
  });

  test('components/crd-v1 adds the crd.projectcalico.org HostEndpoint rule and the policy guard\'s reads there, nothing else', async () => {
    const withV1 = await kustomizeWith(['components/crd-v1']);
    const base = as<V1ClusterRole>(find(objects, 'ClusterRole'));
    const cr = as<V1ClusterRole>(find(withV1, 'ClusterRole'));
    assert.deepEqual(cr.rules, [
      ...base.rules!,
      { apiGroups: ['crd.projectcalico.org'], resources: ['hostendpoints'], verbs: ['get', 'list', 'watch', 'create', 'update', 'delete'] },
      { apiGroups: ['crd.projectcalico.org'], resources: ['globalnetworkpolicies', 'tiers', 'felixconfigurations'], verbs: ['list', 'watch'] },
      { apiGroups: ['crd.projectcalico.org'], resources: ['stagedglobalnetworkpolicies'], verbs: ['list', 'watch'] },
    ]);
    const others = (list: KubeObject[]) => JSON.stringify(list.filter((o) => o.kind !== 'ClusterRole'));
    assert.equal(others(withV1), others(objects));
  });
});

describe('deploy/examples', () => {
  interface Gnp {
    apiVersion: string;
    kind: string;
    metadata: { name: string };
    spec: { selector: string; order: number; types?: string[]; ingress?: unknown[]; egress?: unknown[]; preDNAT?: boolean; applyOnForward?: boolean; doNotTrack?: boolean };
  }
  let policies: Gnp[];
  before(async () => {
    const dir = join(DEPLOY, 'examples');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    policies = (await Promise.all(files.map(async (f) => parseObjects(await readFile(join(dir, f), 'utf8'))))).flat() as unknown as Gnp[];
    const listed = (parse(await readFile(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] }).resources;
    assert.deepEqual([...listed].sort(), [...files].sort(), 'the examples kustomization lists every example');
    const base = await readFile(join(DEPLOY, 'kustomization.yaml'), 'utf8');
    assert.ok(!/examples/.test((parse(base) as { resources: string[] }).resources.join(' ')), 'not in the default install');
  });

  const byName = (name: string) => policies.find((p) => p.metadata.name === name)!;

  test('every policy is a v3 GlobalNetworkPolicy with a valid selector that is never all()', () => {
    assert.equal(policies.length, 4);
    for (const p of policies) {
      assert.equal(p.apiVersion, 'projectcalico.org/v3');
      assert.equal(p.kind, 'GlobalNetworkPolicy');
      assert.equal(typeof p.spec['selector'], 'string', `${p.metadata.name}: a missing selector selects every endpoint`);
      assert.equal(parseSelector(p.spec['selector']).isAll(), false, `${p.metadata.name}: selects everything`);
      assert.deepEqual(p.spec['types'], ['Ingress']);
    }
  });

  test('the guide corrected: allow TCP 80/443, then deny other ingress on the same selector', () => {
    const allow = byName('allow-http-https-external');
    const deny = byName('deny-other-ingress-external');
    const selector = 'role == "master" && type == "external"';
    assert.equal(parseSelector(allow.spec['selector']).toString(), parseSelector(selector).toString());
    assert.equal(deny.spec['selector'], allow.spec['selector']);
    assert.ok(allow.spec['order'] < deny.spec['order'], 'allow is evaluated first');
    assert.deepEqual(allow.spec['ingress'], [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80, 443] } }]);
    assert.deepEqual(deny.spec['ingress'], [{ action: 'Deny' }]);
    const matches = (labels: Record<string, string>) => parseSelector(deny.spec['selector']).matches(labels);
    assert.equal(matches({ role: 'master', type: 'external' }), true);
    assert.equal(matches({ role: 'master' }), false, 'internal interfaces of masters are not denied');
    assert.equal(matches({ role: 'worker', type: 'external' }), false);
  });

  test('before the deny, the kubelet (10250) and the agent (9808) stay reachable from every node and every pod', () => {
    const keep = byName('allow-cluster-node-ports-external');
    const deny = byName('deny-other-ingress-external');
    assert.equal(keep.spec['selector'], deny.spec['selector']);
    assert.ok(keep.spec['order'] < deny.spec['order'], 'evaluated before the deny');
    assert.deepEqual(keep.spec['ingress'], [
      { action: 'Allow', protocol: 'TCP', source: { selector: 'app.kubernetes.io/managed-by == "calico-hep-agent"' }, destination: { ports: [10250, 9808] } },
      { action: 'Allow', protocol: 'TCP', source: { namespaceSelector: 'all()' }, destination: { ports: [10250, 9808] } },
    ]);
  });

  test('the preDNAT example sets applyOnForward and has ingress rules only', () => {
    const p = byName('prednat-nodeports-external');
    assert.equal(p.spec['preDNAT'], true);
    assert.equal(p.spec['applyOnForward'], true, 'Calico rejects preDNAT without applyOnForward');
    assert.equal(p.spec['egress'], undefined, 'preDNAT policies may not have egress rules');
    assert.equal(p.spec['doNotTrack'], undefined);
  });
});
