// The chart rendered by a real helm (pinned, fetched on first use by scripts/helm-tools.ts): lint,
// the default render against `kubectl kustomize deploy/` object for object, the options, and the
// values schema rejecting bad values at `helm template`.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { validateConfig } from '../../src/config/load.ts';
import { DEPLOY, find, kustomize, kustomizeSkipReason, kustomizeWith, parseObjects, type KubeObject } from '../deploy/render.ts';
import { CHART, NAMESPACE, RELEASE, helmSkipReason, helmWithValues, template, templateResult } from './helm.ts';
import { helm } from '../../scripts/helm-tools.ts';
import { prereq } from '../helpers/prereq.ts';
import type {
  V1ClusterRole,
  V1ClusterRoleBinding,
  V1ConfigMap,
  V1DaemonSet,
  V1ValidatingAdmissionPolicy,
  V1ValidatingAdmissionPolicyBinding,
} from '@kubernetes/client-node';

/** A rendered object, with the parts the normalizers rewrite declared (the rest is compared as is). */
interface Rendered extends KubeObject {
  spec?: {
    selector?: { matchLabels?: Record<string, string> };
    template?: {
      metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
      spec?: { volumes?: { configMap?: { name: string } }[] };
    };
  };
  data?: Record<string, unknown>;
}
/** A rendered object read as the Kubernetes type of its kind (the shapes of @kubernetes/client-node). */
const as = <T>(o: unknown): T => o as T;

const helmSkip = prereq(await helmSkipReason());
if (helmSkip !== false) console.log(`# skipping helm chart rendering tests: ${helmSkip}`);
const kustomizeSkip = prereq(await kustomizeSkipReason());
if (kustomizeSkip !== false) console.log(`# skipping the helm/kustomize comparison: ${kustomizeSkip}`);

