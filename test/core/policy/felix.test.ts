// Felix's evaluation model (src/core/policy/felix.ts and friends), table by table. Each case names the
// Calico rule it encodes and where it lives in projectcalico/calico (read at v3.31.6 and v3.32.1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostEndpoint } from '../../../src/core/model.ts';
import {
  buildPolicyModel,
  DEFAULT_FAILSAFE,
  endpointPipeline,
  failsafeFrom,
  felixSelectorText,
  parsePolicy,
  parseTier,
  selectsLabels,
  sortPolicies,
  tierTable,
  walkEndpoint,
  type CalicoVersion,
  type Direction,
  type Oracle,
  type Outcome,
  type Policy,
  type TrafficPath,
} from '../../../src/core/policy/index.ts';

/** Read as the cluster stores it (Felix's types defaulting), like the policy guard does. */
function gnp(name: string, spec: Record<string, unknown>, extra: { kind?: string; annotations?: Record<string, string> } = {}): Policy {
  return parsePolicy(
    { ...(extra.kind ? { kind: extra.kind } : {}), metadata: { name, ...(extra.annotations ? { annotations: extra.annotations } : {}) }, spec },
    'test',
    { types: 'felix' },
  );
}

function hep(labels: Record<string, string>, profiles: string[] = []): HostEndpoint {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: 'n1-eth0', labels },
    spec: { node: 'n1', interfaceName: 'eth0', profiles },
  };
}

const ALLOW = 'projectcalico-default-allow';

describe('selector prefixing for namespaceSelector / serviceAccountSelector (libcalico-go/lib/backend/syncersv1/updateprocessors/globalnetworkpolicyprocessor.go, selectors.go)', () => {
  const cases: { name: string; selector: string; ns?: string; sa?: string; text: string; selectsHep: boolean }[] = [
    { name: 'no namespaceSelector: selector unchanged', selector: 'role == "x"', text: 'role == "x"', selectsHep: true },
    {
      name: 'namespaceSelector all() alone becomes has(projectcalico.org/namespace)',
      selector: '',
      ns: 'all()',
      text: 'has(projectcalico.org/namespace)',
      selectsHep: false,
    },
    {
      name: "the user's all() is rewritten too, and the namespace selector prefixed with pcns.",
      selector: 'all()',
      ns: 'name == "prod"',
      text: '(has(projectcalico.org/namespace)) && pcns.name == "prod"',
      selectsHep: false,
    },
    {
      name: 'serviceAccountSelector: pcsa. prefix and has(projectcalico.org/serviceaccount)',
      selector: '',
      sa: 'all()',
      text: 'has(projectcalico.org/serviceaccount)',
      selectsHep: false,
    },
    {
      name: 'a namespaceSelector true on absent labels still selects a HEP (!has(pcns.x))',
      selector: '',
      ns: '!has(x)',
      text: '!has(pcns.x)',
      selectsHep: true,
    },
    {
      name: 'an unparsable namespaceSelector is not appended (parseSelectorAttachPrefix returns "")',
      selector: 'role == "x"',
      ns: '((',
      text: 'role == "x"',
      selectsHep: true,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(felixSelectorText(c.selector, c.ns ?? '', c.sa ?? ''), c.text);
      const p = gnp('p', { selector: c.selector, ...(c.ns ? { namespaceSelector: c.ns } : {}), ...(c.sa ? { serviceAccountSelector: c.sa } : {}) });
      assert.equal(selectsLabels(p, { role: 'x' }), c.selectsHep);
    });
  }
});

describe('selectors that are true on absent labels select every HEP (libcalico-go/lib/selector/parser/ast.go)', () => {
  for (const selector of ['', 'all()', 'projectcalico.org/namespace not in {"kube-system", "calico-system"}', '!has(x)', 'x != "v"']) {
    it(`"${selector}"`, () => assert.equal(selectsLabels(gnp('p', { selector }), { 'calico-hep-agent.io/node': 'n1' }), true));
  }
});

describe('types (felix/calc/policy_sorter.go ExtractPolicyMetadata)', () => {
  it('a stored policy without types is Ingress+Egress ("Back compatibility: no Types means Ingress and Egress")', () => {
    assert.deepEqual(gnp('p', { ingress: [{ action: 'Allow' }] }).types, ['Ingress', 'Egress']);
    assert.deepEqual(gnp('p', {}).typesWritten, []);
  });
  it('types are compared case-insensitively (strings.EqualFold)', () => {
    assert.deepEqual(gnp('p', { types: ['egress'] }).types, ['Egress']);
  });
  it('the Calico API server defaulting (from the rules present) is the default for files that go through it', () => {
    assert.deepEqual(parsePolicy({ metadata: { name: 'p' }, spec: { ingress: [{ action: 'Allow' }] } }, 't').types, ['Ingress']);
  });
});

