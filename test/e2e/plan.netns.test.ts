// `plan` run inside a network namespace, through the real CLI: the kernel's view to exact HEPs.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { HostEndpoint } from '../../src/core/model.ts';
import { hostEndpointName } from '../../src/core/naming.ts';
import { canUseNetns, execInNetns, Netns } from '../helpers/netns.ts';
import { prereq } from '../helpers/prereq.ts';

const CLI = fileURLToPath(new URL('../../bin/calico-hep-agent.js', import.meta.url));
const skip = prereq(await canUseNetns());
if (skip !== false) console.log(`# skipping namespace tests: ${skip}`);

let ns: Netns;

before(async () => {
  if (skip !== false) return;
  ns = await Netns.create();
  await ns.addVeth('eth0', 'peer0');
  await ns.addVeth('eth1', 'peer1');
  await ns.addBridge('br0');
  await ns.addMacvlan('eth0.100', 'br0');
  await ns.addVeth('uplink-fifteen', 'peer2'); // 14 chars
  await ns.addVeth('a-fifteen-chars', 'peer3'); // 15 chars, the kernel's maximum
  await ns.addBridge('docker0');
  await ns.addVeth('veth1234', 'cali1234');
  await ns.addIfb('ifb0');
  await ns.setUp('eth0', 'peer0', 'eth1', 'br0', 'eth0.100', 'uplink-fifteen', 'peer2', 'docker0', 'veth1234', 'cali1234');
  // eth1 is up but its peer is down: NO-CARRIER, and it keeps its address.
  await ns.addAddr('eth0', '192.0.2.10/24');
  await ns.addAddr('eth0', '192.0.2.9/24');
  await ns.addAddr('eth0', '2001:db8::10/64', { nodad: true });
  await ns.addAddr('eth0', '2001:db8:0:1::1/64', { nodad: true });
  await ns.addAddr('eth1', '198.51.100.7/24');
  await ns.addAddr('eth0.100', '203.0.113.5/24');
  await ns.addAddr('br0', '203.0.113.129/25');
  await ns.addAddr('docker0', '172.17.0.1/16');
  await ns.addDefaultRoute('eth0', { via: '192.0.2.1' });
});

after(async () => {
  await ns?.destroy();
});

test('plan inside a namespace lists exactly the expected HostEndpoints', { skip }, async () => {
  const r = await execInNetns(ns.name, process.execPath, [CLI, 'plan', '--node-name', 'n1', '--node-labels', 'role=master', '--output', 'json'], {
    timeoutMs: 20_000,
  });
  assert.equal(r.code, 0, r.stderr);
  const heps = (JSON.parse(r.stdout) as { items: HostEndpoint[] }).items;
  const summary = heps.map((h) => [h.metadata.name, h.spec.interfaceName, h.spec.expectedIPs ?? []]);
  assert.deepEqual(summary, [
    // Interface names with a '-' get the hashed form (unique across (node, interface) pairs).
    [hostEndpointName('n1', 'a-fifteen-chars'), 'a-fifteen-chars', []],
    ['n1-br0', 'br0', ['203.0.113.129']],
    ['n1-eth0', 'eth0', ['192.0.2.9', '192.0.2.10', '2001:db8::10', '2001:db8:0:1::1']],
    ['n1-eth0.100', 'eth0.100', ['203.0.113.5']],
    ['n1-eth1', 'eth1', ['198.51.100.7']],
    ['n1-ifb0', 'ifb0', []],
    ['n1-peer0', 'peer0', []],
    ['n1-peer1', 'peer1', []],
    ['n1-peer2', 'peer2', []],
    ['n1-peer3', 'peer3', []],
    [hostEndpointName('n1', 'uplink-fifteen'), 'uplink-fifteen', []],
  ]);
  assert.match(heps[0]!.metadata.name, /^n1-a-fifteen-chars-[0-9a-f]{16}$/);
  for (const h of heps) {
    assert.equal(h.metadata.labels?.['role'], 'master');
    assert.deepEqual(h.spec.profiles, ['projectcalico-default-allow']);
  }
});

test('plan applies interface rules: by name, by CIDR, by default route', { skip }, async () => {
  const config = [
    'interfaces: { include: ["eth*", "br0"] }',
    'interfaceRules:',
    '  - { name: uplink, match: { defaultRoute: true }, labels: { type: external } }',
    '  - { name: dmz, match: { cidrs: ["203.0.113.0/24"] }, labels: { zone: dmz } }',
  ].join('\n');
  const r = await execInNetns(
    ns.name,
    'sh',
    [
      '-c',
      `printf '%s' "$0" | ${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} plan --node-name n1 --node-labels role=master --output json --config /dev/stdin`,
      config,
    ],
    { timeoutMs: 20_000 },
  );
  assert.equal(r.code, 0, r.stderr);
  const heps = (JSON.parse(r.stdout) as { items: HostEndpoint[] }).items;
  const labels = Object.fromEntries(
    heps.map((h): [string, { type: string | undefined; zone: string | undefined }] => [
      String(h.spec.interfaceName),
      { type: h.metadata.labels?.['type'], zone: h.metadata.labels?.['zone'] },
    ]),
  );
  assert.deepEqual(labels, {
    br0: { type: undefined, zone: 'dmz' },
    eth0: { type: 'external', zone: undefined },
    'eth0.100': { type: undefined, zone: 'dmz' },
    eth1: { type: undefined, zone: undefined },
  });
});
