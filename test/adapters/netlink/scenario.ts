// The network namespace topology the discovery tests build, and what discovery must report for it.
// Shared by the real-kernel test (discover.test.ts) and the fixture capture script
// (capture-fixtures.ts), whose output parse.test.ts checks against the same expectations.
//
// Fixed MAC addresses make the kernel's IPv6 link-local (EUI-64) addresses predictable.
// Only documentation ranges are used: 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32.

import type { NetInterface } from '../../../src/core/model.ts';

/** `ip -batch` lines, in order (link creation order fixes the ifindexes in a fresh namespace). */
export const SCENARIO_SETUP: readonly string[] = [
  // lo is brought up by Netns.create().
  // 2,3: an up veth pair with several IPv4 and IPv6 addresses and an IPv4 alias label on vA.
  'link add vA address 02:00:00:00:00:0a type veth peer name vB address 02:00:00:00:00:0b',
  // 4,5: carrier down: eth1 is up but its peer is down (NO-CARRIER / LOWERLAYERDOWN), with addresses.
  'link add eth1 address 02:00:00:00:01:01 type veth peer name eth1p address 02:00:00:00:01:02',
  // 6,7: administratively down, with an address.
  'link add down0 address 02:00:00:00:02:01 type veth peer name down0p address 02:00:00:00:02:02',
  // 8,9: down and without any address.
  'link add bare0 address 02:00:00:00:03:01 type veth peer name bare0p address 02:00:00:00:03:02',
  // 10,11: eth0 with a macvlan named like a VLAN (vlan links do not work in this sandbox).
  'link add eth0 address 02:00:00:00:04:01 type veth peer name eth0p address 02:00:00:00:04:02',
  // 12
  'link add link eth0 name eth0.100 address 02:00:00:00:04:64 type macvlan mode bridge',
  // 13: a bridge with one port (14,15: brp0 enslaved, brp0p its peer).
  'link add br0 address 02:00:00:00:05:00 type bridge forward_delay 0',
  'link add brp0 address 02:00:00:00:05:01 type veth peer name brp0p address 02:00:00:00:05:02',
  // 16,17: longest possible name (15 characters).
  'link add abcdefghijklmno address 02:00:00:00:06:01 type veth peer name p15 address 02:00:00:00:06:02',
  // 18,19: a name the kernel accepts but Calico's interfaceName validation rejects.
  'link add ve+x address 02:00:00:00:07:01 type veth peer name vy address 02:00:00:00:07:02',
  // 20, 21: vxlan and ifb, both down.
  'link add vx0 address 02:00:00:00:08:01 type vxlan id 42 dstport 4789 local 192.0.2.10',
  'link add ifb7 address 02:00:00:00:09:01 type ifb',

  'link set brp0 master br0',
  'link set vA up',
  'link set vB up',
  'link set eth1 up',
  'link set eth0 up',
  'link set eth0p up',
  'link set eth0.100 up',
  'link set br0 up',
  'link set brp0 up',
  'link set brp0p up',

  'addr add 192.0.2.10/24 dev vA',
  'addr add 192.0.2.11/24 dev vA label vA:1',
  'addr add 198.51.100.10/24 dev vA',
  'addr add 2001:db8:a::10/64 dev vA nodad',
  'addr add 2001:db8:a::11/64 dev vA nodad',
  // point-to-point style: `local` is ours, `address` is the peer's.
  'addr add 192.0.2.200 peer 192.0.2.201 dev vB',
  'addr add 203.0.113.1/24 dev eth1',
  'addr add 2001:db8:c::1/64 dev eth1 nodad',
  'addr add 203.0.113.65/26 dev down0',
  'addr add 198.51.100.100/24 dev eth0.100',
  'addr add 2001:db8:100::1/64 dev eth0.100 nodad',
  'addr add 203.0.113.129/25 dev br0',
  'addr add 192.0.2.77/32 dev ve+x',

  // Default routes: v4 via vA, a v4 multipath over br0 and vA, v6 via eth0.100.
  'route add default via 192.0.2.1 dev vA',
  'route add default metric 200 nexthop via 203.0.113.130 dev br0 nexthop via 192.0.2.1 dev vA',
  'route add default via 2001:db8:100::ffff dev eth0.100',
  // Not a way out: unreachable defaults (v6 one points at lo) and a default in another table.
  'route add unreachable default metric 5000',
  'route add unreachable ::/0 metric 4000',
  'route add default dev vB table 100',
];

type Expected = Omit<NetInterface, 'index'> & { readonly index: number };

const ETHER = ['BROADCAST', 'MULTICAST'];
const UP = [...ETHER, 'UP', 'LOWER_UP'];

function v4(address: string, prefixLength: number, scope = 'global') {
  return { address, prefixLength, family: 4 as const, scope };
}
function v6(address: string, prefixLength: number, scope = 'global') {
  return { address, prefixLength, family: 6 as const, scope };
}

