// One packet through the Felix model (felix.ts walkEndpoint + packet.ts packetOracle), and the
// forwarded-traffic verdict of explain. Each row names the Calico source of the rule it encodes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostEndpoint } from '../../../src/core/model.ts';
import {
  buildPolicyModel,
  DEFAULT_FAILSAFE,
  describeCause,
  explainHostEndpoint,
  failsafeFrom,
  hostEndpointPipeline,
  packetVerdict,
  parsePolicy,
  type Packet,
  type Policy,
} from '../../../src/core/policy/index.ts';

const gnp = (name: string, spec: Record<string, unknown>): Policy => parsePolicy({ metadata: { name }, spec: { types: ['Ingress'], ...spec } }, 't');
function hep(name: string, labels: Record<string, string>, spec: Partial<HostEndpoint['spec']> = {}): HostEndpoint {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['10.0.0.5'], ...spec },
  };
}

const EDGE = hep('n1-eth0', { role: 'edge' });
const BASTION = hep('bastion-eth0', { role: 'bastion' }, { node: 'bastion', expectedIPs: ['10.9.9.9'] });
const ssh = (peer: string, extra: Partial<Packet> = {}): Packet => ({ direction: 'ingress', path: 'host', protocol: 'tcp', port: 22, peer, ...extra });
const noFailsafe = failsafeFrom([{ metadata: { name: 'default' }, spec: { failsafeInboundHostPorts: [], failsafeOutboundHostPorts: [] } }]);

// [what, Calico source, policies, packet, expected verdict, expected cause kind (and policy)]
const TABLE: ReadonlyArray<readonly [string, string, Policy[], Packet, string, string]> = [
  [
    'SSH from the bastion, allowed by a selector rule (the peer is a known HEP)',
    'felix/rules/rule_defs.go (source selector -> IP set of selected endpoints)',
    [
      gnp('ssh', {
        selector: 'role == "edge"',
        ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "bastion"' }, destination: { ports: [22] } }],
      }),
    ],
    ssh('10.9.9.9'),
    'allow',
    'rule ssh',
  ],
  [
    'SSH from elsewhere: end of tier',
    'felix/rules/endpoints.go (end of tier drop)',
    [
      gnp('ssh', {
        selector: 'role == "edge"',
        ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "bastion"' }, destination: { ports: [22] } }],
      }),
    ],
    ssh('198.51.100.7'),
    'drop',
    'end-of-tier',
  ],
  [
    'nets and notNets',
    'felix/rules/rule_defs.go (src nets / not src nets)',
    [gnp('n', { selector: 'all()', ingress: [{ action: 'Deny', source: { nets: ['10.0.0.0/8'], notNets: ['10.9.0.0/16'] } }, { action: 'Allow' }] })],
    ssh('10.9.9.9'),
    'allow',
    'rule n',
  ],
  [
    'a port range',
    'api/pkg/lib/numorstring/port.go (min:max)',
    [gnp('r', { selector: 'all()', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: ['20:30'] } }] })],
    ssh('1.2.3.4'),
    'allow',
    'rule r',
  ],
  [
    'protocol by number',
    'api/pkg/lib/numorstring/protocol.go (6 = TCP)',
    [gnp('p', { selector: 'all()', ingress: [{ action: 'Deny', protocol: 6 }] })],
    ssh('1.2.3.4'),
    'drop',
    'rule p',
  ],
  [
    'notProtocol',
    'felix/rules/rule_defs.go (NotProtocol)',
    [gnp('np', { selector: 'all()', ingress: [{ action: 'Deny', notProtocol: 'UDP' }] })],
    ssh('1.2.3.4'),
    'drop',
    'rule np',
  ],
  [
    'failsafe SSH before any policy',
    'felix/rules/static.go (failsafe chains), felix/config/config_params.go (defaults)',
    [gnp('deny', { selector: 'all()', ingress: [{ action: 'Deny' }] })],
    ssh('1.2.3.4'),
    'allow',
    'failsafe',
  ],
  [
    'preDNAT Deny before a normal Allow',
    'felix/rules/static.go (mangle PREROUTING before filter INPUT)',
    [
      gnp('allow', { selector: 'all()', order: 1, ingress: [{ action: 'Allow' }] }),
      gnp('pre', {
        selector: 'all()',
        order: 9,
        preDNAT: true,
        applyOnForward: true,
        ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }],
      }),
    ],
    ssh('1.2.3.4'),
    'drop',
    'rule pre',
  ],
  ['no policy: the default-allow profile', 'felix/rules/endpoints.go (profiles after tiers)', [], ssh('1.2.3.4'), 'allow', 'profile'],
  [
    'a Pass rule skips to the profiles',
    'felix/rules/endpoints.go (Pass: next tier)',
    [gnp('pass', { selector: 'all()', ingress: [{ action: 'Pass' }] })],
    ssh('1.2.3.4'),
    'allow',
    'profile',
  ],
];

