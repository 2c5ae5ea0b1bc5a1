// The policy guard's decisions (src/core/policy/guard.ts), table by table. Each case names the Calico
// rule that makes the write safe or not, with its source in projectcalico/calico (v3.31.6 / v3.32.1).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { HostEndpoint } from '../../../src/core/model.ts';
import {
  decidePolicyGuard,
  endpointPipeline,
  modelFromSnapshot,
  TRUST_ANNOTATION,
  walkEndpoint,
  type Oracle,
  type PolicyGuardConfig,
  type PolicySnapshot,
} from '../../../src/core/policy/index.ts';

const ALLOW = 'projectcalico-default-allow';
const OURS = { 'app.kubernetes.io/managed-by': 'calico-hep-agent', 'calico-hep-agent.io/node': 'n1', 'calico-hep-agent.io/interface': 'eth0' };

function hep(labels: Record<string, string> = {}, profiles: string[] = [ALLOW], name = 'n1-eth0'): HostEndpoint {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels: { ...OURS, ...labels } },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.10'], profiles },
  };
}

function gnp(name: string, spec: Record<string, unknown>, annotations?: Record<string, string>) {
  return { apiVersion: 'projectcalico.org/v3', kind: 'GlobalNetworkPolicy', metadata: { name, ...(annotations ? { annotations } : {}) }, spec };
}

const snap = (gnps: unknown[], tiers: unknown[] = [], felixConfigurations: unknown[] = []): PolicySnapshot => ({
  globalNetworkPolicies: gnps,
  tiers,
  felixConfigurations,
});
const SAFE: PolicyGuardConfig = { mode: 'enforce-safe', trustedPolicies: [] };

const podDefaultDeny = gnp('default-deny', {
  selector: 'projectcalico.org/namespace not in {"kube-system", "calico-system", "tigera-operator"}',
  types: ['Ingress', 'Egress'],
});
const ssh = { action: 'Allow', protocol: 'TCP', destination: { ports: [22] } };

interface Case {
  name: string;
  /** The Calico rule the decision encodes, with its source. */
  rule: string;
  desired?: HostEndpoint;
  current?: HostEndpoint[];
  snapshot: PolicySnapshot | undefined;
  config?: PolicyGuardConfig;
  /** `undefined`: written; otherwise the policies the hold names ([] for none) and a text the message holds. */
  held?: { policies: string[]; says: string; write?: 'create' | 'update' };
}

