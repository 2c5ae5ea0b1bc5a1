import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { canonicalIp, expectedIps, ipInCidr, isHostAddress, sortedUniqueIps } from '../../src/core/ip.ts';
import { addr } from '../helpers/interfaces.ts';

test('canonical text: RFC 5952 for IPv6, dotted quad for IPv4', () => {
  assert.equal(canonicalIp('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canonicalIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1');
  assert.equal(canonicalIp('2001:0db8::0001'), '2001:db8::1');
  assert.equal(canonicalIp('192.0.2.1'), '192.0.2.1');
  assert.equal(canonicalIp('not-an-ip'), undefined);
});

test('host addresses exclude loopback, link-local and unspecified', () => {
  for (const a of ['127.0.0.1', '::1', '169.254.10.1', 'fe80::1', 'fe80::1%eth0', '0.0.0.0', '::']) {
    assert.equal(isHostAddress(a), false, a);
  }
  for (const a of ['10.0.0.1', '192.0.2.1', '120.133.60.219', '2001:db8::1', 'fd00::1']) {
    assert.equal(isHostAddress(a), true, a);
  }
});

test('expectedIPs: every host address, canonical, IPv4 first, numeric order, no duplicates', () => {
  const ips = expectedIps(
    ['2001:db8::10/64', '10.0.0.10/24', 'fe80::1/64', '10.0.0.9/24', '2001:DB8::10/64', '169.254.1.1/16', '2001:db8::9/64', '10.0.0.10/32'].map(addr),
  );
  assert.deepEqual(ips, ['10.0.0.9', '10.0.0.10', '2001:db8::9', '2001:db8::10']);
});

test('CIDR membership, both families, and malformed values never match', () => {
  assert.equal(ipInCidr('120.133.60.219', '120.133.60.0/24'), true);
  assert.equal(ipInCidr('120.133.61.1', '120.133.60.0/24'), false);
  assert.equal(ipInCidr('2001:db8::1', '2001:db8::/32'), true);
  assert.equal(ipInCidr('2001:db8::1', '10.0.0.0/8'), false);
  assert.equal(ipInCidr('bogus', '10.0.0.0/8'), false);
  assert.equal(ipInCidr('10.0.0.1', 'bogus'), false);
});

const anyIp = fc.oneof(fc.ipV4(), fc.ipV6());

test('property: sorting is idempotent, order-insensitive and de-duplicating', () => {
  fc.assert(
    fc.property(fc.array(anyIp, { maxLength: 20 }), (ips) => {
      const once = sortedUniqueIps(ips);
      assert.deepEqual(sortedUniqueIps(once), once);
      assert.deepEqual(sortedUniqueIps([...ips].reverse()), once);
      assert.equal(new Set(once).size, once.length);
      assert.equal(new Set(ips.map((i) => canonicalIp(i))).size, once.length);
    }),
  );
});

test('property: canonical text is a fixed point', () => {
  fc.assert(
    fc.property(anyIp, (ip) => {
      const c = canonicalIp(ip);
      assert.notEqual(c, undefined);
      assert.equal(canonicalIp(c as string), c);
    }),
  );
});

// libcalico-go's ParseIP keeps To4() of a parsed address, so Felix files `::ffff:a.b.c.d` under IPv4
// (libcalico-go/lib/net/ip.go, updateprocessors/hostendpointprocessor.go): we write the IPv4 form.
test('IPv4-mapped IPv6 addresses are written as the IPv4 address Calico reads, and de-duplicated', () => {
  assert.equal(canonicalIp('::ffff:1.2.3.4'), '1.2.3.4');
  assert.equal(canonicalIp('::ffff:102:304'), '1.2.3.4');
  assert.deepEqual(expectedIps(['::ffff:192.0.2.1/128', '192.0.2.1/24', '2001:db8::1/64'].map(addr)), ['192.0.2.1', '2001:db8::1']);
  assert.equal(isHostAddress('::ffff:127.0.0.1'), false, 'mapped loopback is loopback');
  assert.equal(isHostAddress('::ffff:169.254.1.1'), false, 'mapped link-local is link-local');
  assert.equal(ipInCidr('::ffff:10.0.0.1', '10.0.0.0/8'), true);
});

test('property: an IPv4-mapped address and its IPv4 address are one expectedIP', () => {
  fc.assert(
    fc.property(fc.ipV4(), (v4) => {
      assert.deepEqual(sortedUniqueIps([`::ffff:${v4}`, v4]), [canonicalIp(v4)]);
    }),
  );
});
