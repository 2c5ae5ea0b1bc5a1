// The pure policy analysis: parsing, Calico's evaluation order, per-HEP explanation, lint, guard.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parse } from 'yaml';
import type { HostEndpoint } from '../../../src/core/model.ts';
import {
  DEFAULT_FAILSAFE,
  buildPolicyModel,
  explainHostEndpoint,
  failsafeFrom,
  lint,
  parsePolicy,
  parsePolicyText,
  sortPolicies,
  tierTable,
  type Failsafe,
  type Policy,
  type Tier,
} from '../../../src/core/policy/index.ts';

const fixture = (name: string) => new URL(`./fixtures/${name}`, import.meta.url);
const load = async (name: string) => parsePolicyText(await readFile(fixture(name), 'utf8'), name);
const guideHeps = async () => parse(await readFile(fixture('guide-heps.yaml'), 'utf8')) as HostEndpoint[];

function gnp(name: string, spec: Record<string, unknown>): Policy {
  return parsePolicy({ metadata: { name }, spec }, 'test');
}

function hep(name: string, labels: Record<string, string>, extra: Partial<HostEndpoint['spec']> = {}): HostEndpoint {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.1'], ...extra },
  };
}

function analyse(policies: Policy[], heps: HostEndpoint[], failsafe: Failsafe = DEFAULT_FAILSAFE, tiers: Tier[] = []) {
  const table = tierTable(tiers, policies);
  const sorted = sortPolicies(policies, table);
  const explanations = heps.map((h) => explainHostEndpoint(h, buildPolicyModel(policies, tiers)));
  return { sorted, explanations, findings: lint({ policies: sorted, hostEndpoints: heps, explanations, failsafe }) };
}

const codes = (findings: { code: string; severity: string }[]) => findings.map((f) => `${f.severity}:${f.code}`).sort();

describe('documents', () => {
  it('reads a bare sequence, --- documents and Lists, and notes what it ignores', async () => {
    assert.deepEqual(
      (await load('guide-http-https.yaml')).policies.map((p) => p.name),
      ['allow-http-https-traffic-only', 'drop-other-ingress'],
    );
    const fixed = await load('fixed-http-https.yaml');
    assert.equal(fixed.policies.length, 4);
    assert.match(fixed.notes.join('\n'), /ConfigMap not-a-policy is not a GlobalNetworkPolicy; ignored/);
    const list = parsePolicyText(
      'kind: GlobalNetworkPolicyList\nitems:\n- kind: GlobalNetworkPolicy\n  metadata: {name: a}\n  spec: {}\n- kind: Tier\n  metadata: {name: t1}\n  spec: {order: 5}\n',
      'list.yaml',
    );
    assert.deepEqual(
      list.policies.map((p) => p.name),
      ['a'],
    );
    assert.deepEqual(list.tiers, [{ name: 't1', order: 5, defaultAction: 'Deny', known: true }]);
  });

  it('reads a policy without types as Felix does (Ingress+Egress), or with the API server defaulting on request', () => {
    const api = (spec: Record<string, unknown>) => gnp('a', spec).types;
    assert.deepEqual(parsePolicy({ metadata: { name: 'a' }, spec: {} }, 'test', { types: 'felix' }).types, ['Ingress', 'Egress']);
    assert.deepEqual(api({}), ['Ingress']);
    assert.deepEqual(api({ egress: [{ action: 'Allow' }] }), ['Egress']);
    assert.deepEqual(api({ egress: [{ action: 'Allow' }], ingress: [{ action: 'Allow' }] }), ['Ingress', 'Egress']);
    assert.deepEqual(gnp('a', { types: ['Egress'] }).types, ['Egress']);
  });
});

describe('evaluation order', () => {
  it('tier order (known tiers first, no order last), then policy order (none last), then name', () => {
    const policies = [
      gnp('z-no-order', {}),
      gnp('b', { order: 10 }),
      gnp('a', { order: 10 }),
      gnp('first', { order: 1 }),
      gnp('admin', { tier: 'kube-admin', order: 500 }),
      gnp('baseline', { tier: 'kube-baseline', order: 1 }),
      gnp('sec.x', { tier: 'sec', order: 1 }),
      gnp('mystery.x', { tier: 'mystery', order: 1 }),
    ];
    const tiers: Tier[] = [{ name: 'sec', order: 100, defaultAction: 'Deny', known: true }];
    const sorted = sortPolicies(policies, tierTable(tiers, policies)).map((p) => p.name);
    assert.deepEqual(sorted, ['sec.x', 'admin', 'first', 'a', 'b', 'z-no-order', 'baseline', 'mystery.x']);
  });

  it('is a total order independent of input order (property)', () => {
    const arb = fc.array(
      fc.record({
        name: fc.stringMatching(/^[a-z]{1,4}$/),
        order: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }),
        tier: fc.constantFrom('default', 'kube-admin', 'x'),
      }),
      { maxLength: 12 },
    );
    fc.assert(
      fc.property(arb, (specs) => {
        const uniq = [...new Map(specs.map((s) => [s.name, s])).values()];
        const policies = uniq.map((s) => gnp(s.name, { tier: s.tier, ...(s.order !== undefined ? { order: s.order } : {}) }));
        const table = tierTable([], policies);
        const a = sortPolicies(policies, table).map((p) => p.name);
        const b = sortPolicies([...policies].reverse(), table).map((p) => p.name);
        assert.deepEqual(a, b);
      }),
    );
  });
});