describe('order (felix/calc/policy_sorter.go TierLess, PolKVLess)', () => {
  const names = (ps: Policy[], v?: CalicoVersion) => sortPolicies(ps, tierTable([], ps), v).map((p) => p.name);
  it('3.32 (the modelled version): equal orders compare "name/namespace/kind", so a-b sorts before a', () => {
    assert.deepEqual(names([gnp('a', { order: 1 }), gnp('a-b', { order: 1 }), gnp('a0', { order: 1 })]), ['a-b', 'a', 'a0']);
  });
  it('3.31: equal orders compare names, so a sorts before a-b', () => {
    assert.deepEqual(names([gnp('a', { order: 1 }), gnp('a-b', { order: 1 })], '3.31'), ['a', 'a-b']);
  });
  it('no order sorts last in its tier (+Inf)', () => {
    assert.deepEqual(names([gnp('none', {}), gnp('big', { order: 1e9 })]), ['big', 'none']);
  });
  it('tiers: Tier objects first, then order (none last), then name; built-ins kube-admin < default < kube-baseline', () => {
    const ps = [
      gnp('d', { order: 1 }),
      gnp('adm', { tier: 'kube-admin' }),
      gnp('base', { tier: 'kube-baseline' }),
      gnp('s', { tier: 'sec' }),
      gnp('u', { tier: 'unknown' }),
    ];
    const table = tierTable([parseTier({ metadata: { name: 'sec' }, spec: { order: 50 } })], ps);
    assert.deepEqual(
      sortPolicies(ps, table).map((p) => p.name),
      ['s', 'adm', 'd', 'base', 'u'],
    );
  });
  it('staged policies never enforce (felix/rules/endpoints.go skips model.KindIsStaged)', () => {
    const m = buildPolicyModel([gnp('s', {}, { kind: 'StagedGlobalNetworkPolicy' }), gnp('e', {})], []);
    assert.deepEqual(
      m.policies.map((p) => p.name),
      ['e'],
    );
  });
});

/** The verdicts for all traffic (symbolic): `drop:end-of-tier/default`, `allow:profile/...`. */
function verdicts(policies: Policy[], h: HostEndpoint | undefined, direction: Direction, path: TrafficPath = 'host', tiers: unknown[] = []): string[] {
  const model = buildPolicyModel(
    policies,
    tiers.map((t) => parseTier(t as never)),
  );
  return walkEndpoint(endpointPipeline(h, model), direction, path).map(show);
}
function show(o: Outcome): string {
  const c = o.cause;
  const what =
    c.kind === 'rule'
      ? `${c.ref.stage}:${c.ref.policy}#${c.ref.index}`
      : c.kind === 'end-of-tier'
        ? `end-of-tier:${c.stage}:${c.tier}`
        : c.kind === 'profile'
          ? `profile:${c.profile}`
          : c.kind;
  return `${o.verdict}${o.certain ? '' : '?'} ${what}`;
}