describe('explain --packet: one packet through the Felix model', () => {
  for (const [what, source, policies, packet, verdict, cause] of TABLE) {
    it(`${what}: ${verdict}  [${source}]`, () => {
      const model = buildPolicyModel(policies, []);
      const withProfile = cause === 'profile' ? hep('n1-eth0', { role: 'edge' }, { profiles: ['projectcalico-default-allow'] }) : EDGE;
      const failsafe = cause === 'failsafe' ? DEFAULT_FAILSAFE : noFailsafe;
      const v = packetVerdict(hostEndpointPipeline(withProfile, model), packet, [withProfile, BASTION], failsafe);
      assert.equal(v.verdict, verdict, JSON.stringify(v.outcomes.map((o) => describeCause(o.cause))));
      const last = v.outcomes[v.outcomes.length - 1]!;
      const [kind, policy] = cause.split(' ');
      assert.equal(last.cause.kind, kind);
      if (policy !== undefined && last.cause.kind === 'rule') assert.equal(last.cause.ref.policy, policy);
    });
  }

  it('an unknown peer makes a selector rule uncertain: every possible verdict is listed', () => {
    const model = buildPolicyModel(
      [
        gnp('ssh', {
          selector: 'role == "edge"',
          ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "bastion"' }, destination: { ports: [22] } }],
        }),
      ],
      [],
    );
    const v = packetVerdict(hostEndpointPipeline(EDGE, model), { direction: 'ingress', path: 'host', protocol: 'tcp', port: 22 }, [EDGE], noFailsafe);
    assert.equal(v.verdict, 'depends');
    assert.deepEqual(
      v.outcomes.map((o) => [o.verdict, o.cause.kind]),
      [
        ['allow', 'rule'],
        ['drop', 'end-of-tier'],
      ],
    );
  });

  it('--peer-labels identify a peer that is not among the HEPs', () => {
    const model = buildPolicyModel(
      [
        gnp('ssh', {
          selector: 'role == "edge"',
          ingress: [{ action: 'Allow', protocol: 'TCP', source: { selector: 'role == "bastion"' }, destination: { ports: [22] } }],
        }),
      ],
      [],
    );
    const v = packetVerdict(hostEndpointPipeline(EDGE, model), ssh('172.16.0.1', { peerLabels: { role: 'bastion' } }), [EDGE], noFailsafe);
    assert.equal(v.verdict, 'allow');
  });
});

// Forwarded traffic: [what, source, policies, expected unmatched forward verdict, decided by]
const FORWARD: ReadonlyArray<readonly [string, string, Policy[], string, string]> = [
  [
    'no applyOnForward policy: allowed',
    'felix/rules/endpoints.go ("Allow forwarded traffic by default")',
    [gnp('n', { selector: 'all()', ingress: [{ action: 'Deny' }] })],
    'allow',
    'default',
  ],
  [
    'an applyOnForward Deny decides',
    'felix/calc/event_sequencer.go (applyOnForward -> forward tiers)',
    [gnp('f', { selector: 'all()', applyOnForward: true, ingress: [{ action: 'Deny' }] })],
    'deny',
    'forward',
  ],
  [
    'a preDNAT Deny decides before the forward policy',
    'felix/rules/static.go (mangle PREROUTING)',
    [
      gnp('f', { selector: 'all()', order: 1, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
      gnp('pre', { selector: 'all()', order: 5, preDNAT: true, applyOnForward: true, ingress: [{ action: 'Deny' }] }),
    ],
    'deny',
    'preDNAT',
  ],
  [
    'a preDNAT Allow skips the forward policy',
    'felix/rules/static.go (accept mark skips the incoming HEP forward chain)',
    [
      gnp('f', { selector: 'all()', applyOnForward: true, ingress: [{ action: 'Deny' }] }),
      gnp('pre', { selector: 'all()', preDNAT: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    ],
    'allow',
    'preDNAT',
  ],
  [
    'a doNotTrack Allow decides first',
    'felix/rules/static.go (raw PREROUTING)',
    [
      gnp('f', { selector: 'all()', applyOnForward: true, ingress: [{ action: 'Deny' }] }),
      gnp('dnt', { selector: 'all()', doNotTrack: true, applyOnForward: true, ingress: [{ action: 'Allow' }] }),
    ],
    'allow',
    'untracked',
  ],
];

describe('explain: forwarded traffic, preDNAT and doNotTrack deciding first', () => {
  for (const [what, source, policies, verdict, by] of FORWARD) {
    it(`${what}  [${source}]`, () => {
      const x = explainHostEndpoint(EDGE, buildPolicyModel(policies, []));
      assert.deepEqual([x.ingress.forward.unmatched, x.ingress.forward.decidedBy], [verdict, by]);
    });
  }
});