describe('the Calico guide, section 5 (docs/recipe.md)', () => {
  it('explains preDNAT allow 80/443, then the catch-all deny; egress falls to the default deny', async () => {
    const { policies } = await load('guide-http-https.yaml');
    const { explanations } = analyse(policies, await guideHeps());
    const x = explanations[0]!;
    assert.equal(x.name, 'master1-em4');
    assert.deepEqual(
      x.ingress.policies.map((p) => [p.name, p.stage, p.order]),
      [
        ['allow-http-https-traffic-only', 'preDNAT', 10],
        ['drop-other-ingress', 'preDNAT', 20],
      ],
    );
    assert.equal(x.ingress.policies[0]!.rules[0]!.text, 'Allow tcp to ports 80,443');
    assert.equal(x.ingress.policies[1]!.rules[0]!.text, 'Deny (everything)');
    assert.deepEqual([x.ingress.unmatched.action, x.ingress.unmatched.code, x.ingress.unmatched.policy], ['deny', 'catch-all-rule', 'drop-other-ingress']);
    assert.deepEqual(x.egress.policies, []);
    assert.deepEqual([x.egress.unmatched.action, x.egress.unmatched.code], ['deny', 'no-policy']);
    // A preDNAT Deny decides forwarded traffic before any forward policy (felix/rules/static.go: mangle
    // PREROUTING runs before routing), so the guide's drop also drops forwarded traffic.
    assert.deepEqual([x.ingress.forward.unmatched, x.ingress.forward.decidedBy], ['deny', 'preDNAT']);
    assert.match(x.ingress.forward.reason, /preDNAT policy drop-other-ingress .* before any applyOnForward policy/);
  });

  it("lints: the selector-less Deny, and the masters' egress locked to failsafe ports", async () => {
    const { policies } = await load('guide-http-https.yaml');
    const { findings } = analyse(policies, await guideHeps());
    assert.deepEqual(codes(findings), ['error:deny-all-endpoints', 'error:no-policy', 'error:no-policy', 'error:no-policy']);
    const deny = findings.find((f) => f.code === 'deny-all-endpoints')!;
    assert.equal(deny.policy, 'drop-other-ingress');
    assert.match(deny.message, /every HostEndpoint in the cluster/);
    const noPolicy = findings.find((f) => f.code === 'no-policy')!;
    assert.match(noPolicy.message, /for egress .*only failsafe ports are open \(egress: udp:53, udp:67, tcp:179/);
  });

  it('the generic recipe (section 3) with a selector on the drop has only the egress problem', async () => {
    const { policies } = await load('guide-whitelist.yaml');
    const { findings, explanations } = analyse(policies, await guideHeps());
    assert.deepEqual(codes(findings), ['error:no-policy', 'error:no-policy', 'error:no-policy']);
    assert.equal(explanations[0]!.ingress.policies[0]!.rules[0]!.text, 'Allow tcp from nets 10.0.0.0/8,192.168.0.0/16 to ports 22,6443');
  });

  it('the fixed version is clean', async () => {
    const { policies } = await load('fixed-http-https.yaml');
    const { findings, explanations } = analyse(policies, await guideHeps());
    assert.deepEqual(findings, []);
    assert.equal(explanations[0]!.egress.unmatched.action, 'allow');
  });
});

describe('verdicts', () => {
  it('default-allow profile: no policy means allow; a selecting normal policy ends its tier with deny', () => {
    const withProfile = hep('h', { role: 'w' }, { profiles: ['projectcalico-default-allow'] });
    const first = analyse([], [withProfile]);
    let { explanations } = first;
    const { findings } = first;
    assert.equal(explanations[0]!.ingress.unmatched.code, 'default-allow-profile');
    assert.deepEqual(findings, []);
    ({ explanations } = analyse(
      [gnp('ssh', { selector: 'role == "w"', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] })],
      [withProfile],
    ));
    assert.deepEqual([explanations[0]!.ingress.unmatched.code, explanations[0]!.ingress.unmatched.tier], ['end-of-tier', 'default']);
    assert.equal(explanations[0]!.egress.unmatched.code, 'default-allow-profile');
  });

  it('Pass moves to the next tier; kube-baseline passes at its end', () => {
    const h = hep('h', { a: '1' }, { profiles: ['projectcalico-default-allow'] });
    const { explanations } = analyse(
      [gnp('p', { tier: 'kube-baseline', selector: 'has(a)', ingress: [{ action: 'Log' }] }), gnp('q', { selector: 'has(a)', ingress: [{ action: 'Pass' }] })],
      [h],
    );
    assert.equal(explanations[0]!.ingress.unmatched.code, 'default-allow-profile');
    assert.deepEqual(
      explanations[0]!.ingress.policies.map((p) => p.name),
      ['q', 'p'],
    );
  });

  it('a HEP with other profiles is decided by them', () => {
    const { explanations, findings } = analyse([], [hep('h', {}, { profiles: ['custom'] })]);
    assert.equal(explanations[0]!.ingress.unmatched.action, 'profiles');
    assert.deepEqual(findings, []);
  });
});

