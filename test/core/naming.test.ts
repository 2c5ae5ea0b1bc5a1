import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isDns1123Subdomain, labelValueError } from '../../src/core/k8s-names.ts';
import { hostEndpointName, identityLabelValue, legacyHostEndpointName } from '../../src/core/naming.ts';

test("the Calico guide's convention when it is already a valid name", () => {
  assert.equal(hostEndpointName('master1', 'em4'), 'master1-em4');
  assert.equal(hostEndpointName('node-1.example.com', 'eth0.100'), 'node-1.example.com-eth0.100');
});

test('names that need changing get a stable hash suffix and stay valid', () => {
  const upper = hostEndpointName('master1', 'Eth0');
  assert.match(upper, /^master1-eth0-[0-9a-f]{16}$/);
  assert.equal(hostEndpointName('master1', 'Eth0'), upper, 'stable');
  assert.notEqual(hostEndpointName('master1', 'eth_0'), hostEndpointName('master1', 'eth-0'));
  assert.ok(isDns1123Subdomain(hostEndpointName('master1', 'eth_0')));
  assert.ok(isDns1123Subdomain(hostEndpointName('master1', '_.-x')));
  assert.ok(isDns1123Subdomain(hostEndpointName('master1', 'a..b')));
});

test("never Calico's auto host endpoint suffix", () => {
  const name = hostEndpointName('edge-auto', 'hep');
  assert.match(name, /^edge-auto-hep-[0-9a-f]{16}$/);
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

test('node a + interface b-c and node a-b + interface c get different names (issue 12)', () => {
  assert.equal(hostEndpointName('a-b', 'c'), 'a-b-c');
  const other = hostEndpointName('a', 'b-c');
  assert.notEqual(other, 'a-b-c');
  assert.match(other, /^a-b-c-[0-9a-f]{16}$/, 'still readable');
  // Interfaces with a dash get the hashed form even where nothing collides today: whether
  // `<node>-<interface>` collides depends on other nodes' names, which one agent cannot know.
  assert.match(hostEndpointName('n1', 'br-ex'), /^n1-br-ex-[0-9a-f]{16}$/);
});

test('the earlier scheme, kept for migration, differs exactly where names could collide', () => {
  assert.equal(legacyHostEndpointName('a', 'b-c'), 'a-b-c');
  assert.equal(legacyHostEndpointName('n1', 'eth0'), hostEndpointName('n1', 'eth0'));
  assert.notEqual(legacyHostEndpointName('master1', 'Eth0'), hostEndpointName('master1', 'Eth0'));
});

// Node names as Kubernetes accepts them (DNS-1123 subdomains), biased towards dashes and dots so that
// `<node>-<interface>` ambiguities are likely; interface names as Calico accepts them.
const dnsLabel = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,8}[a-z0-9])?$/);
const validNode = fc.oneof(
  fc.array(dnsLabel, { minLength: 1, maxLength: 4 }).map((parts) => parts.join('.')),
  fc.array(fc.constantFrom('a', 'b', 'c', 'a-b', 'b-c', '0'), { minLength: 1, maxLength: 4 }).map((p) => p.join('-')),
  fc.constantFrom('a', 'a-b', 'a-b-c', 'a.b', 'x'.repeat(250), `${'y'.repeat(63)}.${'z'.repeat(63)}.${'w'.repeat(63)}.${'v'.repeat(61)}`),
);
const validIface = fc.oneof(
  ifaceName,
  fc.array(fc.constantFrom('b', 'c', 'b-c', 'eth0', '.', '-', '_', 'E'), { minLength: 1, maxLength: 4 }).map((p) => p.join('').slice(0, 15)),
  fc.constantFrom('c', 'b-c', 'eth0', 'eth0.100', 'br-ex', 'Eth0', 'eth_0', 'hep', 'c-0123456789ab'),
);

test('property: HEP names are unique across (node, interface) pairs', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.tuple(validNode, validIface), { minLength: 2, maxLength: 40, selector: ([n, i]) => JSON.stringify([n, i]) }), (pairs) => {
      const byName = new Map<string, string>();
      for (const [node, iface] of pairs) {
        const name = hostEndpointName(node, iface);
        assert.ok(isDns1123Subdomain(name), name);
        const prior = byName.get(name);
        assert.equal(prior, undefined, `${name}: ${prior} and ${JSON.stringify([node, iface])}`);
        byName.set(name, JSON.stringify([node, iface]));
      }
    }),
    { numRuns: 3000 },
  );
});

test('property: a plain name splits back into its pair at the last dash; a hashed one never looks plain', () => {
  fc.assert(
    fc.property(validNode, validIface, (node, iface) => {
      const name = hostEndpointName(node, iface);
      const cut = name.lastIndexOf('-');
      const last = name.slice(cut + 1);
      if (last.length <= 15) assert.deepEqual([name.slice(0, cut), last], [node, iface], name);
      else assert.match(last, /^[0-9a-f]{16}$/, name);
    }),
    { numRuns: 3000 },
  );
});