const cases: Case[] = [
  {
    name: 'a Pass that may match skips the rest of its tier: traffic it passes reaches no later Allow, and with no profile it drops',
    rule: 'felix/rules/endpoints.go: Pass jumps to the next tier, then to the profiles; no profile allows, so the packet drops',
    current: [hep({}, [])],
    desired: hep({ role: 'm' }, []),
    snapshot: snap([
      gnp('allow-all', { selector: '', egress: [{ action: 'Allow' }], types: ['Egress'] }),
      gnp('pass-10', { selector: 'role == "m"', order: 1, egress: [{ action: 'Pass', source: { nets: ['10.0.0.0/8'] } }], types: ['Egress'] }),
    ]),
    held: { policies: [], says: 'no profile', write: 'update' },
  },
  {
    name: 'policies not yet listed: hold',
    rule: 'agent rule (docs/policies.md): not knowing the policies must not open the way to a lockout',
    snapshot: undefined,
    held: { policies: [], says: 'until GlobalNetworkPolicies and Tiers have been listed' },
  },
  {
    name: 'tiers not yet listed: hold',
    rule: 'agent rule: tiers decide end-of-tier actions (felix/rules/endpoints.go), so they must be known too',
    snapshot: { globalNetworkPolicies: [], tiers: undefined, felixConfigurations: [] },
    held: { policies: [], says: 'until GlobalNetworkPolicies and Tiers have been listed' },
  },
  {
    name: 'no policy, default-allow profile: written',
    rule: 'no tier applies, so the profiles decide and projectcalico-default-allow allows (felix/rules/endpoints.go: profiles after tiers)',
    snapshot: snap([]),
  },
  {
    name: "Calico's pod default-deny (namespace not in {...}, Ingress+Egress) selects the HEP: held, naming it",
    rule: 'a selector true on an absent label matches the HEP (libcalico-go/lib/selector/parser/ast.go); tiers before profiles and the end-of-tier drop (felix/rules/endpoints.go)',
    snapshot: snap([podDefaultDeny]),
    held: { policies: ['default-deny'], says: 'ingress to the node on eth0: all traffic; failsafe ports stay open (tcp:22' },
  },
  {
    name: 'an empty selector: held',
    rule: 'an empty selector is all() (libcalico-go/lib/selector/parser)',
    snapshot: snap([gnp('everything', { selector: '', types: ['Ingress'], ingress: [ssh] })]),
    held: { policies: ['everything'], says: 'except what everything rule 1 (Allow tcp to ports 22) takes first' },
  },
  {
    name: '!has(x): held',
    rule: '!has(x) is true on a HEP without x (libcalico-go/lib/selector/parser/ast.go)',
    snapshot: snap([gnp('no-x', { selector: '!has(x)', types: ['Egress'] })]),
    held: { policies: ['no-x'], says: 'egress from the node via eth0' },
  },
  {
    name: 'a GNP with only a namespaceSelector selects no HEP: written',
    rule: 'namespaceSelector all() becomes has(projectcalico.org/namespace) (libcalico-go/.../updateprocessors/globalnetworkpolicyprocessor.go)',
    snapshot: snap([gnp('ns-only', { namespaceSelector: 'all()', types: ['Ingress', 'Egress'] })]),
  },
  {
    name: 'a GNP with selector all() and a namespaceSelector selects no HEP: written',
    rule: 'the all() rewrite applies to the whole combined selector (globalnetworkpolicyprocessor.go strings.Replace)',
    snapshot: snap([gnp('pods', { selector: 'all()', namespaceSelector: 'name == "prod"', ingress: [{ action: 'Deny' }] })]),
  },
  {
    name: 'a GNP without types and only ingress rules also drops egress (stored without types = Ingress+Egress)',
    rule: 'felix/calc/policy_sorter.go ExtractPolicyMetadata: no Types means Ingress and Egress',
    snapshot: snap([gnp('ssh-only', { selector: 'all()', ingress: [{ action: 'Allow' }] })]),
    held: { policies: ['ssh-only'], says: 'egress from the node via eth0: all traffic' },
  },
  {
    name: 'a policy that allows everything: written',
    rule: 'a catch-all Allow accepts before the end of tier (felix/rules/endpoints.go)',
    snapshot: snap([gnp('open', { selector: 'all()', ingress: [{ action: 'Allow' }], egress: [{ action: 'Allow' }] })]),
  },
  {
    name: 'a tier with defaultAction Pass: no end-of-tier drop, default-allow reached: written',
    rule: 'endOfTierDrop only when tier.DefaultAction != Pass (felix/rules/endpoints.go)',
    snapshot: snap([gnp('t.ssh', { tier: 't', selector: 'all()', ingress: [ssh] })], [{ metadata: { name: 't' }, spec: { order: 10, defaultAction: 'Pass' } }]),
  },
  {
    name: 'a preDNAT Deny: held',
    rule: 'preDNAT policies run in mangle PREROUTING before normal policy (felix/rules/static.go, event_sequencer.go)',
    snapshot: snap([
      gnp('block-nets', { preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Deny', source: { nets: ['10.0.0.0/8'] } }] }),
    ]),
    held: { policies: ['block-nets'], says: 'traffic matching "Deny from nets 10.0.0.0/8"' },
  },
  {
    name: 'a preDNAT Allow-only policy: no end-of-tier drop: written',
    rule: 'untracked and preDNAT tiers get DefaultAction Pass (felix/calc/event_sequencer.go tierInfoToProtoTierInfo)',
    snapshot: snap([gnp('pre', { preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [ssh] })]),
  },
  {
    name: 'an applyOnForward policy drops forwarded traffic: held',
    rule: 'forward tiers end with a drop; without them forwarded traffic is allowed (felix/rules/endpoints.go chainTypeForward)',
    snapshot: snap([gnp('fwd', { applyOnForward: true, types: ['Ingress'], ingress: [ssh] })]),
    held: {
      policies: ['fwd'],
      says: 'traffic forwarded in from eth0: all traffic except what fwd rule 1 (Allow tcp to ports 22) takes first: dropped by the end of tier default (forwarded traffic)',
    },
  },
  {
    name: 'forward tiers for ingress only: forwarded egress gets no verdict from Calico, as without a HEP: written',
    rule: 'no "Allow forwarded traffic by default" rule once forward tiers exist; the chain returns without a verdict (felix/rules/endpoints.go)',
    snapshot: snap([gnp('fwd-open', { applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Allow' }] })]),
  },
  {
    name: 'a staged policy does not enforce: written',
    rule: 'felix/rules/endpoints.go skips staged kinds (model.KindIsStaged)',
    snapshot: snap([{ ...podDefaultDeny, kind: 'StagedGlobalNetworkPolicy' }]),
  },
  {
    name: 'opt in by glob: written',
    rule: 'agent rule: the operator accepts the drops of trusted policies (config policyGuard.trustedPolicies)',
    snapshot: snap([podDefaultDeny]),
    config: { mode: 'enforce-safe', trustedPolicies: ['default-*'] },
  },
  {
    name: 'opt in by annotation: written',
    rule: `agent rule: annotation ${TRUST_ANNOTATION}: trusted on the GNP`,
    snapshot: snap([{ ...podDefaultDeny, metadata: { name: 'default-deny', annotations: { [TRUST_ANNOTATION]: 'trusted' } } }]),
  },
  {
    name: "a trusted allow policy in the same tier accepts its end-of-tier drop, but not another policy's Deny rule",
    rule: 'the end-of-tier drop exists as soon as one policy of the tier selects the endpoint (felix/rules/endpoints.go)',
    snapshot: snap([
      gnp('ssh', { selector: 'all()', ingress: [ssh], egress: [{ action: 'Allow' }] }),
      gnp('deny-telnet', { selector: 'all()', types: ['Ingress'], ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [23] } }] }),
    ]),
    config: { mode: 'enforce-safe', trustedPolicies: ['ssh'] },
    held: { policies: ['deny-telnet'], says: 'Deny tcp to ports 23' },
  },
  {
    name: 'require-policy: every policy is trusted',
    rule: 'agent rule: global opt-in (mode require-policy)',
    snapshot: snap([podDefaultDeny]),
    config: { mode: 'require-policy', trustedPolicies: [] },
  },
  {
    name: 'require-policy: no profile and no policy: held (nothing to opt in to)',
    rule: 'no tier applies and no profile: "Drop if no profiles matched" (felix/rules/endpoints.go)',
    desired: hep({}, []),
    snapshot: snap([]),
    config: { mode: 'require-policy', trustedPolicies: [] },
    held: { policies: [], says: 'no policy decided and the HostEndpoint has no profile' },
  },
  {
    name: 'require-policy: an ingress-only preDNAT policy leaves egress to no profile: held',
    rule: 'preDNAT is ingress only and does not end its tier with a drop (event_sequencer.go); then profiles (endpoints.go)',
    desired: hep({}, []),
    snapshot: snap([gnp('pre', { preDNAT: true, applyOnForward: true, types: ['Ingress'], ingress: [{ action: 'Allow' }] })]),
    config: { mode: 'require-policy', trustedPolicies: [] },
    held: { policies: [], says: 'egress from the node via eth0' },
  },
  {
    name: 'mode off: written whatever the policies',
    rule: 'agent rule: mode off, no guard',
    snapshot: undefined,
    config: { mode: 'off', trustedPolicies: [] },
  },
  {
    name: 'an update that changes neither labels nor profiles: written even while policies are unknown',
    rule: 'expectedIPs do not change which policies apply to the HEP (selectors read labels only)',
    desired: hep(),
    current: [{ ...hep(), spec: { ...hep().spec, expectedIPs: ['192.0.2.99'] } }],
    snapshot: undefined,
  },
  {
    name: 'a label change that makes the pod default-deny select the HEP: held as an update',
    rule: 'selectors read the HEP labels (libcalico-go/lib/selector)',
    desired: hep({ zone: 'a' }),
    current: [hep({ zone: 'a', keep: 'yes' })],
    snapshot: snap([gnp('deny-unkept', { selector: '!has(keep)', types: ['Ingress'] })]),
    held: { policies: ['deny-unkept'], says: 'ingress', write: 'update' },
  },
  {
    name: 'a label change while the same policy already drops the same traffic: written',
    rule: 'agent rule: the drop exists before and after with the same exemptions, so no allowed traffic is lost (felix/rules/endpoints.go end of tier)',
    desired: hep({ zone: 'b' }),
    current: [hep({ zone: 'a' })],
    snapshot: snap([podDefaultDeny]),
  },
  {
    name: 'a label change that takes away an allow rule: held',
    rule: 'the end-of-tier drop now also takes what the allow rule exempted (felix/rules/endpoints.go)',
    desired: hep({}),
    current: [hep({ ssh: 'yes' })],
    snapshot: snap([podDefaultDeny, gnp('ssh', { selector: 'ssh == "yes"', types: ['Ingress'], ingress: [ssh] })]),
    held: { policies: ['default-deny'], says: 'ingress to the node on eth0: all traffic' },
  },
  {
    name: 'removing the default-allow profile while no policy applies: held',
    rule: 'profiles are reached when no tier applies; without default-allow, "Drop if no profiles matched" (felix/rules/endpoints.go)',
    desired: hep({}, []),
    current: [hep({}, [ALLOW])],
    snapshot: snap([]),
    held: { policies: [], says: 'no policy decided', write: 'update' },
  },
  {
    name: 'an unknown profile before default-allow may deny: held',
    rule: 'profiles in order, the first that decides wins (felix/rules/endpoints.go "Return if profile accepted")',
    desired: hep({}, ['kns.default', ALLOW]),
    snapshot: snap([]),
    held: { policies: [], says: 'profile kns.default' },
  },
  {
    name: 'an existing HEP that drops everything today: nothing to lose',
    rule: 'agent rule: when nothing is allowed today on a path, no write can turn allowed into dropped (felix/rules/endpoints.go "Drop if no profiles matched")',
    desired: hep({ x: '1' }, []),
    current: [hep({}, [])],
    snapshot: snap([]),
  },
];

describe('policy guard decisions', () => {
  for (const c of cases) {
    it(`${c.name} [${c.rule}]`, () => {
      const desired = c.desired ?? hep();
      const d = decidePolicyGuard({
        desired: [desired],
        current: c.current ?? [],
        snapshot: c.snapshot,
        config: c.config ?? SAFE,
        node: { name: 'n1', labels: {} },
      });
      const h = d.held.get(desired.metadata.name);
      if (c.held === undefined) {
        assert.equal(h, undefined, `expected the write, got held: ${h?.message}`);
        return;
      }
      assert.ok(h, 'expected a hold');
      assert.deepEqual(h.policies, c.held.policies);
      const texts = [h.message, ...h.regressions.map((r) => r.text)];
      assert.ok(
        texts.some((t) => t.includes(c.held!.says)),
        `${JSON.stringify(texts)} should say "${c.held.says}"`,
      );
      assert.equal(h.write, c.held.write ?? (c.current?.length ? 'update' : 'create'));
      for (const p of c.held.policies) assert.ok(h.message.includes(p), `message names ${p}`);
    });
  }

  it('names the first regression and counts the rest; each regression has its own text', () => {
    const d = decidePolicyGuard({ desired: [hep()], current: [], snapshot: snap([podDefaultDeny]), config: SAFE });
    const h = d.held.get('n1-eth0')!;
    assert.deepEqual(
      h.regressions.map((r) => `${r.path}/${r.direction}`),
      ['host/ingress', 'host/egress'],
    );
    assert.match(
      h.message,
      /^HostEndpoint n1-eth0 not created: ingress to the node on eth0: all traffic; failsafe ports stay open \(tcp:22, .*\): dropped by the end of tier default: policy default-deny selects the HostEndpoint and no rule matched \(and 1 more\)/,
    );
  });
});

// Soundness against Felix's model packet by packet: whenever the guard lets a write through
// (enforce-safe, nothing opted in), no packet that Felix allows (or leaves undecided) before the write
// is dropped after it, on any path and in any direction. The symbolic comparison in guard.ts is checked
// here against the one-packet walk (felix.ts walkEndpoint with a yes/no oracle).
describe('property: a write the guard lets through drops no packet that was allowed before', () => {
  const PORTS = [22, 80, 443];
  const NETS = ['10.0.0.0/8', '192.168.0.0/16'];
  const arbRule = fc.record(
    {
      action: fc.constantFrom('Allow', 'Deny', 'Pass', 'Log'),
      protocol: fc.constantFrom('TCP', 'UDP'),
      destination: fc.record({ ports: fc.constantFrom([22], [80], [443], [22, 80]) }),
      source: fc.record({ nets: fc.constantFrom([NETS[0]!], [NETS[1]!]) }),
    },
    { requiredKeys: ['action'] },
  );
  const arbPolicy = fc.record({
    name: fc.constantFrom('a', 'a-b', 'b', 'c', 'd'),
    tier: fc.constantFrom('default', 'default', 'kube-admin', 't1'),
    order: fc.option(fc.constantFrom(1, 2, 3), { nil: undefined }),
    selector: fc.constantFrom('', 'role == "m"', '!has(role)', 'zone == "a"', 'has(x)'),
    namespaceSelector: fc.constantFrom(undefined, undefined, 'all()', '!has(n)'),
    stage: fc.constantFrom('normal', 'normal', 'preDNAT', 'doNotTrack'),
    applyOnForward: fc.boolean(),
    types: fc.constantFrom(undefined, ['Ingress'], ['Egress'], ['Ingress', 'Egress']),
    ingress: fc.array(arbRule, { maxLength: 3 }),
    egress: fc.array(arbRule, { maxLength: 3 }),
  });
  const arbLabels = fc.record({ role: fc.constantFrom('m', 'w'), zone: fc.constantFrom('a', 'b'), x: fc.constant('1') }, { requiredKeys: [] });
  const arbProfiles = fc.constantFrom<string[]>([], [ALLOW]);

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- generated records
  function toGnp(p: Record<string, any>, i: number) {
    const spec: Record<string, unknown> = {
      selector: p['selector'],
      tier: p['tier'],
      ingress: p['ingress'],
      egress: p['stage'] === 'preDNAT' ? [] : p['egress'],
    };
    if (p['order'] !== undefined) spec['order'] = p['order'];
    if (p['namespaceSelector'] !== undefined) spec['namespaceSelector'] = p['namespaceSelector'];
    if (p['types'] !== undefined) spec['types'] = p['stage'] === 'preDNAT' ? ['Ingress'] : p['types'];
    if (p['stage'] === 'preDNAT') Object.assign(spec, { preDNAT: true, applyOnForward: true });
    else if (p['stage'] === 'doNotTrack') Object.assign(spec, { doNotTrack: true, applyOnForward: true });
    else spec['applyOnForward'] = p['applyOnForward'];
    return gnp(`${p['tier'] === 'default' ? '' : `${p['tier']}.`}${p['name']}-${i}`, spec);
  }

  interface Packet {
    protocol: string;
    port: number;
    net: string;
  }
  const packets: Packet[] = ['TCP', 'UDP'].flatMap((protocol) => PORTS.flatMap((port) => NETS.map((net) => ({ protocol, port, net }))));
  const oracle = (pk: Packet): Oracle => ({
    rule: ({ rule }) => {
      if (rule.protocol !== undefined && String(rule.protocol) !== pk.protocol) return 'no';
      if (rule.destination?.ports !== undefined && !rule.destination.ports.includes(pk.port)) return 'no';
      if (rule.source?.nets !== undefined && !rule.source.nets.includes(pk.net)) return 'no';
      return 'yes';
    },
  });

  it('holds for random policies, tiers, label and profile changes (fast-check)', () => {
    let letThrough = 0;
    let letThroughSelected = 0;
    fc.assert(
      fc.property(
        fc.array(arbPolicy, { maxLength: 5 }),
        fc.option(fc.tuple(arbLabels, arbProfiles), { nil: undefined }),
        fc.tuple(arbLabels, arbProfiles),
        fc.constantFrom('Deny', 'Pass'),
        (ps, before, after, t1Default) => {
          const gnps = ps.map(toGnp);
          const tiers = [{ metadata: { name: 't1' }, spec: { order: 10, defaultAction: t1Default } }];
          const current = before === undefined ? undefined : hep(before[0], before[1]);
          const desired = hep(after[0], after[1]);
          const d = decidePolicyGuard({ desired: [desired], current: current ? [current] : [], snapshot: snap(gnps, tiers), config: SAFE });
          if (d.held.has(desired.metadata.name)) return;
          const model = modelFromSnapshot(snap(gnps, tiers))!.model;
          const was = endpointPipeline(current, model);
          const now = endpointPipeline(desired, model);
          letThrough++;
          if (now.selecting.length > 0) letThroughSelected++;
          for (const path of ['host', 'forward'] as const) {
            for (const direction of ['ingress', 'egress'] as const) {
              for (const pk of packets) {
                const verdict = (pipe: typeof was) => walkEndpoint(pipe, direction, path, oracle(pk)).at(-1)!.verdict;
                if (verdict(was) !== 'drop' && verdict(now) === 'drop') {
                  assert.fail(
                    `${path} ${direction} ${JSON.stringify(pk)} dropped after a write the guard let through: ${JSON.stringify({ gnps, before, after })}`,
                  );
                }
              }
            }
          }
        },
      ),
      { numRuns: 400 },
    );
    // Not vacuous: many writes went through, some of them with policies selecting the HEP.
    assert.ok(letThrough > 40 && letThroughSelected > 10, `let through ${letThrough}, with selecting policies ${letThroughSelected}`);
  });
});
