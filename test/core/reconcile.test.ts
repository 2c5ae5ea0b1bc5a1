import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateConfig } from '../../src/config/load.ts';
import { desiredStateBuilder } from '../../src/core/desired.ts';
import type { HostEndpoint } from '../../src/core/model.ts';
import { MANAGED_BY_LABEL } from '../../src/core/ownership.ts';
import { hostEndpointChanges, planReconcile, type PlanInput } from '../../src/core/reconcile.ts';
import { iface } from '../helpers/interfaces.ts';

const build = desiredStateBuilder(validateConfig({}));
const node = { name: 'n1', labels: { role: 'master' }, uid: 'uid-n1' };
const desired = build(node, [iface('eth0', ['192.0.2.1/24']), iface('eth1', ['198.51.100.1/24'])]).hostEndpoints;

/** As the API server would return it. */
function stored(hep: HostEndpoint, rv = '7'): HostEndpoint {
  return structuredClone({ ...hep, metadata: { ...hep.metadata, resourceVersion: rv, uid: `uid-${hep.metadata.name}` } });
}

function input(over: Partial<PlanInput>): PlanInput {
  return { nodeName: 'n1', desired, managed: [], others: [], adopt: false, held: new Set(), allowDeletes: true, ...over };
}

test('nothing to do when the cluster matches', () => {
  const plan = planReconcile(input({ managed: desired.map((h) => stored(h)) }));
  assert.deepEqual(plan, { drift: [], actions: [] });
});

test('order of IPs, profiles and label keys does not count as drift', () => {
  const h = stored(desired[0]!);
  h.spec.expectedIPs = [...(h.spec.expectedIPs ?? [])].reverse();
  h.metadata.labels = Object.fromEntries(Object.entries(h.metadata.labels ?? {}).reverse());
  assert.deepEqual(hostEndpointChanges(h, desired[0]!), []);
});

test('missing HEPs are created', () => {
  const plan = planReconcile(input({ managed: [stored(desired[0]!)] }));
  assert.deepEqual(
    plan.drift.map((d) => [d.kind, d.name]),
    [['missing', 'n1-eth1']],
  );
  assert.equal(plan.actions[0]?.type, 'create');
});

test('a modified managed HEP is replaced with the resourceVersion it was read at, keeping other metadata', () => {
  const h = stored(desired[0]!, '42');
  h.spec.expectedIPs = ['192.0.2.99'];
  h.metadata.labels = { ...h.metadata.labels, extra: 'x' };
  h.metadata.annotations = { note: 'kept' };
  const plan = planReconcile(input({ managed: [h, stored(desired[1]!)] }));
  assert.equal(plan.drift.length, 1);
  const d = plan.drift[0]!;
  assert.equal(d.kind, 'modified');
  assert.deepEqual(
    d.changes.map((c) => c.path),
    ['metadata.labels.extra', 'spec.expectedIPs'],
  );
  const action = plan.actions[0]!;
  assert.equal(action.type, 'update');
  assert.equal(action.object.metadata.resourceVersion, '42');
  assert.deepEqual(action.object.metadata.annotations, { note: 'kept' });
  assert.deepEqual(action.object.spec, desired[0]!.spec);
  assert.deepEqual(action.object.metadata.labels, desired[0]!.metadata.labels);
});

test('stale managed HEPs are deleted, unless held in grace or deletes are not allowed', () => {
  const gone = stored({ ...desired[0]!, metadata: { ...desired[0]!.metadata, name: 'n1-eth9' }, spec: { ...desired[0]!.spec, interfaceName: 'eth9' } });
  const managed = [...desired.map((h) => stored(h)), gone];
  const plan = planReconcile(input({ managed }));
  assert.deepEqual(
    plan.drift.map((d) => [d.kind, d.name]),
    [['stale', 'n1-eth9']],
  );
  assert.deepEqual(
    plan.actions.map((a) => a.type),
    ['delete'],
  );
  assert.deepEqual(planReconcile(input({ managed, held: new Set(['eth9']) })), { drift: [], actions: [] });
  const unsafe = planReconcile(input({ managed, allowDeletes: false }));
  assert.equal(unsafe.drift.length, 1, 'still reported');
  assert.equal(unsafe.actions.length, 0, 'never deleted');
});

test("an unmanaged HEP for the same interface (the guide's hand-written one) is a conflict, left alone", () => {
  const handWritten: HostEndpoint = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: 'master-eth0-by-hand', labels: { role: 'master' }, resourceVersion: '3' },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.1'] },
  };
  const plan = planReconcile(input({ managed: [stored(desired[1]!)], others: [handWritten] }));
  assert.deepEqual(
    plan.drift.map((d) => [d.kind, d.name]),
    [['conflict', 'master-eth0-by-hand']],
  );
  assert.equal(plan.actions.length, 0);

  const adopted = planReconcile(input({ managed: [stored(desired[1]!)], others: [handWritten], adopt: true }));
  assert.equal(adopted.actions.length, 1);
  const action = adopted.actions[0]!;
  assert.equal(action.type, 'update', 'taken over in place, never delete-and-recreate');
  assert.equal(action.object.metadata.name, 'master-eth0-by-hand');
  assert.equal(action.object.metadata.resourceVersion, '3');
  assert.equal(action.object.metadata.labels?.[MANAGED_BY_LABEL], 'calico-hep-agent');
});

