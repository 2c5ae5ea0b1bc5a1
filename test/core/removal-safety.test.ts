// Removal safety (issue 12): deselection gets the removal grace, and a circuit breaker keeps one
// pass from leaving more than safety.maxDeleteFraction of the node's managed interfaces uncovered.
// Pure: the agent's pass is desiredStateBuilder -> applyGracePeriod -> planReconcile, driven here
// with explicit clock values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { validateConfig } from '../../src/config/load.ts';
import { desiredStateBuilder } from '../../src/core/desired.ts';
import { applyGracePeriod } from '../../src/core/grace.ts';
import type { HostEndpoint, NetInterface } from '../../src/core/model.ts';
import { hostEndpointName, legacyHostEndpointName } from '../../src/core/naming.ts';
import { planReconcile, type ReconcilePlan } from '../../src/core/reconcile.ts';
import { iface } from '../helpers/interfaces.ts';

const node = { name: 'n1', labels: {}, uid: 'uid-n1' };
const GRACE_S = 300;
const nics = [iface('eth0', ['192.0.2.1/24']), iface('eth1', ['198.51.100.1/24']), iface('eth2', ['203.0.113.1/24'])];

function stored(hep: HostEndpoint): HostEndpoint {
  return structuredClone({ ...hep, metadata: { ...hep.metadata, resourceVersion: '1', uid: `uid-${hep.metadata.name}` } });
}

/** What the cluster holds after the agent ran with the default config: one HEP per NIC. */
const before = desiredStateBuilder(validateConfig({}))(node, nics).hostEndpoints.map(stored);

/** One agent process: config read once at start, grace clock in memory, as in src/agent/agent.ts. */
function agentWith(configDoc: Record<string, unknown>) {
  const config = validateConfig({ intervals: { removalGraceSeconds: GRACE_S }, ...configDoc });
  const build = desiredStateBuilder(config);
  let goneSince = new Map<string, number>();
  return (now: number, managed: readonly HostEndpoint[], interfaces: readonly NetInterface[] = nics): ReconcilePlan => {
    const state = build(node, interfaces);
    const grace = applyGracePeriod({
      hepInterfaces: managed.map((h) => h.spec.interfaceName ?? ''),
      wanted: new Set(state.hostEndpoints.map((h) => h.spec.interfaceName ?? '')),
      goneSince,
      now,
      graceMs: config.intervals.removalGraceSeconds * 1000,
    });
    goneSince = grace.goneSince;
    return planReconcile({
      nodeName: node.name,
      desired: state.hostEndpoints,
      managed,
      others: [],
      adopt: false,
      held: grace.held,
      allowDeletes: true,
      maxDeleteFraction: config.safety.maxDeleteFraction,
    });
  };
}

const deletes = (plan: ReconcilePlan) => plan.actions.filter((a) => a.type === 'delete').map((a) => (a.type === 'delete' ? a.name : ''));
const kinds = (plan: ReconcilePlan) => plan.drift.map((d) => `${d.kind}/${d.name}`);

