// The network namespace test helper itself (test/helpers/netns.ts), including what the end-to-end
// test will rely on: running the agent's code inside a namespace with `ip netns exec`.

import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { canUseNetns, cleanupLeftoverNetns, execInNetns, listNetns, Netns, NETNS_PREFIX, run } from '../../helpers/netns.ts';
import { prereq } from '../../helpers/prereq.ts';

const netnsSkip = prereq(await canUseNetns());

interface Link {
  ifname: string;
  operstate: string;
  linkinfo?: { info_kind?: string };
}

describe('Netns helper', { skip: netnsSkip }, () => {
  const created: Netns[] = [];
  const make = async (): Promise<Netns> => {
    const ns = await Netns.create();
    created.push(ns);
    return ns;
  };
  after(() => Promise.all(created.map((ns) => ns.destroy())));

  test('builds links of every supported kind, with a veth peer moved into a second namespace', async () => {
    const a = await make();
    const b = await make();
    assert.notEqual(a.name, b.name);
    assert.ok(a.name.startsWith(`${NETNS_PREFIX}${process.pid}-`));
    await a.addVeth('eth0', 'peer0', { peerNetns: b });
    await a.addBridge('br0');
    await a.addMacvlan('eth0.100', 'eth0');
    await a.addVxlan('vx0', 7, { local: '192.0.2.1' });
    await a.addIfb('ifb3');
    await a.setUp('eth0', 'br0');
    await b.setUp('peer0');
    await a.addAddr('eth0', '192.0.2.1/24');
    await a.addAddr('eth0', '2001:db8::1/64');
    await a.addDefaultRoute('eth0', { via: '192.0.2.254' });
    await a.addDefaultRoute('eth0', { via: '2001:db8::fe' });

    const links = (await a.ipJson('-d', 'link', 'show')) as Link[];
    assert.deepEqual(
      links.map((l) => [l.ifname, l.linkinfo?.info_kind ?? null]),
      [
        ['lo', null],
        ['eth0', 'veth'],
        ['br0', 'bridge'],
        ['eth0.100', 'macvlan'],
        ['vx0', 'vxlan'],
        ['ifb3', 'ifb'],
      ],
    );
    const peer = (await b.ipJson('link', 'show', 'peer0')) as Link[];
    assert.equal(peer[0]?.operstate, 'UP');
    // IPv6 is added with nodad by default: never tentative.
    assert.match(await a.ip('-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'), /inet6 2001:db8::1\/64 scope global nodad\s/);
    assert.doesNotMatch(await a.ip('-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'global'), /tentative/);
    assert.match(await a.ip('-6', 'route', 'show', 'default'), /default via 2001:db8::fe dev eth0/);

    await a.delDefaultRoute('eth0', { via: '192.0.2.254' });
    assert.equal(await a.ip('route', 'show', 'default'), '');
    await a.delAddr('eth0', '192.0.2.1/24');
    await a.setDown('eth0');
    await a.delLink('ifb3');
    assert.doesNotMatch(await a.ip('-o', 'link'), /ifb3/);
  });

  test('execInNetns and spawnInNetns run code inside the namespace (how the e2e test runs the agent)', async () => {
    const ns = await make();
    await ns.batch(['link add inside0 type veth peer name inside1']);
    const ls = await execInNetns(ns.name, 'ip', ['-o', 'link', 'show']);
    assert.equal(ls.code, 0);
    assert.deepEqual(
      ls.stdout
        .trim()
        .split('\n')
        .map((l) => l.split(':')[1]?.trim().split('@')[0]),
      ['lo', 'inside1', 'inside0'],
    );

    // Node inside the namespace discovers its own interfaces without any netns option.
    const discover = fileURLToPath(new URL('../../../src/adapters/netlink/discover.ts', import.meta.url));
    const child = ns.spawn(process.execPath, [
      '--input-type=module',
      '-e',
      `
      const { discoverInterfaces } = await import(${JSON.stringify(discover)});
      console.log(JSON.stringify((await discoverInterfaces()).map((i) => i.name)));`,
    ]);
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    assert.equal(code, 0);
    assert.deepEqual(JSON.parse(out), ['lo', 'inside1', 'inside0']);
  });

  test('destroy() kills spawned children, deletes the namespace, and is idempotent', async () => {
    const ns = await Netns.create();
    const child = ns.spawn('sleep', ['30']);
    await once(child, 'spawn');
    const exited = once(child, 'exit');
    await ns.destroy();
    await exited;
    assert.equal((await listNetns()).includes(ns.name), false);
    await ns.destroy();
  });

  test('cleanupLeftoverNetns removes namespaces of dead test processes only', async () => {
    // pid 2^22+1 is above the kernel's pid_max limit, so it can never be alive.
    const mine = await make();
    const dead = `${NETNS_PREFIX}4194305-${randomBytes(4).toString('hex')}`;
    assert.equal((await run('ip', ['netns', 'add', dead])).code, 0);
    // Test files running in parallel clean up too, so only the outcome is certain, not who did it.
    await cleanupLeftoverNetns();
    const left = await listNetns();
    assert.equal(left.includes(dead), false);
    assert.equal(left.includes(mine.name), true);
  });
});