test("a HEP holding our name for another node is a conflict even with adopt; Calico's auto HEPs are never adopted", () => {
  const other: HostEndpoint = {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: 'n1-eth0', labels: {}, resourceVersion: '5' },
    spec: { node: 'n1-other', interfaceName: 'x' },
  };
  const plan = planReconcile(input({ managed: [stored(desired[1]!)], others: [other], adopt: true }));
  assert.deepEqual(
    plan.drift.map((d) => d.kind),
    ['conflict'],
  );
  assert.equal(plan.actions.length, 0);
});

test('property: applying the plan to the cluster leaves nothing to do (circuit breaker off)', () => {
  const ifaceNames = fc.uniqueArray(fc.constantFrom('eth0', 'eth1', 'eth2', 'ens3', 'em4', 'bond0'), { maxLength: 6 });
  fc.assert(
    fc.property(ifaceNames, ifaceNames, fc.boolean(), (wantNames, haveNames, mangle) => {
      const want = build(
        node,
        wantNames.map((n) => iface(n, ['192.0.2.1/24'])),
      ).hostEndpoints;
      const have = build(
        node,
        haveNames.map((n) => iface(n, [mangle ? '203.0.113.1/24' : '192.0.2.1/24'])),
      ).hostEndpoints.map((h) => stored(h));
      const plan = planReconcile(input({ desired: want, managed: have, maxDeleteFraction: 1 }));
      // Apply the actions to a model of the cluster.
      const cluster = new Map(have.map((h) => [h.metadata.name, h]));
      for (const a of plan.actions) {
        if (a.type === 'delete') cluster.delete(a.name);
        else cluster.set(a.object.metadata.name, stored(a.object));
      }
      const again = planReconcile(input({ desired: want, managed: [...cluster.values()], maxDeleteFraction: 1 }));
      assert.deepEqual(again, { drift: [], actions: [] });
    }),
  );
});

test("policy guard: a held create is not made and reported with the guard's message; the other HEP is created", () => {
  const deny = desiredStateBuilder(validateConfig({ hostEndpoint: { profiles: [] } }))(node, [
    iface('eth0', ['192.0.2.1/24']),
    iface('eth1', ['198.51.100.1/24']),
  ]).hostEndpoints;
  const plan = planReconcile(input({ desired: deny, policyHeld: new Map([['n1-eth1', { message: 'held: policy p drops ingress' }]]) }));
  assert.deepEqual(
    plan.drift.map((d) => [d.kind, d.name]),
    [
      ['missing', 'n1-eth0'],
      ['policy-held', 'n1-eth1'],
    ],
  );
  assert.deepEqual(
    plan.actions.map((a) => [a.type, a.repairs.name]),
    [['create', 'n1-eth0']],
  );
  assert.equal(plan.drift[1]!.detail, 'held: policy p drops ingress');
});

test('policy guard: a held update keeps the labels and profiles the HEP has; other fixes still apply', () => {
  const deny = desiredStateBuilder(validateConfig({ hostEndpoint: { profiles: [] } }))(node, [iface('eth0', ['192.0.2.1/24'])]).hostEndpoints;
  const have = stored(desired[0]!);
  const held = new Map([['n1-eth0', { message: 'held' }]]);
  let plan = planReconcile(input({ desired: deny, managed: [have], policyHeld: held }));
  assert.deepEqual(
    plan.drift.map((d) => d.kind),
    ['policy-held'],
  );
  assert.deepEqual(plan.actions, []);
  plan = planReconcile(input({ desired: deny, managed: [have] }));
  assert.deepEqual(
    plan.actions.map((a) => a.type),
    ['update'],
  );
  // Held, and expectedIPs differ too: the IPs are fixed, the profiles kept.
  const moved = stored(desired[0]!);
  moved.spec.expectedIPs = ['192.0.2.99'];
  plan = planReconcile(input({ desired: deny, managed: [moved], policyHeld: held }));
  assert.deepEqual(
    plan.drift.map((d) => d.kind),
    ['policy-held', 'modified'],
  );
  const update = plan.actions[0]!;
  assert.ok(update.type === 'update');
  assert.deepEqual(update.object.spec.profiles, ['projectcalico-default-allow']);
  assert.deepEqual(update.object.spec.expectedIPs, ['192.0.2.1']);
});
