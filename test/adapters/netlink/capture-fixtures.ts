// Regenerates the captured `ip -j` fixtures in ./fixtures from real kernels (needs root):
//
//   node test/adapters/netlink/capture-fixtures.ts
//
// scenario-*: the SCENARIO_SETUP topology (what parse.test.ts checks against SCENARIO_EXPECTED).
// edge-*:     route shapes discovery must understand: nexthop objects and groups, multipath,
//             blackhole/unreachable/prohibit defaults, another table, a `link_type none` tun device.

import { writeFile, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { canUseNetns, Netns, runOk } from '../../helpers/netns.ts';
import { DISCOVERY_COMMANDS } from '../../../src/adapters/netlink/discover.ts';
import { SCENARIO_SETUP } from './scenario.ts';

const dir = fileURLToPath(new URL('./fixtures/', import.meta.url));

async function capture(ns: Netns, prefix: string, extra: Record<string, readonly string[]> = {}): Promise<void> {
  const commands: Record<string, readonly string[]> = {
    addr: DISCOVERY_COMMANDS.addr,
    routes4: DISCOVERY_COMMANDS.routesV4,
    routes6: DISCOVERY_COMMANDS.routesV6,
    ...extra,
  };
  for (const [name, args] of Object.entries(commands)) {
    const out = await runOk('ip', ['-n', ns.name, ...args]);
    await writeFile(`${dir}${prefix}-${name}.json`, out);
    console.log(`wrote ${prefix}-${name}.json (ip ${args.join(' ')})`);
  }
}

const reason = await canUseNetns();
if (reason !== null) {
  console.error(`cannot capture fixtures: ${reason}`);
  process.exit(1);
}
await mkdir(dir, { recursive: true });

const scenario = await Netns.create();
try {
  await scenario.batch(SCENARIO_SETUP);
  await capture(scenario, 'scenario');
} finally {
  await scenario.destroy();
}

const edge = await Netns.create();
try {
  await edge.batch([
    'link add r1 address 02:00:00:00:10:01 type veth peer name r1p address 02:00:00:00:10:02',
    'link add r2 address 02:00:00:00:11:01 type veth peer name r2p address 02:00:00:00:11:02',
    'link add r3 address 02:00:00:00:12:01 type veth peer name r3p address 02:00:00:00:12:02',
    'tuntap add tun0 mode tun',
    'link set r1 up',
    'link set r1p up',
    'link set r2 up',
    'link set r2p up',
    'link set r3 up',
    'link set r3p up',
    'addr add 192.0.2.1/24 dev r1',
    'addr add 198.51.100.1/24 dev r2',
    'addr add 203.0.113.1/24 dev r3',
    'addr add 2001:db8:1::1/64 dev r1 nodad',
    'addr add 2001:db8:2::1/64 dev r2 nodad',
    // nexthop objects: a single one (r1) and a group (r2 + r3).
    'nexthop add id 1 via 192.0.2.254 dev r1',
    'nexthop add id 2 via 198.51.100.254 dev r2',
    'nexthop add id 3 via 203.0.113.254 dev r3',
    'nexthop add id 4 group 2/3',
    'route add default nhid 1 metric 10',
    'route add default nhid 4 metric 20',
    'route add blackhole default metric 30',
    'route add prohibit default metric 40',
    'route add default dev r3 table 100',
    // IPv6 multipath written inline, and an unreachable default (the kernel hangs it on lo).
    'route add default metric 10 nexthop via 2001:db8:1::fe dev r1 nexthop via 2001:db8:2::fe dev r2',
    'route add unreachable ::/0 metric 50',
  ]);
  await capture(edge, 'edge', {
    'routes4-all-tables': ['-j', '-4', 'route', 'show', 'default', 'table', 'all'],
    'addr-v4-only': ['-j', '-4', 'addr', 'show'],
  });
} finally {
  await edge.destroy();
}