test('deselecting every interface by config holds the deletes for the grace period, then the breaker holds them', () => {
  // A typo: include matches none of the node's interfaces. The agent restarts with it at t0.
  const pass = agentWith({ interfaces: { include: ['em*'] } });
  const t0 = 1_000_000;
  for (const now of [t0, t0 + 1, t0 + GRACE_S * 1000 - 1]) {
    const plan = pass(now, before);
    assert.deepEqual(deletes(plan), [], `no delete at +${now - t0} ms`);
    assert.deepEqual(plan.drift, [], 'held interfaces are not drift yet');
  }
  // Grace over: all three would go, 3/3 > 0.5: the breaker holds every one and says why.
  const after = pass(t0 + GRACE_S * 1000, before);
  assert.deepEqual(deletes(after), []);
  assert.deepEqual(kinds(after), ['breaker/n1-eth0', 'breaker/n1-eth1', 'breaker/n1-eth2']);
  assert.match(after.drift[0]!.detail, /leave 3 of the node's 3 managed interfaces without a HEP, more than safety\.maxDeleteFraction 0\.5/);
});

test('one interface deselected: deleted after the grace period, not before, as a vanished one is', () => {
  const pass = agentWith({ interfaces: { exclude: ['eth2'] } });
  assert.deepEqual(deletes(pass(0, before)), []);
  assert.deepEqual(deletes(pass(GRACE_S * 1000 - 1, before)), []);
  assert.deepEqual(deletes(pass(GRACE_S * 1000, before)), ['n1-eth2'], '1 of 3 is within the default share');
  // The same for an interface that vanished from the node.
  const vanished = agentWith({});
  const two = nics.slice(0, 2);
  assert.deepEqual(deletes(vanished(0, before, two)), []);
  assert.deepEqual(deletes(vanished(GRACE_S * 1000, before, two)), ['n1-eth2']);
});

test('an interface selected again within the grace period keeps its HEP', () => {
  const typo = agentWith({ interfaces: { include: ['em*'] } });
  assert.deepEqual(deletes(typo(0, before)), []);
  const fixed = agentWith({}); // rolled out again with the fix
  const plan = fixed(10, before);
  assert.deepEqual(plan, { drift: [], actions: [] });
});

test('safety.maxDeleteFraction: 1 turns the breaker off; 0 holds any delete that uncovers an interface', () => {
  const off = agentWith({ interfaces: { include: ['em*'] }, safety: { maxDeleteFraction: 1 } });
  off(0, before);
  assert.deepEqual(deletes(off(GRACE_S * 1000, before)), ['n1-eth0', 'n1-eth1', 'n1-eth2']);
  const strict = agentWith({ interfaces: { exclude: ['eth2'] }, safety: { maxDeleteFraction: 0 } });
  strict(0, before);
  const plan = strict(GRACE_S * 1000, before);
  assert.deepEqual(deletes(plan), []);
  assert.deepEqual(kinds(plan), ['breaker/n1-eth2']);
});

test('renaming a HEP from the earlier scheme creates the new one first, then deletes the old one: no gap, no breaker', () => {
  const lan0 = iface('lan-0', ['192.0.2.7/24']);
  const pass = agentWith({});
  const want = desiredStateBuilder(validateConfig({}))(node, [lan0]).hostEndpoints[0]!;
  const legacy = stored({ ...want, metadata: { ...want.metadata, name: legacyHostEndpointName('n1', 'lan-0') } });
  assert.equal(legacy.metadata.name, 'n1-lan-0');
  assert.equal(want.metadata.name, hostEndpointName('n1', 'lan-0'));
  // Pass 1: create under the new name, keep the old.
  const first = pass(0, [legacy], [lan0]);
  assert.deepEqual(
    first.actions.map((a) => [a.type, a.type === 'delete' ? a.name : a.object.metadata.name]),
    [['create', want.metadata.name]],
  );
  // Pass 2: both exist; the old one is a second HEP for a covered interface, deleted at once.
  const second = pass(1, [legacy, stored(want)], [lan0]);
  assert.deepEqual(deletes(second), ['n1-lan-0']);
  assert.match(second.drift[0]!.detail, /second HEP/);
  // A single-interface node: the breaker would hold an uncovering delete, but this one uncovers nothing.
  assert.deepEqual(pass(2, [stored(want)], [lan0]), { drift: [], actions: [] });
});

test('hand-written or adopted names are not renamed', () => {
  const pass = agentWith({});
  const want = desiredStateBuilder(validateConfig({}))(node, [iface('lan-0', ['192.0.2.7/24'])]).hostEndpoints[0]!;
  const adopted = stored({ ...want, metadata: { ...want.metadata, name: 'my-uplink' } });
  assert.deepEqual(pass(0, [adopted], [iface('lan-0', ['192.0.2.7/24'])]), { drift: [], actions: [] });
});

test('property: no pass leaves more than maxDeleteFraction of the managed interfaces without a HEP', () => {
  const names = ['eth0', 'eth1', 'eth2', 'ens3', 'em4', 'bond0'];
  const nicsOf = (ns: readonly string[]) => ns.map((n) => iface(n, ['192.0.2.1/24']));
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.constantFrom(...names), { minLength: 1 }),
      fc.uniqueArray(fc.constantFrom(...names)),
      fc.constantFrom(0, 0.25, 0.5, 0.75, 1),
      (haveNames, presentNames, fraction) => {
        const managed = desiredStateBuilder(validateConfig({}))(node, nicsOf(haveNames)).hostEndpoints.map(stored);
        const pass = agentWith({ intervals: { removalGraceSeconds: 0 }, safety: { maxDeleteFraction: fraction } });
        const plan = pass(0, managed, nicsOf(presentNames));
        const deleted = new Set(deletes(plan));
        const left = new Set(managed.filter((h) => !deleted.has(h.metadata.name)).map((h) => h.spec.interfaceName));
        const uncovered = haveNames.filter((n) => !left.has(n)).length;
        assert.ok(uncovered <= fraction * haveNames.length, `${uncovered} of ${haveNames.length} uncovered at ${fraction}`);
      },
    ),
  );
});