/** What discovery reports for SCENARIO_SETUP, in ifindex order. */
export const SCENARIO_EXPECTED: readonly Expected[] = [
  {
    name: 'lo',
    index: 1,
    kind: undefined,
    operState: 'UNKNOWN',
    flags: ['LOOPBACK', 'UP', 'LOWER_UP'],
    mac: '00:00:00:00:00:00',
    addresses: [v4('127.0.0.1', 8, 'host'), v6('::1', 128, 'host')],
    hasDefaultRoute: false,
  },
  {
    name: 'vB',
    index: 2,
    kind: 'veth',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:00:0b',
    addresses: [v4('192.0.2.200', 32), v6('fe80::ff:fe00:b', 64, 'link')],
    hasDefaultRoute: false,
  },
  {
    name: 'vA',
    index: 3,
    kind: 'veth',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:00:0a',
    addresses: [
      v4('192.0.2.10', 24),
      v4('192.0.2.11', 24),
      v4('198.51.100.10', 24),
      v6('2001:db8:a::11', 64),
      v6('2001:db8:a::10', 64),
      v6('fe80::ff:fe00:a', 64, 'link'),
    ],
    hasDefaultRoute: true,
  },
  {
    name: 'eth1p',
    index: 4,
    kind: 'veth',
    operState: 'DOWN',
    flags: ETHER,
    mac: '02:00:00:00:01:02',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'eth1',
    index: 5,
    kind: 'veth',
    operState: 'LOWERLAYERDOWN',
    flags: ['NO-CARRIER', ...ETHER, 'UP', 'M-DOWN'],
    mac: '02:00:00:00:01:01',
    addresses: [v4('203.0.113.1', 24), v6('2001:db8:c::1', 64)],
    hasDefaultRoute: false,
  },
  {
    name: 'down0p',
    index: 6,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:02:02',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'down0',
    index: 7,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:02:01',
    addresses: [v4('203.0.113.65', 26)],
    hasDefaultRoute: false,
  },
  {
    name: 'bare0p',
    index: 8,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:03:02',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'bare0',
    index: 9,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:03:01',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'eth0p',
    index: 10,
    kind: 'veth',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:04:02',
    addresses: [v6('fe80::ff:fe00:402', 64, 'link')],
    hasDefaultRoute: false,
  },
  {
    name: 'eth0',
    index: 11,
    kind: 'veth',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:04:01',
    addresses: [v6('fe80::ff:fe00:401', 64, 'link')],
    hasDefaultRoute: false,
  },
  {
    name: 'eth0.100',
    index: 12,
    kind: 'macvlan',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:04:64',
    addresses: [v4('198.51.100.100', 24), v6('2001:db8:100::1', 64), v6('fe80::ff:fe00:464', 64, 'link')],
    hasDefaultRoute: true,
  },
  {
    name: 'br0',
    index: 13,
    kind: 'bridge',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:05:00',
    addresses: [v4('203.0.113.129', 25), v6('fe80::ff:fe00:500', 64, 'link')],
    hasDefaultRoute: true,
  },
  {
    name: 'brp0p',
    index: 14,
    kind: 'veth',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:05:02',
    addresses: [v6('fe80::ff:fe00:502', 64, 'link')],
    hasDefaultRoute: false,
  },
  {
    name: 'brp0',
    index: 15,
    kind: 'veth',
    operState: 'UP',
    flags: UP,
    mac: '02:00:00:00:05:01',
    addresses: [v6('fe80::ff:fe00:501', 64, 'link')],
    hasDefaultRoute: false,
  },
  {
    name: 'p15',
    index: 16,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:06:02',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'abcdefghijklmno',
    index: 17,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:06:01',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'vy',
    index: 18,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:07:02',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 've+x',
    index: 19,
    kind: 'veth',
    operState: 'DOWN',
    flags: [...ETHER, 'M-DOWN'],
    mac: '02:00:00:00:07:01',
    addresses: [v4('192.0.2.77', 32)],
    hasDefaultRoute: false,
  },
  {
    name: 'vx0',
    index: 20,
    kind: 'vxlan',
    operState: 'DOWN',
    flags: ETHER,
    mac: '02:00:00:00:08:01',
    addresses: [],
    hasDefaultRoute: false,
  },
  {
    name: 'ifb7',
    index: 21,
    kind: 'ifb',
    operState: 'DOWN',
    flags: ['BROADCAST', 'NOARP'],
    mac: '02:00:00:00:09:01',
    addresses: [],
    hasDefaultRoute: false,
  },
];

/** Addresses sorted so comparisons do not depend on the kernel's per-interface address order. */
export function normalise<T extends Pick<NetInterface, 'addresses'>>(iface: T): T {
  const addresses = [...iface.addresses].sort((a, b) => a.family - b.family || a.address.localeCompare(b.address));
  return { ...iface, addresses };
}