describe('the walk (felix/rules/endpoints.go endpointIptablesChain; felix/calc/event_sequencer.go tierInfoToProtoTierInfo; felix/rules/static.go)', () => {
  const ssh = { action: 'Allow', protocol: 'TCP', destination: { ports: [22] } };
  const cases: { name: string; policies: Policy[]; hep?: HostEndpoint | null; direction: Direction; path?: TrafficPath; tiers?: unknown[]; want: string[] }[] =
    [
      { name: 'no HostEndpoint: Felix polices nothing', policies: [gnp('deny', {})], hep: null, direction: 'ingress', want: ['allow no-host-endpoint'] },
      {
        name: 'no policy: profiles decide; default-allow allows',
        policies: [],
        hep: hep({}, [ALLOW]),
        direction: 'ingress',
        want: ['allow profile:projectcalico-default-allow'],
      },
      { name: 'no policy, no profile: drop "if no profiles matched"', policies: [], hep: hep({}), direction: 'egress', want: ['drop no-profile-allowed'] },
      {
        name: 'tiers before profiles: a selecting policy without rules ends its tier with a drop, default-allow is never reached',
        policies: [gnp('pod-default-deny', { selector: 'projectcalico.org/namespace not in {"kube-system"}', types: ['Ingress', 'Egress'] })],
        hep: hep({}, [ALLOW]),
        direction: 'ingress',
        want: ['drop end-of-tier:normal:default'],
      },
      {
        name: 'an Allow rule with criteria exempts some traffic; the rest meets the end of tier',
        policies: [gnp('ssh', { ingress: [ssh] })],
        hep: hep({}, [ALLOW]),
        direction: 'ingress',
        want: ['allow? normal:ssh#0', 'drop? end-of-tier:normal:default'],
      },
      {
        name: 'a catch-all Pass skips to the next tier, then profiles',
        policies: [gnp('pass', { ingress: [{ action: 'Pass' }] })],
        hep: hep({}, [ALLOW]),
        direction: 'ingress',
        want: ['allow profile:projectcalico-default-allow'],
      },
      {
        name: 'a tier with defaultAction Pass has no end-of-tier drop',
        policies: [gnp('t.p', { tier: 't', ingress: [ssh] })],
        tiers: [{ metadata: { name: 't' }, spec: { order: 10, defaultAction: 'Pass' } }],
        hep: hep({}, [ALLOW]),
        direction: 'ingress',
        want: ['allow? normal:t.p#0', 'allow? profile:projectcalico-default-allow'],
      },
      {
        name: 'the built-in kube-admin tier passes at its end',
        policies: [gnp('adm', { tier: 'kube-admin', ingress: [ssh] })],
        hep: hep({}),
        direction: 'ingress',
        want: ['allow? normal:adm#0', 'drop? no-profile-allowed'],
      },
      {
        name: 'a policy governs only its types: an Ingress-only policy leaves egress to the profiles',
        policies: [gnp('in', { types: ['Ingress'] })],
        hep: hep({}),
        direction: 'egress',
        want: ['drop no-profile-allowed'],
      },
      {
        name: 'preDNAT tiers have no end-of-tier drop (DefaultAction Pass): normal policy still decides',
        policies: [gnp('pre', { preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [ssh] })],
        hep: hep({}, [ALLOW]),
        direction: 'ingress',
        want: ['allow? preDNAT:pre#0', 'allow? profile:projectcalico-default-allow'],
      },
      {
        name: 'preDNAT is ingress only (egressAllowed=false)',
        policies: [gnp('pre', { preDNAT: true, applyOnForward: true, egress: [{ action: 'Deny' }] })],
        hep: hep({}, [ALLOW]),
        direction: 'egress',
        want: ['allow profile:projectcalico-default-allow'],
      },
      {
        name: 'a preDNAT Deny drops before normal policy',
        policies: [
          gnp('pre', { preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Deny', source: { nets: ['10.0.0.0/8'] } }] }),
          gnp('allow-all', { ingress: [{ action: 'Allow' }] }),
        ],
        hep: hep({}),
        direction: 'ingress',
        want: ['drop? preDNAT:pre#0', 'allow? normal:allow-all#0'],
      },
      {
        name: 'an untracked (doNotTrack) catch-all Allow accepts: nothing later runs (static.go acceptAlreadyAccepted)',
        policies: [gnp('raw', { doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }), gnp('deny', { ingress: [{ action: 'Deny' }] })],
        hep: hep({}),
        direction: 'ingress',
        want: ['allow untracked:raw#0'],
      },
      {
        name: 'forwarded traffic: no applyOnForward policy at all -> allowed ("Allow forwarded traffic by default")',
        policies: [gnp('deny', { ingress: [{ action: 'Deny' }] })],
        hep: hep({}),
        direction: 'ingress',
        path: 'forward',
        want: ['allow forward-default'],
      },
      {
        name: 'forwarded traffic: an applyOnForward policy ends its tier with a drop',
        policies: [gnp('fwd', { applyOnForward: true, types: ['Ingress'], ingress: [ssh] })],
        hep: hep({}),
        direction: 'ingress',
        path: 'forward',
        want: ['allow? forward:fwd#0', 'drop? end-of-tier:forward:default'],
      },
      {
        name: 'forwarded traffic: forward tiers only for ingress -> egress gets no verdict from Calico (no default allow rendered)',
        policies: [gnp('fwd', { applyOnForward: true, types: ['Ingress'] })],
        hep: hep({}),
        direction: 'egress',
        path: 'forward',
        want: ['undecided forward-undecided'],
      },
      {
        name: 'forwarded traffic: a preDNAT Allow decides it before the forward policy (accept mark skips the incoming forward chain)',
        policies: [
          gnp('pre', { preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Allow' }] }),
          gnp('fwd', { applyOnForward: true, types: ['Ingress'] }),
        ],
        hep: hep({}),
        direction: 'ingress',
        path: 'forward',
        want: ['allow preDNAT:pre#0'],
      },
      {
        name: 'profiles in order: an unknown profile before default-allow may deny',
        policies: [],
        hep: hep({}, ['kns.x', ALLOW]),
        direction: 'ingress',
        want: ['allow? profile:kns.x', 'drop? profile:kns.x', 'allow? profile:projectcalico-default-allow'],
      },
      {
        name: 'Log rules decide nothing',
        policies: [gnp('log', { ingress: [{ action: 'Log' }, { action: 'Allow' }] })],
        hep: hep({}),
        direction: 'ingress',
        want: ['allow normal:log#1'],
      },
    ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(verdicts(c.policies, c.hep === null ? undefined : (c.hep ?? hep({})), c.direction, c.path, c.tiers), c.want);
    });
  }

  it('with a yes/no oracle (one packet) the walk returns its single verdict; profile order decides (endpoints.go "Return if profile accepted")', () => {
    const model = buildPolicyModel([gnp('ssh', { ingress: [ssh] })], []);
    const pipe = endpointPipeline(hep({}, ['deny-all', ALLOW]), model);
    const port22: Oracle = {
      rule: (ref) => (ref.rule.destination?.ports?.includes(22) ? 'yes' : 'no'),
      profile: (n) => (n === 'deny-all' ? 'deny' : n === ALLOW ? 'allow' : 'unknown'),
    };
    assert.deepEqual(walkEndpoint(pipe, 'ingress', 'host', port22).map(show), ['allow normal:ssh#0']);
    const port80: Oracle = { rule: () => 'no' };
    assert.deepEqual(walkEndpoint(pipe, 'ingress', 'host', port80).map(show), ['drop end-of-tier:normal:default']);
    const noPolicy = endpointPipeline(hep({}, ['deny-all', ALLOW]), buildPolicyModel([], []));
    assert.deepEqual(walkEndpoint(noPolicy, 'ingress', 'host', port22).map(show), ['drop profile:deny-all']);
  });

  it('failsafe ports are accepted before any policy when the oracle says the packet hits one', () => {
    const pipe = endpointPipeline(hep({}), buildPolicyModel([gnp('deny', { ingress: [{ action: 'Deny' }] })], []));
    assert.deepEqual(walkEndpoint(pipe, 'ingress', 'host', { rule: () => 'yes', failsafe: () => 'yes' }).map(show), ['allow failsafe']);
  });
});

describe('failsafe ports (felix/config/config_params.go; felix/calc/config_batcher.go MergeSelectorConfigs)', () => {
  const fcs = [
    { metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [{ port: 22 }] } },
    {
      metadata: { name: 'edge-old', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { nodeSelector: 'role == "edge"', failsafeInboundHostPorts: [{ port: 2222 }], failsafeOutboundHostPorts: [] },
    },
    {
      metadata: { name: 'edge-new', creationTimestamp: '2026-06-01T00:00:00Z' },
      spec: { nodeSelector: 'role == "edge"', failsafeInboundHostPorts: [{ port: 1 }] },
    },
    { metadata: { name: 'node.n2' }, spec: { failsafeInboundHostPorts: [{ port: 10 }] } },
  ];
  it('no FelixConfiguration: Calico defaults', () => assert.deepEqual(failsafeFrom([]), DEFAULT_FAILSAFE));
  it('a node the selector does not match: default', () =>
    assert.deepEqual(failsafeFrom(fcs, { name: 'n1', labels: { role: 'worker' } }).inbound, [{ protocol: 'tcp', port: 22 }]));
  it('selector-scoped over default; the oldest matching one wins', () => {
    const fs = failsafeFrom(fcs, { name: 'n1', labels: { role: 'edge' } });
    assert.deepEqual(fs.inbound, [{ protocol: 'tcp', port: 2222 }]);
    assert.deepEqual(fs.outbound, []);
    assert.equal(fs.source, 'FelixConfiguration default + FelixConfiguration edge-old (nodeSelector)');
  });
  it('node.<name> over selector-scoped, field by field', () => {
    const fs = failsafeFrom(fcs, { name: 'n2', labels: { role: 'edge' } });
    assert.deepEqual(fs.inbound, [{ protocol: 'tcp', port: 10 }]);
    assert.deepEqual(fs.outbound, [], 'outbound still from edge-old');
  });
});
