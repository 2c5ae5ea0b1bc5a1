// Lint of what Calico's API rejects: one table row per rule, each naming the Calico source it encodes
// (projectcalico/calico at 87c15906). A rejected policy is reported and left out of the evaluation.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostEndpoint } from '../../../src/core/model.ts';
import {
  acceptedPolicies,
  buildPolicyModel,
  DEFAULT_FAILSAFE,
  explainHostEndpoint,
  lint,
  parsePolicy,
  sortPolicies,
  tierTable,
  validatePolicyObject,
  type Policy,
} from '../../../src/core/policy/index.ts';

const V = 'libcalico-go/lib/validator/v3/validator.go';
const GNP_CEL = 'api/pkg/apis/projectcalico/v3/globalnetworkpolicy.go (CEL)';
const RULE_CEL = 'api/pkg/apis/projectcalico/v3/policy_common.go (CEL)';
const CRD_LEN = 'api/pkg/apis/projectcalico/v3 (+kubebuilder:validation:MaxLength=1024)';

type Spec = Record<string, unknown>;
const obj = (spec: Spec, name = 'p', labels?: Record<string, string>) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'GlobalNetworkPolicy',
  metadata: { name, ...(labels ? { labels } : {}) },
  spec,
});
const ing = (rule: Spec): Spec => ({ selector: 'has(x)', ingress: [rule] });
const long = (n: number) => `a == "${'v'.repeat(n - 7)}"`;

