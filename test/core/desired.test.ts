import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { desiredStateBuilder } from '../../src/core/desired.ts';
import { INTERFACE_LABEL, MANAGED_BY_LABEL, NODE_LABEL } from '../../src/core/ownership.ts';
import { iface } from '../helpers/interfaces.ts';

test("the Calico guide's example comes out exactly: master1-em4", () => {
  const config = validateConfig({
    interfaceRules: [{ name: 'em4-external', match: { names: ['em4'] }, labels: { type: 'external' } }],
  });
  const state = desiredStateBuilder(config)({ name: 'master1', labels: { role: 'master' } }, [
    iface('lo', ['127.0.0.1/8', '::1/128']),
    iface('em4', ['120.133.60.219/24', 'fe80::1/64']),
    iface('docker0', ['172.17.0.1/16']),
  ]);
  assert.equal(state.hostEndpoints.length, 1);
  const [hep] = state.hostEndpoints;
  assert.deepEqual(hep, {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: {
      name: 'master1-em4',
      labels: {
        [MANAGED_BY_LABEL]: 'calico-hep-agent',
        [INTERFACE_LABEL]: 'em4',
        [NODE_LABEL]: 'master1',
        role: 'master',
        type: 'external',
      },
    },
    spec: { node: 'master1', interfaceName: 'em4', expectedIPs: ['120.133.60.219'], profiles: ['projectcalico-default-allow'] },
  });
  assert.equal(state.interfacesSeen, 3);
  assert.equal(state.interfacesSelected, 1);
});

test('one HEP per selected interface, sorted by name, addressless and carrier-down interfaces included', () => {
  const build = desiredStateBuilder(validateConfig({}));
  const state = build({ name: 'n1', labels: {} }, [
    iface('eth1', [], { operState: 'DOWN', flags: ['NO-CARRIER', 'BROADCAST', 'UP'] }),
    iface('eth0', ['2001:db8::2/64', '192.0.2.10/24', '192.0.2.9/24']),
  ]);
  assert.deepEqual(
    state.hostEndpoints.map((h) => h.metadata.name),
    ['n1-eth0', 'n1-eth1'],
  );
  assert.deepEqual(state.hostEndpoints[0]?.spec.expectedIPs, ['192.0.2.9', '192.0.2.10', '2001:db8::2']);
  assert.equal(state.hostEndpoints[1]?.spec.expectedIPs, undefined);
  assert.equal(state.hostEndpoints[1]?.spec.interfaceName, 'eth1');
});

test('profiles are configurable, empty allowed; ownerReference when the Node uid is known', () => {
  const build = desiredStateBuilder(validateConfig({ hostEndpoint: { profiles: [] } }));
  const [hep] = build({ name: 'n1', labels: {}, uid: 'u-1' }, [iface('eth0')]).hostEndpoints;
  assert.deepEqual(hep?.spec.profiles, []);
  assert.deepEqual(hep?.metadata.ownerReferences, [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: 'u-1' }]);
});

test('same inputs in any order give the same output', () => {
  const build = desiredStateBuilder(validateConfig({}));
  const ifs = [iface('eth0', ['192.0.2.1/24']), iface('eth1', ['198.51.100.1/24']), iface('ens3', ['2001:db8::1/64'])];
  const a = build({ name: 'n', labels: { b: '2', a: '1' } }, ifs);
  const b = build({ name: 'n', labels: { a: '1', b: '2' } }, [...ifs].reverse());
  assert.deepEqual(JSON.stringify(a.hostEndpoints), JSON.stringify(b.hostEndpoints));
});