/** Labels Helm's conventions add; the kustomize base has none of them. */
const HELM_LABELS = ['helm.sh/chart', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/instance', 'app.kubernetes.io/version'];
const PART_OF = 'app.kubernetes.io/part-of';

function stripLabels(labels: Record<string, string> | undefined): void {
  if (labels !== undefined) for (const k of HELM_LABELS) delete labels[k];
}

/** The comparable form of a Helm-rendered object: Helm's labels and the config checksum removed, config validated. */
function normalizeHelm(o: KubeObject): Rendered {
  const c = structuredClone(o) as Rendered;
  stripLabels(c.metadata.labels);
  stripLabels(c.spec?.selector?.matchLabels);
  const tpl = c.spec?.template?.metadata;
  if (tpl !== undefined) {
    stripLabels(tpl.labels);
    assert.match(tpl.annotations?.['checksum/config'] ?? '', /^[0-9a-f]{64}$/, `${o.kind}: checksum/config annotation`);
    delete tpl.annotations!['checksum/config'];
    if (Object.keys(tpl.annotations!).length === 0) delete tpl.annotations;
  }
  if (c.kind === 'ConfigMap' && c.data?.['config.yaml'] !== undefined)
    c.data['config.yaml'] = validateConfig(parse(c.data['config.yaml'] as string), 'helm ConfigMap');
  return c;
}

/** The comparable form of a kustomize-rendered object: the ConfigMap's hash suffix removed, config validated. */
function normalizeKustomize(o: KubeObject, extraLabels: Record<string, string> = {}): Rendered {
  const c = structuredClone(o) as Rendered;
  const unhash = (name: string) => name.replace(/^(calico-hep-agent-config)-[a-z0-9]{10}$/, '$1');
  c.metadata.name = unhash(c.metadata.name);
  if (Object.keys(extraLabels).length > 0) c.metadata.labels = { ...c.metadata.labels, ...extraLabels };
  for (const v of c.spec?.template?.spec?.volumes ?? []) if (v.configMap !== undefined) v.configMap.name = unhash(v.configMap.name);
  if (c.kind === 'ConfigMap' && c.data?.['config.yaml'] !== undefined)
    c.data['config.yaml'] = validateConfig(parse(c.data['config.yaml'] as string), 'kustomize ConfigMap');
  return c;
}

const id = (o: KubeObject) => `${o.apiVersion}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** Asserts both lists hold the same objects, field for field; reports the first difference by object. */
function assertSameObjects(helmObjects: readonly KubeObject[], kustomizeObjects: readonly KubeObject[]): void {
  assert.deepEqual(helmObjects.map(id).sort(), kustomizeObjects.map(id).sort(), 'the same objects');
  const byId = new Map(kustomizeObjects.map((o) => [id(o), o]));
  for (const o of helmObjects) assert.deepEqual(o, byId.get(id(o)), `${id(o)} differs between helm and kustomize`);
}

describe('helm chart', { skip: helmSkip }, () => {
  let defaults: KubeObject[];
  before(async () => {
    defaults = await template();
  });

  test('helm lint --strict passes, with the defaults and with every option on', async () => {
    const all = {
      namespace: { create: true },
      rbac: { crdV1: true },
      admissionPolicy: { validationActions: ['Warn', 'Audit'] },
      monitoring: { podMonitor: { enabled: true }, prometheusRule: { enabled: true }, dashboard: { enabled: true } },
      examplePolicies: { enabled: true },
      config: { policyGuard: { mode: 'require-policy', trustedPolicies: ['allow-*'] } },
    };
    const [plain, everything] = await Promise.all([
      helm(['lint', '--strict', CHART, '--namespace', NAMESPACE], { timeoutMs: 60_000 }),
      helmWithValues(['lint', '--strict', CHART], all),
    ]);
    for (const r of [plain, everything]) assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(plain.stdout, /0 chart\(s\) failed/);
  });

  test('the defaults render the kustomize base kinds, nothing optional, in the release namespace', () => {
    assert.deepEqual(defaults.map((o) => o.kind).sort(), [
      'ClusterRole',
      'ClusterRoleBinding',
      'ConfigMap',
      'DaemonSet',
      'ResourceQuota',
      'ServiceAccount',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ]);
    for (const o of defaults) {
      const clusterScoped = ['ClusterRole', 'ClusterRoleBinding', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].includes(o.kind);
      assert.equal(o.metadata.namespace, clusterScoped ? undefined : NAMESPACE, `${o.kind} namespace`);
      assert.equal(o.metadata.labels?.['app.kubernetes.io/managed-by'], 'Helm');
      assert.equal(o.metadata.labels?.[PART_OF], 'calico-hep-agent');
    }
  });

  test('the default render equals kubectl kustomize deploy/, object for object', { skip: kustomizeSkip }, async () => {
    const base = await kustomize(DEPLOY);
    // helm install needs the namespace beforehand, so the chart renders it only with namespace.create.
    const withoutNamespace = base.filter((o) => o.kind !== 'Namespace');
    assertSameObjects(
      defaults.map(normalizeHelm),
      withoutNamespace.map((o) => normalizeKustomize(o)),
    );
    const withNamespace = await template({ namespace: { create: true } });
    assertSameObjects(
      withNamespace.map(normalizeHelm),
      base.map((o) => normalizeKustomize(o)),
    );
  });

  test('the ConfigMap holds values.yaml config; a config change changes checksum/config, so the pods roll', async () => {
    const checksum = (objects: KubeObject[]) => as<V1DaemonSet>(find(objects, 'DaemonSet')).spec!.template.metadata!.annotations!['checksum/config']!;
    const text = as<V1ConfigMap>(find(defaults, 'ConfigMap')).data!['config.yaml']!;
    assert.equal(checksum(defaults), createHash('sha256').update(text.replace(/\n$/, '')).digest('hex'));
    const audit = await template({ config: { mode: 'audit' } });
    assert.notEqual(checksum(audit), checksum(defaults));
    assert.equal(checksum(await template({ podAnnotations: { a: 'b' } })), checksum(defaults), 'other values leave it');
  });

  test('custom config: rendered as given, validated by the agent, port follows server.port', async () => {
    const config = {
      mode: 'audit',
      logLevel: 'debug',
      adopt: true,
      interfaceRules: [{ name: 'em4-is-external', match: { names: ['em4'], cidrs: ['203.0.113.0/24'] }, labels: { type: 'external' } }],
      labels: { static: { site: 'fra1' }, fromNode: { rename: { 'topology.kubernetes.io/zone': 'zone' } } },
      intervals: { resyncSeconds: 300 },
      server: { port: 9909 },
    };
    const objects = await template({ config });
    const rendered = validateConfig(parse(as<V1ConfigMap>(find(objects, 'ConfigMap')).data!['config.yaml']!), 'rendered');
    assert.equal(rendered.mode, 'audit');
    assert.equal(rendered.logLevel, 'debug');
    assert.equal(rendered.adopt, true);
    assert.deepEqual(rendered.interfaceRules, config.interfaceRules);
    assert.deepEqual(rendered.labels.static, { site: 'fra1' });
    assert.deepEqual(rendered.labels.fromNode.rename, { 'topology.kubernetes.io/zone': 'zone' });
    assert.deepEqual(rendered.labels.fromNode.exclude, ['feature.node.kubernetes.io/*'], 'maps merge with the defaults');
    assert.equal(rendered.intervals.resyncSeconds, 300);
    assert.equal(rendered.intervals.rescanSeconds, 60);
    assert.equal(rendered.server.port, 9909);
    const agent = as<V1DaemonSet>(find(objects, 'DaemonSet')).spec!.template.spec!.containers[0]!;
    assert.deepEqual(agent.ports, [{ name: 'metrics', containerPort: 9909, protocol: 'TCP' }]);
  });

  test('admission policy off: no policy and binding, everything else unchanged', async () => {
    const objects = await template({ admissionPolicy: { enabled: false } });
    const others = defaults.filter((o) => !o.kind.startsWith('ValidatingAdmissionPolicy'));
    assert.deepEqual(objects, others);
  });

  test('admission policy in Warn/Audit mode; the removed prune sweep is refused by the schema', async () => {
    const warn = await template({ admissionPolicy: { validationActions: ['Warn', 'Audit'] } });
    assert.deepEqual(as<V1ValidatingAdmissionPolicyBinding>(find(warn, 'ValidatingAdmissionPolicyBinding')).spec.validationActions, ['Warn', 'Audit']);
    const refused = await templateResult({ config: { prune: { sweep: true } } });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /prune/);
  });

  test('crd-v1 on: the ClusterRole of components/crd-v1, also implied by apiGroup crd.projectcalico.org/v1', { skip: kustomizeSkip }, async () => {
    const expected = normalizeKustomize(find(await kustomizeWith(['components/crd-v1']), 'ClusterRole'));
    for (const values of [{ rbac: { crdV1: true } }, { config: { apiGroup: 'crd.projectcalico.org/v1' } }]) {
      const objects = await template(values);
      assert.deepEqual(normalizeHelm(find(objects, 'ClusterRole')), expected, JSON.stringify(values));
      const rest = (list: KubeObject[]) => list.filter((o) => o.kind !== 'ClusterRole' && o.kind !== 'ConfigMap' && o.kind !== 'DaemonSet');
      assert.deepEqual(rest(objects), rest(defaults));
    }
  });

  test('policy guard: list/watch of GlobalNetworkPolicies, Tiers, FelixConfigurations and staged policies always (the cluster view holds them), in every group in use', async () => {
    const rules = async (values: object) => as<V1ClusterRole>(find(await template(values), 'ClusterRole')).rules!;
    const guard = (group: string) => ({ apiGroups: [group], resources: ['globalnetworkpolicies', 'tiers', 'felixconfigurations'], verbs: ['list', 'watch'] });
    const staged = (group: string) => ({ apiGroups: [group], resources: ['stagedglobalnetworkpolicies'], verbs: ['list', 'watch'] });
    const base = as<V1ClusterRole>(find(defaults, 'ClusterRole')).rules!;
    for (const r of [guard('projectcalico.org'), staged('projectcalico.org')])
      assert.ok(
        base.some((x) => JSON.stringify(x) === JSON.stringify(r)),
        'granted with the defaults',
      );
    for (const mode of ['require-policy', 'off'])
      assert.deepEqual(await rules({ config: { policyGuard: { mode } } }), base, `the same rules with mode ${mode}`);
    const v1 = await rules({ rbac: { crdV1: true } });
    for (const r of [guard('crd.projectcalico.org'), staged('crd.projectcalico.org')])
      assert.ok(
        v1.some((x) => JSON.stringify(x) === JSON.stringify(r)),
        'and in crd.projectcalico.org with crd-v1',
      );
  });

  test('the former config.requirePolicy: true stops the install with the migration, unless policyGuard.mode is require-policy', async () => {
    const refused = await templateResult({ config: { requirePolicy: true } });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /config\.requirePolicy was replaced by config\.policyGuard\.mode/);
    assert.equal((await templateResult({ config: { requirePolicy: true, policyGuard: { mode: 'require-policy' } } })).code, 0);
    assert.equal((await templateResult({ config: { requirePolicy: false } })).code, 0);
  });

  test('monitoring on: PodMonitor, PrometheusRule and dashboard equal deploy/monitoring, in the release namespace', { skip: kustomizeSkip }, async () => {
    const objects = await template({
      monitoring: { podMonitor: { enabled: true }, prometheusRule: { enabled: true, labels: { release: 'prom' } }, dashboard: { enabled: true } },
    });
    const added = objects.filter((o) => !defaults.some((d) => id(d) === id(o)));
    const expected = (await kustomize(join(DEPLOY, 'monitoring'))).map((o) =>
      normalizeKustomize(o, { [PART_OF]: 'calico-hep-agent', ...(o.kind === 'PrometheusRule' ? { release: 'prom' } : {}) }),
    );
    const actual = added.map(normalizeHelm);
    for (const o of actual) if (o.kind === 'ConfigMap') o.data!['calico-hep-agent.json'] = JSON.parse(o.data!['calico-hep-agent.json'] as string) as unknown;
    for (const o of expected) if (o.kind === 'ConfigMap') o.data!['calico-hep-agent.json'] = JSON.parse(o.data!['calico-hep-agent.json'] as string) as unknown;
    assertSameObjects(actual, expected);
    const podMonitor = find(objects, 'PodMonitor') as KubeObject & { spec: { selector: { matchLabels: Record<string, string> } } };
    const pod = as<V1DaemonSet>(find(objects, 'DaemonSet')).spec!.template.metadata!.labels!;
    for (const [k, v] of Object.entries(podMonitor.spec.selector.matchLabels)) assert.equal(pod[k], v, 'the PodMonitor selects the agent pods');
    const elsewhere = await template({ monitoring: { dashboard: { enabled: true, namespace: 'grafana' } } });
    assert.equal(find(elsewhere, 'ConfigMap', 'calico-hep-agent-dashboard').metadata.namespace, 'grafana');
  });

  test('example policies on: exactly deploy/examples', async () => {
    const objects = await template({ examplePolicies: { enabled: true } });
    const policies = objects.filter((o) => o.kind === 'GlobalNetworkPolicy');
    const dir = join(DEPLOY, 'examples');
    const files = (await readdir(dir)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    const expected = (await Promise.all(files.map(async (f) => parseObjects(await readFile(join(dir, f), 'utf8'))))).flat();
    const byName = (l: KubeObject[]) => [...l].sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    assert.equal(policies.length, 4);
    assert.deepEqual(byName(policies), byName(expected));
    assert.equal(objects.length, defaults.length + 4);
  });

  test('another release name and namespace: names, references and the admission policy user follow', async () => {
    const objects = await template({}, { release: 'hep', namespace: 'net-sec' });
    const sa = find(objects, 'ServiceAccount');
    assert.equal(sa.metadata.name, 'hep-calico-hep-agent');
    assert.equal(sa.metadata.namespace, 'net-sec');
    const vap = as<V1ValidatingAdmissionPolicy>(find(objects, 'ValidatingAdmissionPolicy'));
    assert.deepEqual(
      vap.spec!.matchConditions!.map((c) => c.expression),
      ["request.userInfo.username == 'system:serviceaccount:net-sec:hep-calico-hep-agent'"],
    );
    assert.equal(as<V1ValidatingAdmissionPolicyBinding>(find(objects, 'ValidatingAdmissionPolicyBinding')).spec.policyName, vap.metadata!.name);
    for (const kind of ['ClusterRoleBinding']) {
      const b = as<V1ClusterRoleBinding>(find(objects, kind));
      assert.deepEqual(b.subjects, [{ kind: 'ServiceAccount', name: 'hep-calico-hep-agent', namespace: 'net-sec' }]);
      assert.ok(find(objects, b.roleRef.kind, b.roleRef.name));
    }
    const pod = as<V1DaemonSet>(find(objects, 'DaemonSet')).spec!.template.spec!;
    assert.equal(pod.serviceAccountName, 'hep-calico-hep-agent');
    assert.equal(pod.volumes![0]!.configMap!.name, find(objects, 'ConfigMap').metadata.name);
    const sameAsDefault = await template({}, { release: 'calico-hep-agent-prod' });
    assert.equal(find(sameAsDefault, 'DaemonSet').metadata.name, 'calico-hep-agent-prod', 'a release name containing the chart name is used as is');
  });

  test('image: appVersion by default, tag and digest overrides', async () => {
    const image = async (values: object) => as<V1DaemonSet>(find(await template(values), 'DaemonSet')).spec!.template.spec!.containers[0]!.image!;
    assert.equal(await image({}), 'ghcr.io/calico-hep-agent/calico-hep-agent:0.1.0');
    const digest = `sha256:${'a'.repeat(64)}`;
    assert.equal(await image({ image: { repository: 'registry.example:5000/hep', tag: '0.2.0', digest } }), `registry.example:5000/hep:0.2.0@${digest}`);
  });

  test('NOTES.txt tells what to check: rollout, HEPs, the namespace label, what uninstall leaves', async () => {
    const r = await helm(['install', RELEASE, CHART, '--namespace', NAMESPACE, '--dry-run=client'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const notes = r.stdout.slice(r.stdout.indexOf('NOTES:'));
    for (const expected of [
      'rollout status ds/calico-hep-agent',
      'kubectl get hostendpoints.projectcalico.org -l app.kubernetes.io/managed-by=calico-hep-agent',
      'pod-security.kubernetes.io/enforce=privileged',
      'leaves every HostEndpoint in place',
    ])
      assert.ok(notes.includes(expected), `NOTES mention ${expected}`);
    const noProfiles = await helmWithValues(['install', RELEASE, CHART, '--dry-run=client'], { config: { hostEndpoint: { profiles: [] } } });
    assert.match(noProfiles.stdout, /WARNING: no profiles/);
  });

  test('kubeVersion: renders for 1.30, refuses 1.29', async () => {
    assert.equal((await templateResult({}, { args: ['--kube-version', '1.30.0'] })).code, 0);
    const old = await templateResult({}, { args: ['--kube-version', '1.29.9'] });
    assert.notEqual(old.code, 0);
    assert.match(old.stderr, /kubeVersion|incompatible/i);
  });

  describe('values.schema.json: helm template fails on bad values and names them', () => {
    const cases: [string, object, RegExp][] = [
      ['mode', { config: { mode: 'fix' } }, /\/config\/mode/],
      ['apiGroup', { config: { apiGroup: 'projectcalico.org/v1' } }, /\/config\/apiGroup/],
      ['logLevel', { config: { logLevel: 'verbose' } }, /\/config\/logLevel/],
      ['server port out of range', { config: { server: { port: 70000 } } }, /\/config\/server\/port/],
      ['server port 0', { config: { server: { port: 0 } } }, /\/config\/server\/port/],
      ['port as a string', { config: { server: { port: '9808' } } }, /\/config\/server\/port/],
      ['unknown config key', { config: { intervalz: {} } }, /\/config|intervalz/],
      ['nodeName in the shared config', { config: { nodeName: 'n1' } }, /\/config|nodeName/],
      ['interval below the minimum', { config: { intervals: { resyncSeconds: 1 } } }, /\/config\/intervals\/resyncSeconds/],
      ['profiles not a list', { config: { hostEndpoint: { profiles: 'projectcalico-default-allow' } } }, /\/config\/hostEndpoint\/profiles/],
      ['unknown top-level value', { replicaCount: 2 }, /replicaCount|additional/i],
      ['pull policy', { image: { pullPolicy: 'Sometimes' } }, /\/image\/pullPolicy/],
      ['Deny together with Warn', { admissionPolicy: { validationActions: ['Deny', 'Warn'] } }, /\/admissionPolicy\/validationActions/],
      ['enabled as a string', { monitoring: { podMonitor: { enabled: 'yes' } } }, /\/monitoring\/podMonitor\/enabled/],
    ];
    for (const [name, values, message] of cases) {
      test(`rejects ${name}`, async () => {
        const r = await templateResult(values);
        assert.notEqual(r.code, 0, `helm template accepted ${JSON.stringify(values)}`);
        assert.match(r.stderr, /schema/);
        assert.match(r.stderr, message);
      });
    }
  });
});
