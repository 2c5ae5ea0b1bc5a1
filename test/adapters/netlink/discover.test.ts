// discoverInterfaces against a real kernel (in a throwaway network namespace; skipped with the reason
// printed when not root), and its failure modes with fake `ip` executables (no root needed).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { discoverInterfaces, DiscoveryError, type DiscoveryErrorCode } from '../../../src/adapters/netlink/discover.ts';
import type { NetInterface } from '../../../src/core/model.ts';
import { canUseNetns, Netns } from '../../helpers/netns.ts';
import { SCENARIO_EXPECTED, SCENARIO_SETUP, normalise } from './scenario.ts';
import { prereq } from '../../helpers/prereq.ts';

const netnsSkip = prereq(await canUseNetns());

function byName(list: readonly NetInterface[], name: string): NetInterface {
  const found = list.find((i) => i.name === name);
  assert.ok(found, `interface ${name} missing from ${list.map((i) => i.name).join(', ')}`);
  return found;
}

async function rejectsWith(p: Promise<unknown>, code: DiscoveryErrorCode, pattern: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof DiscoveryError, `expected DiscoveryError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('discoverInterfaces in a network namespace', { skip: netnsSkip }, () => {
  let ns: Netns;
  let found: NetInterface[];
  before(async () => {
    ns = await Netns.create();
    await ns.batch(SCENARIO_SETUP);
    found = await discoverInterfaces({ netns: ns.name });
  });
  after(() => ns?.destroy());

  test('reports exactly the scenario: every link, every address, kinds, states, default routes', () => {
    assert.deepEqual(
      found.map((i) => normalise({ ...i, index: 0 })),
      SCENARIO_EXPECTED.map((i) => normalise({ ...i, index: 0 })),
    );
    const indexes = found.map((i) => i.index);
    assert.equal(new Set(indexes).size, indexes.length);
    assert.ok(indexes.every((i) => Number.isInteger(i) && i > 0));
  });

  test('a carrier-down interface (peer down) is listed with its addresses', () => {
    const eth1 = byName(found, 'eth1');
    assert.ok(eth1.flags.includes('NO-CARRIER'));
    assert.equal(eth1.operState, 'LOWERLAYERDOWN');
    assert.deepEqual(eth1.addresses.map((a) => `${a.address}/${a.prefixLength}`).sort(), ['2001:db8:c::1/64', '203.0.113.1/24']);
  });

  test('a link-down interface keeps its address; an address-less one is still listed', () => {
    const down0 = byName(found, 'down0');
    assert.equal(down0.operState, 'DOWN');
    assert.equal(down0.flags.includes('UP'), false);
    assert.deepEqual(
      down0.addresses.map((a) => a.address),
      ['203.0.113.65'],
    );
    assert.deepEqual(byName(found, 'bare0').addresses, []);
  });

  test('dotted, 15-character and Calico-invalid names come through verbatim', () => {
    assert.equal(byName(found, 'eth0.100').kind, 'macvlan');
    assert.equal(byName(found, 'abcdefghijklmno').name.length, 15);
    assert.deepEqual(
      byName(found, 've+x').addresses.map((a) => a.address),
      ['192.0.2.77'],
    );
  });

  test('default routes: v4 via vA, v4 multipath via br0, v6 via eth0.100; not unreachable (lo) or table 100 (vB)', () => {
    assert.deepEqual(
      found
        .filter((i) => i.hasDefaultRoute)
        .map((i) => i.name)
        .sort(),
      ['br0', 'eth0.100', 'vA'],
    );
  });

  test('a rescan sees changes: address removed, link down, default route gone', async () => {
    await ns.batch(['addr del 192.0.2.11/24 dev vA', 'link set eth0.100 down', 'route del default via 192.0.2.1 dev vA', 'route del default metric 200']);
    const again = await discoverInterfaces({ netns: ns.name });
    assert.equal(
      byName(again, 'vA').addresses.some((a) => a.address === '192.0.2.11'),
      false,
    );
    assert.equal(byName(again, 'vA').hasDefaultRoute, false);
    assert.equal(byName(again, 'br0').hasDefaultRoute, false);
    const macvlan = byName(again, 'eth0.100');
    assert.equal(macvlan.operState, 'DOWN');
    // The v6 default route through it is gone with the link, and so are its IPv6 addresses: the kernel
    // drops them on admin-down (net.ipv6.conf.*.keep_addr_on_down=0, the default). IPv4 ones stay.
    assert.equal(macvlan.hasDefaultRoute, false);
    assert.deepEqual(
      macvlan.addresses.map((a) => a.address),
      ['198.51.100.100'],
    );
  });

  test('a namespace that does not exist is a DiscoveryError saying so', async () => {
    await rejectsWith(discoverInterfaces({ netns: `${ns.name}-missing` }), 'exit', /Cannot open network namespace.*does not exist/s);
  });
});

describe('discoverInterfaces failures', () => {
  const here = fileURLToPath(new URL('./fixtures/', import.meta.url));
  let dir: string;
  // A fake `ip`: answers the three discovery commands from fixtures, after running `$PRE` if set.
  const fakeIp = async (name: string, body: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
    return path;
  };
  const answer = `case "$*" in
  *addr*) cat '${here}scenario-addr.json' ;;
  *-4*) cat '${here}scenario-routes4.json' ;;
  *-6*) cat '${here}scenario-routes6.json' ;;
