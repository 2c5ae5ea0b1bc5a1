// Which HostEndpoint governs each interface: felix/dataplane/linux/endpoint_mgr.go resolveHostEndpoints
// (projectcalico/calico 87c15906). Each row is one of its rules.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostEndpoint } from '../../../src/core/model.ts';
import { governInterfaces, interfacesFromHostEndpoints, type HostInterface } from '../../../src/core/policy/governance.ts';
import { parsePolicy } from '../../../src/core/policy/index.ts';

const SRC = 'felix/dataplane/linux/endpoint_mgr.go resolveHostEndpoints';

function hep(name: string, spec: { interfaceName?: string; expectedIPs?: string[]; node?: string }, labels: Record<string, string> = {}): HostEndpoint {
  return { apiVersion: 'projectcalico.org/v3', kind: 'HostEndpoint', metadata: { name, labels }, spec: { node: spec.node ?? 'n1', ...spec } };
}
const ours = { 'app.kubernetes.io/managed-by': 'calico-hep-agent' };
const auto = { 'projectcalico.org/created-by': 'calico-kube-controllers', role: 'master' };
const eth0: HostInterface = { name: 'eth0', addresses: ['10.0.0.5', 'fd00::5'] };
const eth1: HostInterface = { name: 'eth1', addresses: ['192.168.1.5'] };

// [rule, interfaces, heps, expected governing HEP per interface ('' = none)]
const TABLE: ReadonlyArray<readonly [string, HostInterface[], HostEndpoint[], Record<string, string>]> = [
  ['a HEP naming the interface governs it', [eth0], [hep('n1-eth0', { interfaceName: 'eth0' }, ours)], { eth0: 'n1-eth0' }],
  [
    'an expectedIPs-only HEP governs the interface holding one of its IPs',
    [eth0, eth1],
    [hep('by-ip', { expectedIPs: ['192.168.1.5'] })],
    { eth0: '', eth1: 'by-ip' },
  ],
  ['a HEP naming another interface never matches by address', [eth0], [hep('other', { interfaceName: 'eth9', expectedIPs: ['10.0.0.5'] })], { eth0: '' }],
  [
    'named and expectedIPs-only compete: alphabetically first wins (IP HEP first)',
    [eth0],
    [hep('n1-eth0', { interfaceName: 'eth0' }, ours), hep('a-by-ip', { expectedIPs: ['10.0.0.5'] })],
    { eth0: 'a-by-ip' },
  ],
  [
    'named and expectedIPs-only compete: alphabetically first wins (named first)',
    [eth0],
    [hep('n1-eth0', { interfaceName: 'eth0' }, ours), hep('z-by-ip', { expectedIPs: ['fd00:0::5'] })],
    { eth0: 'n1-eth0' },
  ],
  [
    'the * HEP is the default for unclaimed interfaces only',
    [eth0, eth1],
    [hep('n1-auto-hep', { interfaceName: '*', expectedIPs: ['10.0.0.5'] }, auto), hep('n1-eth0', { interfaceName: 'eth0' }, ours)],
    { eth0: 'n1-eth0', eth1: 'n1-auto-hep' },
  ],
  [
    'of two * HEPs the alphabetically first is the default',
    [eth1],
    [hep('b-star', { interfaceName: '*' }), hep('a-star', { interfaceName: '*' })],
    { eth1: 'a-star' },
  ],
  ["another node's HEP is ignored", [eth0], [hep('x', { interfaceName: 'eth0', node: 'n2' })], { eth0: '' }],
  [
    'an IPv4-mapped IPv6 expectedIP is read as IPv4 (libcalico-go/lib/net/ip.go)',
    [eth1],
    [hep('mapped', { expectedIPs: ['::ffff:192.168.1.5'] })],
    { eth1: 'mapped' },
  ],
];

describe(`which HostEndpoint governs each interface (${SRC})`, () => {
  for (const [rule, ifaces, heps, expected] of TABLE) {
    it(rule, () => {
      const g = governInterfaces('n1', ifaces, heps);
      assert.deepEqual(Object.fromEntries(g.interfaces.map((i) => [i.interfaceName, i.governing?.hostEndpoint ?? ''])), expected);
    });
  }

  it('says why, lists the losing candidate and the idle HEPs', () => {
    const g = governInterfaces(
      'n1',
      [eth0],
      [hep('n1-eth0', { interfaceName: 'eth0' }, ours), hep('a-by-ip', { expectedIPs: ['10.0.0.5'] }), hep('stale', { interfaceName: 'eth7' })],
    );
    const i = g.interfaces[0]!;
    assert.equal(i.governing?.via, 'expectedIPs');
    assert.equal(i.governing?.origin, 'hand-written');
    assert.match(i.reason, /of 2 candidates Felix takes the alphabetically first name/);
    assert.deepEqual(
      i.inactive.map((c) => [c.hostEndpoint, c.origin, c.via]),
      [['n1-eth0', 'agent', 'interfaceName']],
    );
    assert.deepEqual(g.idle, [
      { hostEndpoint: 'n1-eth0', reason: 'a-by-ip governs eth0 (alphabetically first)' },
      { hostEndpoint: 'stale', reason: "no interface eth7 among the node's interfaces examined" },
    ]);
  });

  it('a named HEP shadows the * auto HEP: policies keyed on the auto HEP labels stop applying there', () => {
    const byRole = parsePolicy({ metadata: { name: 'masters' }, spec: { selector: 'role == "master"', ingress: [{ action: 'Deny' }] } }, 't');
    const both = parsePolicy({ metadata: { name: 'everyone' }, spec: { selector: 'all()', ingress: [{ action: 'Allow' }] } }, 't');
    const g = governInterfaces(
      'n1',
      [eth0, eth1],
      [hep('n1-auto-hep', { interfaceName: '*' }, auto), hep('n1-eth0', { interfaceName: 'eth0' }, ours)],
      [byRole, both],
    );
    assert.deepEqual(g.interfaces.find((i) => i.interfaceName === 'eth0')!.shadows, { hostEndpoint: 'n1-auto-hep', policies: ['masters'] });
    assert.equal(g.interfaces.find((i) => i.interfaceName === 'eth1')!.shadows, undefined);
    assert.deepEqual(g.allInterfaces, { hostEndpoint: 'n1-auto-hep', inactive: [] });
  });

  it("infers a remote node's interfaces from its HEPs (our expectedIPs are the interface addresses)", () => {
    const heps = [
      hep('n1-eth0', { interfaceName: 'eth0', expectedIPs: ['10.0.0.5'] }, ours),
      hep('hand', { interfaceName: 'eth1', expectedIPs: ['1.2.3.4'] }),
      hep('star', { interfaceName: '*' }),
    ];
    assert.deepEqual(interfacesFromHostEndpoints('n1', heps), [
      { name: 'eth0', addresses: ['10.0.0.5'] },
      { name: 'eth1', addresses: [] },
    ]);
  });
});
