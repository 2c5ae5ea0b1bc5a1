import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isDns1123Subdomain, labelValueError } from '../../src/core/k8s-names.ts';
import { hostEndpointName, identityLabelValue } from '../../src/core/naming.ts';

test("the Calico guide's convention when it is already a valid name", () => {
  assert.equal(hostEndpointName('master1', 'em4'), 'master1-em4');
  assert.equal(hostEndpointName('node-1.example.com', 'eth0.100'), 'node-1.example.com-eth0.100');
});

test('names that need changing get a stable hash suffix and stay valid', () => {
  const upper = hostEndpointName('master1', 'Eth0');
  assert.match(upper, /^master1-eth0-[0-9a-f]{10}$/);
  assert.equal(hostEndpointName('master1', 'Eth0'), upper, 'stable');
  assert.notEqual(hostEndpointName('master1', 'eth_0'), hostEndpointName('master1', 'eth-0'));
  assert.ok(isDns1123Subdomain(hostEndpointName('master1', 'eth_0')));
  assert.ok(isDns1123Subdomain(hostEndpointName('master1', '_.-x')));
  assert.ok(isDns1123Subdomain(hostEndpointName('master1', 'a..b')));
});

test("never Calico's auto host endpoint suffix", () => {
  const name = hostEndpointName('edge-auto', 'hep');
  assert.match(name, /^edge-auto-hep-[0-9a-f]{10}$/);
});

test('names longer than 253 characters are cut and hashed', () => {
  const node = `${'a'.repeat(62)}.${'b'.repeat(62)}.${'c'.repeat(62)}.${'d'.repeat(60)}`;
  const name = hostEndpointName(node, 'eth0');
  assert.ok(name.length <= 253, String(name.length));
  assert.ok(isDns1123Subdomain(name));
  assert.notEqual(name, hostEndpointName(node, 'eth1'));
});

const nodeName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,250}[a-z0-9])?$/);
const ifaceName = fc.stringMatching(/^[a-zA-Z0-9_.-]{1,15}$/);

test('property: every HEP name is a valid DNS-1123 subdomain and deterministic', () => {
  fc.assert(
    fc.property(nodeName, ifaceName, (node, iface) => {
      const name = hostEndpointName(node, iface);
      assert.ok(isDns1123Subdomain(name), name);
      assert.ok(!name.endsWith('-auto-hep'), name);
      assert.equal(hostEndpointName(node, iface), name);
    }),
    { numRuns: 2000 },
  );
});

test('property: distinct interfaces of one node never share a name', () => {
  fc.assert(
    fc.property(nodeName, fc.uniqueArray(ifaceName, { minLength: 2, maxLength: 30 }), (node, ifaces) => {
      const names = ifaces.map((i) => hostEndpointName(node, i));
      assert.equal(new Set(names).size, names.length);
    }),
    { numRuns: 500 },
  );
});

test('property: identity label values are always valid label values', () => {
  fc.assert(
    fc.property(fc.oneof(nodeName, ifaceName, fc.string({ maxLength: 300 })), (text) => {
      assert.equal(labelValueError(identityLabelValue(text)), undefined, text);
    }),
    { numRuns: 2000 },
  );
  assert.equal(identityLabelValue('master1'), 'master1');
});