// [what, Calico source, object, the rejection code expected (undefined: accepted)]
const TABLE: ReadonlyArray<readonly [string, string, unknown, string | undefined]> = [
  // global() in a GNP's own selectors
  ['global() in spec.selector', GNP_CEL, obj({ selector: 'global()' }), 'global-selector'],
  ['global() combined in spec.selector', GNP_CEL, obj({ selector: 'has(a) && global()' }), 'global-selector'],
  ['global() in spec.namespaceSelector', GNP_CEL, obj({ namespaceSelector: 'global()' }), 'global-selector'],
  ['global() in spec.serviceAccountSelector', GNP_CEL, obj({ serviceAccountSelector: 'global()' }), 'global-selector'],
  ['global() in a rule selector', `${RULE_CEL} EntityRule`, obj(ing({ action: 'Allow', source: { selector: 'global()' } })), 'global-selector'],
  [
    'global() alone in a rule namespaceSelector',
    `${V} validateEntityRule`,
    obj(ing({ action: 'Allow', source: { namespaceSelector: 'global()' } })),
    undefined,
  ],
  [
    'global() combined in a rule namespaceSelector',
    `${V} validateEntityRule`,
    obj(ing({ action: 'Allow', source: { namespaceSelector: 'global() && has(a)' } })),
    'global-selector',
  ],
  // ports need a protocol that has ports
  [
    'numeric destination port without protocol',
    `${V} validateRule protocolSingleOrRangePortsMsg`,
    obj(ing({ action: 'Allow', destination: { ports: [22] } })),
    'ports-without-protocol',
  ],
  ['port range as text without protocol', `${V} validateRule`, obj(ing({ action: 'Allow', destination: { ports: ['1000:2000'] } })), 'ports-without-protocol'],
  ['numeric notPorts without protocol', `${V} validateRule`, obj(ing({ action: 'Allow', source: { notPorts: [53] } })), 'ports-without-protocol'],
  ['named port without protocol', `${V} validateRule (AllPortsAreNamed)`, obj(ing({ action: 'Allow', destination: { ports: ['http'] } })), undefined],
  [
    'ports with ICMP',
    `${V} validateRule protocolPortsMsg (SupportsPorts)`,
    obj(ing({ action: 'Allow', protocol: 'ICMP', destination: { ports: [1] } })),
    'ports-without-protocol',
  ],
  [
    'ports with protocol number 6',
    `${V} validateRule (SupportsPorts 6/17/132)`,
    obj(ing({ action: 'Allow', protocol: 6, destination: { ports: [22] } })),
    undefined,
  ],
  ['ports with TCP', `${V} validateRule`, obj(ing({ action: 'Allow', protocol: 'TCP', destination: { ports: [22, '1000:2000'] } })), undefined],
  // types
  ['duplicate types', `${V} validateGlobalNetworkPolicySpec`, obj({ types: ['Ingress', 'Ingress'] }), 'duplicate-types'],
  ['Ingress and Egress once each', `${V} validateGlobalNetworkPolicySpec`, obj({ types: ['Ingress', 'Egress'] }), undefined],
  // ICMP
  ['ICMP code without type', `${RULE_CEL} ICMPFields`, obj(ing({ action: 'Allow', protocol: 'ICMP', icmp: { code: 0 } })), 'icmp-code-without-type'],
  ['notICMP code without type', `${RULE_CEL} ICMPFields`, obj(ing({ action: 'Allow', protocol: 'ICMP', notICMP: { code: 1 } })), 'icmp-code-without-type'],
  ['ICMP type and code', `${RULE_CEL} ICMPFields`, obj(ing({ action: 'Allow', protocol: 'ICMP', icmp: { type: 3, code: 1 } })), undefined],
  ['icmp without an ICMP protocol', `${RULE_CEL} Rule`, obj(ing({ action: 'Allow', protocol: 'TCP', icmp: { type: 8 } })), 'icmp-without-icmp-protocol'],
  ['ICMPv6 with ipVersion 4', `${RULE_CEL} Rule`, obj(ing({ action: 'Allow', protocol: 'ICMPv6', ipVersion: 4 })), 'icmp-ip-version'],
  // nets
  ['notNets 0.0.0.0/0', `${V} validateRule scanNets`, obj(ing({ action: 'Deny', source: { notNets: ['0.0.0.0/0'] } })), 'catch-all-notnets'],
  ['notNets ::/0', `${V} validateRule scanNets`, obj(ing({ action: 'Deny', destination: { notNets: ['::/0'] } })), 'catch-all-notnets'],
  [
    'notNets 0::/0 (another spelling of ::/0)',
    `${V} validateRule scanNets (IP.Equal)`,
    obj(ing({ action: 'Deny', destination: { notNets: ['0::/0'] } })),
    'catch-all-notnets',
  ],
  ['nets 0.0.0.0/0 (not negated)', `${V} validateRule scanNets`, obj(ing({ action: 'Allow', source: { nets: ['0.0.0.0/0'] } })), undefined],
  [
    'IPv4 and IPv6 in one nets list',
    `${V} validateRule scanNets`,
    obj(ing({ action: 'Allow', source: { nets: ['10.0.0.0/8', 'fd00::/8'] } })),
    'mixed-ip-versions',
  ],
  [
    'IPv4 source, IPv6 destination',
    `${V} validateRule scanNets`,
    obj(ing({ action: 'Allow', source: { nets: ['10.0.0.0/8'] }, destination: { notNets: ['fd00::/8'] } })),
    'mixed-ip-versions',
  ],
  [
    'ipVersion 6 with IPv4 nets',
    `${V} validateRule scanNets`,
    obj(ing({ action: 'Allow', ipVersion: 6, source: { nets: ['10.0.0.0/8'] } })),
    'ip-version-mismatch',
  ],
  ['a net that is not a CIDR', `${V} validateRule scanNets`, obj(ing({ action: 'Allow', source: { nets: ['10.0.0.0/33'] } })), 'invalid-cidr'],
  // names
  ['GNP name with upper case', `${V} validateGlobalNetworkPolicy globalNetworkPolicyNameRegex`, obj({}, 'Allow-SSH'), 'invalid-name'],
  ['GNP name with two dots', `${V} validateGlobalNetworkPolicy globalNetworkPolicyNameRegex`, obj({}, 'a.b.c'), 'invalid-name'],
  ['GNP name with one dot', `${V} validateGlobalNetworkPolicy globalNetworkPolicyNameRegex`, obj({}, 'sec.allow-ssh'), undefined],
  ['GNP name of 254 characters', `${V} validateGlobalNetworkPolicy DNS1123SubdomainMaxLength`, obj({}, 'a'.repeat(254)), 'invalid-name'],
  // selector lengths
  ['spec.selector of 1025 characters', CRD_LEN, obj({ selector: long(1025) }), 'selector-too-long'],
  ['spec.selector of 1024 characters', CRD_LEN, obj({ selector: long(1024) }), undefined],
  ['rule notSelector of 1025 characters', CRD_LEN, obj(ing({ action: 'Allow', source: { notSelector: long(1025) } })), 'selector-too-long'],
  [
    'selector with a 513-character label key',
    'libcalico-go/lib/selector/tokenizer/tokenizer.go MaxLabelLength',
    obj({ selector: `has(${'k'.repeat(513)})` }),
    'invalid-selector',
  ],
  // labels on the policy object
  ['label value of 64 characters', `${V} validateObjectMetaLabels (IsValidLabelValue)`, obj({}, 'p', { team: 'v'.repeat(64) }), 'invalid-label'],
  ['label key name of 64 characters', `${V} validateObjectMetaLabels (IsQualifiedName)`, obj({}, 'p', { ['k'.repeat(64)]: 'v' }), 'invalid-label'],
  ['label of 63/63 characters', `${V} validateObjectMetaLabels`, obj({}, 'p', { ['k'.repeat(63)]: 'v'.repeat(63) }), undefined],
  // HTTP
  [
    'HTTP match with UDP',
    `${RULE_CEL} Rule "rules with HTTP match must have protocol TCP or unset"`,
    obj(ing({ action: 'Allow', protocol: 'UDP', http: { methods: ['GET'] } })),
    'http-non-tcp',
  ],
  ['HTTP match with TCP', `${RULE_CEL} Rule`, obj(ing({ action: 'Allow', protocol: 'TCP', http: { methods: ['GET'] } })), undefined],
  [
    'HTTP match on a Deny rule',
    `${RULE_CEL} Rule "HTTP match is only valid on Allow rules"`,
    obj(ing({ action: 'Deny', http: { methods: ['GET'] } })),
    'http-not-allow',
  ],
  [
    'HTTP match in an egress rule',
    `${V} validateGlobalNetworkPolicySpec ruleUsesAppLayerPolicy`,
    obj({ egress: [{ action: 'Allow', http: { paths: [{ exact: '/' }] } }] }),
    'http-in-egress',
  ],
  // stages
  ['preDNAT and doNotTrack', GNP_CEL, obj({ preDNAT: true, doNotTrack: true, applyOnForward: true }), 'prednat-donottrack'],
  ['preDNAT without applyOnForward', GNP_CEL, obj({ preDNAT: true }), 'prednat-without-applyonforward'],
  ['doNotTrack without applyOnForward', GNP_CEL, obj({ doNotTrack: true }), 'donottrack-without-applyonforward'],
  ['preDNAT with egress rules', GNP_CEL, obj({ preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] }), 'prednat-egress'],
  ['preDNAT with the Egress type', GNP_CEL, obj({ preDNAT: true, applyOnForward: true, types: ['Egress'] }), 'prednat-egress'],
  // staged: a Delete carries no spec
  [
    'StagedGlobalNetworkPolicy stagedAction Delete',
    `${V} validateStagedGlobalNetworkPolicy`,
    { kind: 'StagedGlobalNetworkPolicy', metadata: { name: 'p' }, spec: { stagedAction: 'Delete' } },
    undefined,
  ],
];