esac`;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hep-discover-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('a fake ip answering from fixtures yields the scenario (the process plumbing works without root)', async () => {
    const ip = await fakeIp('ip-ok', answer);
    const got = await discoverInterfaces({ ipCommand: ip });
    assert.deepEqual(got.map(normalise), SCENARIO_EXPECTED.map(normalise));
  });

  test('a missing ip executable: not-found, with the fix in the message', async () => {
    await rejectsWith(discoverInterfaces({ ipCommand: join(dir, 'no-such-ip') }), 'not-found', /does not exist.*install iproute2/);
    await rejectsWith(discoverInterfaces({ ipCommand: 'no-such-ip-command-on-path' }), 'not-found', /not found on PATH.*install iproute2/);
  });

  test('a non-executable ip: spawn-failed', async () => {
    const path = join(dir, 'ip-noexec');
    await writeFile(path, '#!/bin/sh\n');
    await chmod(path, 0o644);
    // root can exec anything with an x bit; with none at all even root gets EACCES.
    await rejectsWith(discoverInterfaces({ ipCommand: path }), 'spawn-failed', /not executable/);
  });

  test('a non-zero exit: exit, with the command and its stderr', async () => {
    const ip = await fakeIp('ip-fail', `case "$*" in *-6*) echo 'RTNETLINK answers: Permission denied' >&2; exit 2;; esac\n${answer}`);
    await rejectsWith(
      discoverInterfaces({ ipCommand: ip }),
      'exit',
      /`.*ip-fail -j -6 route show default table main` exited with status 2: RTNETLINK answers: Permission denied\. .*privileges/,
    );
  });

  test('an ip without JSON support: exit, telling to install iproute2', async () => {
    const ip = await fakeIp('ip-old', `echo 'Option "-j" is unknown, try "ip -help".' >&2; exit 255`);
    await rejectsWith(discoverInterfaces({ ipCommand: ip }), 'exit', /does not support JSON output.*iproute2/);
  });

  test('unparseable output: parse', async () => {
    const ip = await fakeIp('ip-garbage', `case "$*" in *addr*) echo '1: lo: <LOOPBACK,UP>';; *) echo '[]';; esac`);
    await rejectsWith(discoverInterfaces({ ipCommand: ip }), 'parse', /not valid JSON/);
  });

  test('a hanging ip: timeout, and the child is killed', async () => {
    const ip = await fakeIp('ip-hang', `case "$*" in *addr*) exec sleep 30;; esac\n${answer}`);
    const t0 = performance.now();
    await rejectsWith(discoverInterfaces({ ipCommand: ip, timeoutMs: 150 }), 'timeout', /did not finish within 150 ms/);
    assert.ok(performance.now() - t0 < 2000);
  });

  test('an aborted signal: aborted', async () => {
    const ip = await fakeIp('ip-slow', `exec sleep 30`);
    const ac = new AbortController();
    const p = discoverInterfaces({ ipCommand: ip, signal: ac.signal });
    setTimeout(() => ac.abort(new Error('shutting down')), 50);
    await rejectsWith(p, 'aborted', /aborted/);
    await rejectsWith(discoverInterfaces({ ipCommand: ip, signal: AbortSignal.abort() }), 'aborted', /not started/);
  });

  test('a dump interrupted by concurrent changes is retried, then reported', async () => {
    const once = join(dir, 'interrupted-once');
    const ip = await fakeIp(
      'ip-intr-once',
      `case "$*" in *addr*) if mkdir '${once}' 2>/dev/null; then echo 'Dump was interrupted and may be inconsistent.' >&2; fi;; esac\n${answer}`,
    );
    assert.equal((await discoverInterfaces({ ipCommand: ip })).length, SCENARIO_EXPECTED.length);

    const failOnce = join(dir, 'interrupted-fail-once');
    const ipFail = await fakeIp(
      'ip-intr-fail-once',
      `case "$*" in *-4*) if mkdir '${failOnce}' 2>/dev/null; then echo 'Dump was interrupted and may be inconsistent.' >&2; echo 'Dump terminated' >&2; exit 1; fi;; esac\n${answer}`,
    );
    assert.equal((await discoverInterfaces({ ipCommand: ipFail })).length, SCENARIO_EXPECTED.length);

    const always = await fakeIp('ip-intr', `echo 'Dump was interrupted and may be inconsistent.' >&2\n${answer}`);
    await rejectsWith(discoverInterfaces({ ipCommand: always, interruptedRetries: 1 }), 'interrupted', /interrupted the netlink dump 2 times/);
  });
});
