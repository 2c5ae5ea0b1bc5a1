import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../src/config/load.ts';
import { interfaceRuleLabels, managedSelector, nodeDerivedLabels } from '../../src/core/labels.ts';
import { iface } from '../helpers/interfaces.ts';

const nodeLabels = {
  'kubernetes.io/hostname': 'master1',
  'kubernetes.io/os': 'linux',
  'node-role.kubernetes.io/control-plane': '',
  'topology.kubernetes.io/zone': 'z1',
  'projectcalico.org/created-by': 'someone',
  'calico-hep-agent.io/node': 'forged',
};

test('copies all Node labels by default, never reserved or Calico-owned keys', () => {
  const out = nodeDerivedLabels(nodeLabels, validateConfig({}).labels);
  assert.deepEqual(out, {
    'kubernetes.io/hostname': 'master1',
    'kubernetes.io/os': 'linux',
    'node-role.kubernetes.io/control-plane': '',
    'topology.kubernetes.io/zone': 'z1',
  });
});

test('allow and deny globs, rename, derive, static; later rules win', () => {
  const rules = validateConfig({
    labels: {
      fromNode: {
        include: ['kubernetes.io/*', 'topology.kubernetes.io/*'],
        exclude: ['kubernetes.io/hostname'],
        rename: { 'topology.kubernetes.io/zone': 'zone' },
      },
      derive: [
        { name: 'control-plane-is-master', whenNodeLabel: { key: 'node-role.kubernetes.io/control-plane' }, set: { role: 'master' } },
        { name: 'only-in-z2', whenNodeLabel: { key: 'topology.kubernetes.io/zone', value: 'z2' }, set: { zone2: 'true' } },
      ],
      static: { 'kubernetes.io/os': 'overridden', site: 'dc1' },
    },
  }).labels;
  assert.deepEqual(nodeDerivedLabels(nodeLabels, rules), {
    'kubernetes.io/os': 'overridden',
    zone: 'z1',
    role: 'master',
    site: 'dc1',
  });
});

test('copying nothing: an empty include list', () => {
  const rules = validateConfig({ labels: { fromNode: { include: [] } } }).labels;
  assert.deepEqual(nodeDerivedLabels(nodeLabels, rules), {});
});

test('interface rules match by name glob, by CIDR of an address, by default route; all criteria must hold', () => {
  const rules = validateConfig({
    interfaceRules: [
      { name: 'public', match: { cidrs: ['120.133.60.0/24', '2001:db8:1::/48'] }, labels: { type: 'external' } },
      { name: 'uplink', match: { defaultRoute: true }, labels: { uplink: 'true' } },
      { name: 'storage', match: { names: ['ens*'], defaultRoute: false }, labels: { net: 'storage' } },
    ],
  }).interfaceRules;
  const labelsFor = interfaceRuleLabels(rules);
  assert.deepEqual(labelsFor(iface('em4', ['120.133.60.219/24'], { hasDefaultRoute: true })), { type: 'external', uplink: 'true' });
  assert.deepEqual(labelsFor(iface('ens3', ['2001:db8:1::5/64'])), { type: 'external', net: 'storage' });
  assert.deepEqual(labelsFor(iface('ens4', ['10.0.0.1/8'], { hasDefaultRoute: true })), { uplink: 'true' });
  assert.deepEqual(labelsFor(iface('eth9', ['10.0.0.1/8'])), {});
});

test('the managed selector names our label and the node', () => {
  assert.equal(managedSelector('master1'), 'app.kubernetes.io/managed-by=calico-hep-agent,calico-hep-agent.io/node=master1');
});