describe('what Calico rejects (validatePolicyObject)', () => {
  for (const [what, source, o, code] of TABLE) {
    it(`${what}: ${code ?? 'accepted'}  [${source}]`, () => {
      const problems = validatePolicyObject(o);
      if (code === undefined) assert.deepEqual(problems, [], JSON.stringify(problems));
      else {
        assert.ok(
          problems.some((p) => p.code === code),
          `expected ${code}, got ${JSON.stringify(problems.map((p) => p.code))}`,
        );
        // Each problem names the Calico source that encodes it.
        for (const p of problems) assert.match(p.calicoSource, /^(libcalico-go|api)\//);
      }
    });
  }
});

function hep(name: string, labels: Record<string, string>): HostEndpoint {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.1'] },
  };
}

function analyse(policies: Policy[], heps: HostEndpoint[]) {
  const table = tierTable([], policies);
  const sorted = sortPolicies(policies, table);
  const enforced = acceptedPolicies(sorted);
  const model = buildPolicyModel(enforced, []);
  const explanations = heps.map((h) => explainHostEndpoint(h, model));
  return { explanations, findings: lint({ policies: sorted, hostEndpoints: heps, explanations, failsafe: DEFAULT_FAILSAFE }) };
}

describe('rejected policies are not treated as enforced', () => {
  it('a Deny-all policy Calico rejects (ports without protocol) is reported and not evaluated', () => {
    const bad = parsePolicy(
      obj({ selector: 'role == "edge"', ingress: [{ action: 'Deny', destination: { ports: [22] } }, { action: 'Deny' }] }, 'bad'),
      'test',
    );
    const good = parsePolicy(obj({ selector: 'role == "edge"', ingress: [{ action: 'Allow' }] }, 'good'), 'test');
    const { explanations, findings } = analyse([bad, good], [hep('h1', { role: 'edge' })]);
    assert.deepEqual(
      explanations[0]!.ingress.policies.map((p) => p.name),
      ['good'],
    );
    assert.equal(explanations[0]!.ingress.unmatched.action, 'allow');
    const f = findings.find((x) => x.policy === 'bad');
    assert.ok(f !== undefined && f.code === 'ports-without-protocol' && f.severity === 'error');
    assert.match(f.message, /Calico rejects the policy, so it is not enforced/);
    assert.match(f.calicoSource ?? '', /validator\.go validateRule/);
  });

  it('a HostEndpoint label over 63 characters is an error naming the HEP', () => {
    const { findings } = analyse([parsePolicy(obj({ selector: 'all()', ingress: [{ action: 'Allow' }] }, 'a'), 't')], [hep('h1', { team: 'x'.repeat(64) })]);
    assert.ok(findings.some((f) => f.code === 'invalid-label' && f.hostEndpoint === 'h1'));
  });
});