describe('lint on crafted bad policies', () => {
  const h = hep('h', { role: 'w' }, { profiles: ['projectcalico-default-allow'] });

  it("reports what Calico's validator rejects", () => {
    const { findings } = analyse(
      [
        gnp('no-aof', { selector: 'role == "w"', preDNAT: true, ingress: [{ action: 'Allow' }] }),
        gnp('egress', { selector: 'role == "w"', preDNAT: true, applyOnForward: true, egress: [{ action: 'Allow' }] }),
        gnp('both', { selector: 'role == "w"', preDNAT: true, doNotTrack: true, applyOnForward: true }),
        gnp('dnt', { selector: 'role == "w"', doNotTrack: true }),
        gnp('bad', { selector: 'role ==' }),
      ],
      [h],
    );
    assert.deepEqual(codes(findings), [
      'error:donottrack-without-applyonforward',
      'error:invalid-selector',
      'error:prednat-donottrack',
      'error:prednat-egress',
      'error:prednat-without-applyonforward',
    ]);
  });

  it('doNotTrack on an all-interfaces HEP is ignored by Felix', () => {
    const star = hep('star', { role: 'w' }, { interfaceName: '*', profiles: ['projectcalico-default-allow'] });
    const { findings, explanations } = analyse(
      [gnp('dnt', { selector: 'role == "w"', doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Deny' }] })],
      [star],
    );
    assert.deepEqual(codes(findings), ['error:donottrack-all-interfaces']);
    assert.deepEqual(
      explanations[0]!.ingress.ignored.map((i) => i.name),
      ['dnt'],
    );
    assert.equal(explanations[0]!.ingress.unmatched.code, 'default-allow-profile');
  });

  it('warns about a policy selecting no HEP and peers without IPs, but not about workload-only policies', () => {
    const noIps = hep('db', { role: 'db' }, { expectedIPs: undefined as never, profiles: ['projectcalico-default-allow'] });
    delete (noIps.spec as { expectedIPs?: unknown }).expectedIPs;
    const { findings } = analyse(
      [
        gnp('typo', { selector: 'role == "wrker"', types: ['Ingress'], ingress: [{ action: 'Allow' }] }),
        gnp('pods', { selector: 'app == "x"', namespaceSelector: 'name == "prod"', types: ['Ingress'], ingress: [{ action: 'Deny' }] }),
        gnp('from-db', { selector: 'role == "w"', types: ['Ingress'], ingress: [{ action: 'Allow', source: { selector: 'role == "db"' } }] }),
      ],
      [h, noIps],
    );
    assert.deepEqual(codes(findings), ['warning:peer-without-ips', 'warning:selects-nothing']);
    assert.equal(findings.find((f) => f.code === 'peer-without-ips')!.hostEndpoint, 'db');
  });

  it('disabled failsafe ports with a default-deny HEP is an error', () => {
    const fs = failsafeFrom([{ metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [] } }]);
    assert.deepEqual(fs.inbound, []);
    assert.equal(fs.outbound.length, 9);
    const { findings } = analyse(
      [gnp('ssh', { selector: 'role == "w"', types: ['Ingress'], ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] })],
      [h],
      fs,
    );
    assert.deepEqual(codes(findings), ['error:failsafe-disabled']);
    assert.match(findings[0]!.message, /failsafeInboundHostPorts is empty \(FelixConfiguration default\).*SSH included/);
    assert.deepEqual(analyse([], [h], fs).findings, [], 'a default-allow HEP with no policy is not at risk');
  });
});

describe('failsafe ports', () => {
  it("Calico's defaults, default config overridden by the node's, protocol defaulting to tcp", () => {
    assert.deepEqual(failsafeFrom([]), DEFAULT_FAILSAFE);
    const fs = failsafeFrom(
      [
        { metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [{ port: 22 }, { protocol: 'UDP', port: 68, net: '10.0.0.0/8' }] } },
        { metadata: { name: 'node.n1' }, spec: { failsafeOutboundHostPorts: [{ protocol: 'udp', port: 53 }] } },
      ],
      'n1',
    );
    assert.deepEqual(fs.inbound, [
      { protocol: 'tcp', port: 22 },
      { protocol: 'udp', port: 68, net: '10.0.0.0/8' },
    ]);
    assert.deepEqual(fs.outbound, [{ protocol: 'udp', port: 53 }]);
    assert.equal(fs.source, 'FelixConfiguration default + FelixConfiguration node.n1');
  });
});
