import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_INTERFACE_EXCLUDES } from '../../src/core/select.ts';
import { interfaceSelector } from '../../src/core/select.ts';
import { iface } from '../helpers/interfaces.ts';

const names = (r: { selected: { name: string }[] }) => r.selected.map((i) => i.name);

test("default excludes drop Calico's non-host interfaces and keep host NICs", () => {
  const select = interfaceSelector({ include: ['*'], exclude: [], useDefaultExcludes: true });
  const nonHost = [
    'docker0',
    'cbr0',
    'dummy0',
    'podman0',
    'virbr0',
    'lxcbr0',
    'veth1234',
    'lo',
    'br-abc123',
    'cali12345',
    'tunl0',
    'flannel.1',
    'kube-ipvs0',
    'cni0',
    'vxlan.calico',
    'vxlan-v6.calico',
    'wireguard.cali',
    'wg-v6.cali',
    'nodelocaldns',
  ];
  assert.equal(nonHost.length, DEFAULT_INTERFACE_EXCLUDES.length);
  const r = select([...nonHost, 'eth0', 'em4', 'bond0', 'eth0.100', 'ens3f0', 'br0'].map((n) => iface(n)));
  assert.deepEqual(names(r), ['bond0', 'br0', 'em4', 'ens3f0', 'eth0', 'eth0.100']);
  assert.deepEqual(r.warnings, []);
});

test('include and exclude globs; exclude wins; defaults can be switched off', () => {
  const all = ['eth0', 'eth1', 'em4', 'ens3', 'lo', 'docker0'].map((n) => iface(n));
  assert.deepEqual(names(interfaceSelector({ include: ['eth*', 'em?'], exclude: ['eth1'], useDefaultExcludes: true })(all)), ['em4', 'eth0']);
  assert.deepEqual(names(interfaceSelector({ include: ['*'], exclude: [], useDefaultExcludes: false })(all)), ['docker0', 'em4', 'ens3', 'eth0', 'eth1', 'lo']);
  assert.deepEqual(names(interfaceSelector({ include: ['e{m,th}[0-9]'], exclude: [], useDefaultExcludes: true })(all)), ['em4', 'eth0', 'eth1']);
  assert.deepEqual(names(interfaceSelector({ include: [], exclude: [], useDefaultExcludes: true })(all)), []);
});

test('names Calico rejects are skipped with a warning, never selected', () => {
  const r = interfaceSelector({ include: ['*'], exclude: [], useDefaultExcludes: true })([
    iface('eth0:1'),
    iface('ve+x'),
    iface('a-sixteen-chars!'),
    iface('fifteen-chars-x'),
  ]);
  assert.deepEqual(names(r), ['fifteen-chars-x']);
  assert.equal(r.warnings.length, 3);
  assert.match(r.warnings[0] ?? '', /"eth0:1" skipped/);
});