// Lockout lints: [what, Calico source, policies, HEP profiles, failsafe, cluster-facing, expected "severity:code" findings of these codes]
const LOCKOUT_CODES = new Set([
  'kubelet-closed',
  'agent-port-closed',
  'apiserver-closed',
  'ssh-closed',
  'allow-only-select-all',
  'deny-all-endpoints',
  'types-missing',
]);
const P = (name: string, spec: Spec) => parsePolicy(obj({ types: ['Ingress'], ...spec }, name), 'test');
const emptied = { inbound: [], outbound: [], source: 'FelixConfiguration default' };
const LOCKOUTS: ReadonlyArray<readonly [string, string, Policy[], string[], typeof DEFAULT_FAILSAFE, boolean, string[]]> = [
  [
    'deny-all on the uplink closes kubelet and the agent port',
    'felix/rules/endpoints.go (Deny), felix/config/config_params.go (10250, 9808 not failsafe)',
    [P('deny', { selector: 'role == "edge"', ingress: [{ action: 'Deny' }] })],
    [],
    DEFAULT_FAILSAFE,
    true,
    ['error:agent-port-closed', 'error:kubelet-closed'],
  ],
  [
    'the same off the cluster-facing interface: warnings',
    'felix/dataplane/linux/endpoint_mgr.go (per-interface HEP)',
    [P('deny', { selector: 'role == "edge"', ingress: [{ action: 'Deny' }] })],
    [],
    DEFAULT_FAILSAFE,
    false,
    ['warning:agent-port-closed', 'warning:kubelet-closed'],
  ],
  [
    'kubelet open to the cluster net only: warnings naming the allow',
    'felix/rules/rule_defs.go (source nets)',
    [
      P('keep', {
        selector: 'role == "edge"',
        order: 1,
        ingress: [{ action: 'Allow', protocol: 'TCP', source: { nets: ['10.0.0.0/8'] }, destination: { ports: [10250, 9808] } }],
      }),
      P('deny', { selector: 'role == "edge"', order: 2, ingress: [{ action: 'Deny' }] }),
    ],
    [],
    DEFAULT_FAILSAFE,
    true,
    ['warning:agent-port-closed', 'warning:kubelet-closed'],
  ],
  [
    'kubelet and agent allowed for every peer: nothing',
    'felix/rules/endpoints.go',
    [
      P('keep', { selector: 'role == "edge"', order: 1, ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [10250, 9808] } }] }),
      P('deny', { selector: 'role == "edge"', order: 2, ingress: [{ action: 'Deny' }] }),
    ],
    [],
    DEFAULT_FAILSAFE,
    true,
    [],
  ],
  [
    'SSH and the API server when the failsafe lists were emptied',
    'felix/config/config_params.go (FailsafeInboundHostPorts), felix/rules/static.go',
    [
      P('web', {
        selector: 'role == "edge"',
        types: ['Ingress', 'Egress'],
        ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [10250, 9808] } }],
        egress: [{ action: 'Allow', protocol: 'UDP', destination: { ports: [53] } }],
      }),
    ],
    [],
    emptied,
    true,
    ['error:apiserver-closed', 'error:ssh-closed', 'warning:apiserver-closed'],
  ],
  [
    'a selector-less normal policy with only Allow rules',
    'felix/rules/endpoints.go (end of tier drop), felix/calc (empty selector = all())',
    [P('open-web', { ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] })],
    ['projectcalico-default-allow'],
    DEFAULT_FAILSAFE,
    true,
    ['error:agent-port-closed', 'error:allow-only-select-all', 'error:kubelet-closed'],
  ],
  [
    'the same in a tier whose default action is Pass: no lockout',
    'api/pkg/apis/projectcalico/v3/tier.go (defaultAction Pass)',
    [P('open-web', { tier: 'kube-admin', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] })],
    ['projectcalico-default-allow'],
    DEFAULT_FAILSAFE,
    true,
    [],
  ],
  [
    'deny-all through a namespaceSelector true on absent labels (!has(x)): still every HEP',
    'libcalico-go/lib/backend/syncersv1/updateprocessors/globalnetworkpolicyprocessor.go (prefix pcns., all() rewrite)',
    [P('deny', { namespaceSelector: '!has(team)', ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [25] } }, { action: 'Allow' }] })],
    [],
    DEFAULT_FAILSAFE,
    true,
    ['error:deny-all-endpoints'],
  ],
  [
    'a namespaceSelector all(): workloads only, no HEP lint',
    'libcalico-go/lib/backend/syncersv1/updateprocessors/globalnetworkpolicyprocessor.go',
    [P('deny', { namespaceSelector: 'all()', ingress: [{ action: 'Deny' }] })],
    ['projectcalico-default-allow'],
    DEFAULT_FAILSAFE,
    true,
    [],
  ],
  [
    'types not written on an ingress-only normal policy',
    'felix/calc/policy_sorter.go (no types = Ingress and Egress)',
    [parsePolicy(obj({ selector: 'role == "edge"', ingress: [{ action: 'Allow' }] }, 'untyped'), 'test', { types: 'felix' })],
    [],
    DEFAULT_FAILSAFE,
    true,
    ['warning:types-missing'],
  ],
];

describe('lockout lint (through the Felix model)', () => {
  for (const [what, source, policies, profiles, failsafe, facing, expected] of LOCKOUTS) {
    it(`${what}  [${source}]`, () => {
      const h: HostEndpoint = { ...hep('n1-eth0', { role: 'edge' }), spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.1'], profiles } };
      const model = buildPolicyModel(acceptedPolicies(policies), []);
      const explanations = [explainHostEndpoint(h, model)];
      const findings = lint({ policies, hostEndpoints: [h], explanations, failsafe, model, clusterFacing: new Set(facing ? ['n1-eth0'] : []) });
      assert.deepEqual(
        findings
          .filter((f) => LOCKOUT_CODES.has(f.code))
          .map((f) => `${f.severity}:${f.code}`)
          .sort(),
        expected,
        JSON.stringify(
          findings.map((f) => f.message),
          null,
          1,
        ),
      );
    });
  }

  it('uses the configured agent port and names the closing policy', () => {
    const policies = [P('deny', { selector: 'role == "edge"', ingress: [{ action: 'Deny' }] })];
    const h = hep('n1-eth0', { role: 'edge' });
    const model = buildPolicyModel(policies, []);
    const findings = lint({
      policies,
      hostEndpoints: [h],
      explanations: [explainHostEndpoint(h, model)],
      failsafe: DEFAULT_FAILSAFE,
      model,
      agentPort: 9100,
      clusterFacing: new Set(['n1-eth0']),
    });
    const f = findings.find((x) => x.code === 'agent-port-closed')!;
    assert.match(f.message, /TCP 9100 ingress .* dropped for every peer by policy deny \(tier default\) ingress rule 1/);
    assert.equal(f.policy, 'deny');
  });
});
