// Level-based reconciliation, pure: desired HEPs vs what the cluster holds -> drift and the writes
// that repair it. Desired and actual are matched by interface, not by name, so a HEP adopted under
// a hand-written name keeps that name.
import type { HostEndpoint, HostEndpointSpec, OwnerReference } from './model.ts';
import { legacyHostEndpointName } from './naming.ts';
import { isCalicoAutoHostEndpoint, isManaged } from './ownership.ts';

/** `breaker`: a stale HEP whose delete the circuit breaker holds (see `maxDeleteFraction`). */
export type DriftKind = 'missing' | 'modified' | 'stale' | 'conflict' | 'policy-held' | 'breaker';
export const DRIFT_KINDS: readonly DriftKind[] = ['missing', 'modified', 'stale', 'conflict', 'policy-held', 'breaker'];

/** Default share of a node's managed interfaces one pass may leave without a HEP. */
export const DEFAULT_MAX_DELETE_FRACTION = 0.5;

/** One field that differs: `from` is what the cluster has, `to` what it should have. */
export interface FieldChange {
  readonly path: string;
  readonly from?: unknown;
  readonly to?: unknown;
}

export interface Drift {
  readonly kind: DriftKind;
  /** The HEP in the cluster (or, for `missing`, the one to create). */
  readonly name: string;
  readonly interfaceName: string | undefined;
  readonly detail: string;
  readonly changes: readonly FieldChange[];
}

export type Action =
  | { readonly type: 'create'; readonly object: HostEndpoint; readonly repairs: Drift }
  /** A full replacement for PUT; carries the resourceVersion it was computed from. */
  | { readonly type: 'update'; readonly object: HostEndpoint; readonly repairs: Drift }
  | { readonly type: 'delete'; readonly name: string; readonly resourceVersion: string | undefined; readonly repairs: Drift };

export interface ReconcilePlan {
  readonly drift: Drift[];
  readonly actions: Action[];
}

export interface PlanInput {
  readonly nodeName: string;
  readonly desired: readonly HostEndpoint[];
  /** This node's managed HEPs, as the cluster has them. */
  readonly managed: readonly HostEndpoint[];
  /** Unmanaged HEPs that may stand in the way: a desired name, or this node and a desired interface. */
  readonly others: readonly HostEndpoint[];
  readonly adopt: boolean;
  /** Missing interfaces whose HEPs are kept for now (grace period). */
  readonly held: ReadonlySet<string>;
  /**
   * False when the node's interface list cannot be trusted to say what is gone (discovery failed or
   * returned nothing): then nothing is deleted, whatever else differs.
   */
  readonly allowDeletes: boolean;
  /**
   * Writes the policy guard holds (src/core/policy/guard.ts decidePolicyGuard), by desired HEP name:
   * such a HEP is not created, and an existing one keeps its labels and profiles (other fixes still
   * apply). Drift kind `policy-held` carrying the guard's message.
   */
  readonly policyHeld?: ReadonlyMap<string, { readonly message: string }> | undefined;
  /**
   * Circuit breaker (config `safety.maxDeleteFraction`, default DEFAULT_MAX_DELETE_FRACTION): when
   * the deletes of one pass would leave more than this share of the interfaces that have a managed
   * HEP without any, none of those deletes is made; each such HEP is drift kind `breaker`. Deletes
   * of a second HEP for an interface that keeps one (a rename) do not count. 1 turns it off.
   */
  readonly maxDeleteFraction?: number | undefined;
}

function sameSet(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  const x = new Set(a ?? []);
  const y = new Set(b ?? []);
  if (x.size !== y.size) return false;
  for (const v of x) if (!y.has(v)) return false;
  return true;
}

function nodeOwner(refs: readonly OwnerReference[] | undefined): OwnerReference | undefined {
  return refs?.find((r) => r.kind === 'Node' && r.apiVersion === 'v1');
}

/** The differences between a HEP in the cluster and the desired one, field by field, ignoring order. */
export function hostEndpointChanges(actual: HostEndpoint, desired: HostEndpoint): FieldChange[] {
  const changes: FieldChange[] = [];
  const al = actual.metadata.labels ?? {};
  const dl = desired.metadata.labels ?? {};
  for (const key of [...new Set([...Object.keys(al), ...Object.keys(dl)])].sort()) {
    if (al[key] !== dl[key]) changes.push({ path: `metadata.labels.${key}`, from: al[key], to: dl[key] });
  }
  const wantOwner = nodeOwner(desired.metadata.ownerReferences);
  const haveOwner = nodeOwner(actual.metadata.ownerReferences);
  if (wantOwner !== undefined && (haveOwner?.uid !== wantOwner.uid || haveOwner.name !== wantOwner.name)) {
    changes.push({ path: 'metadata.ownerReferences[Node]', from: haveOwner?.uid, to: wantOwner.uid });
  }
  const as: HostEndpointSpec = actual.spec ?? ({} as HostEndpointSpec);
  const ds = desired.spec;
  if (as.node !== ds.node) changes.push({ path: 'spec.node', from: as.node, to: ds.node });
  if (as.interfaceName !== ds.interfaceName) changes.push({ path: 'spec.interfaceName', from: as.interfaceName, to: ds.interfaceName });
  if (!sameSet(as.expectedIPs, ds.expectedIPs)) changes.push({ path: 'spec.expectedIPs', from: as.expectedIPs ?? [], to: ds.expectedIPs ?? [] });
  if (!sameSet(as.profiles, ds.profiles)) changes.push({ path: 'spec.profiles', from: as.profiles ?? [], to: ds.profiles ?? [] });
  if ((as.ports?.length ?? 0) > 0) changes.push({ path: 'spec.ports', from: as.ports, to: undefined });
  return changes;
}

/** The object to PUT: the cluster's object (other metadata kept) with our labels, owner and spec. */
export function replacementFor(actual: HostEndpoint, desired: HostEndpoint): HostEndpoint {
  const otherOwners = (actual.metadata.ownerReferences ?? []).filter((r) => !(r.kind === 'Node' && r.apiVersion === 'v1'));
  const owners = [...otherOwners, ...(desired.metadata.ownerReferences ?? nodeOwnerList(actual))];
  const metadata = { ...actual.metadata, labels: { ...(desired.metadata.labels ?? {}) } };
  if (owners.length > 0) metadata.ownerReferences = owners;
  else delete metadata.ownerReferences;
  return { apiVersion: actual.apiVersion, kind: 'HostEndpoint', metadata, spec: { ...desired.spec } };
}

function nodeOwnerList(hep: HostEndpoint): OwnerReference[] {
  const own = nodeOwner(hep.metadata.ownerReferences);
  return own === undefined ? [] : [own];
}

function describe(changes: readonly FieldChange[]): string {
  return changes.map((c) => c.path).join(', ');
}

/** policy guard: `want` with the labels and profiles `have` has now (the guard held changing them). */
function keepPolicyFields(want: HostEndpoint, have: HostEndpoint): HostEndpoint {
  const spec = { ...want.spec };
  if (have.spec?.profiles !== undefined) spec.profiles = [...have.spec.profiles];
  else delete spec.profiles;
  return { ...want, metadata: { ...want.metadata, labels: { ...(have.metadata.labels ?? {}) } }, spec };
}

/**
 * Whether HEP `o` (of this node) governs interface `iface`: same interfaceName, or no interfaceName
 * and one of the expectedIPs the desired HEP `want` has (Felix matches such a HEP by address).
 */
function governs(o: HostEndpoint, iface: string, want: HostEndpoint): boolean {
  if (o.spec?.interfaceName === iface) return true;
  if ((o.spec?.interfaceName ?? '') !== '') return false;
  const wantIps = new Set(want.spec.expectedIPs ?? []);
  return (o.spec?.expectedIPs ?? []).some((ip) => wantIps.has(ip));
}

export function planReconcile(input: PlanInput): ReconcilePlan {
  const drift: Drift[] = [];
  const actions: Action[] = [];
  const managedByInterface = new Map<string, HostEndpoint[]>();
  for (const hep of input.managed) {
    const key = hep.spec?.interfaceName ?? '';
    managedByInterface.set(key, [...(managedByInterface.get(key) ?? []), hep]);
  }
  const matched = new Set<HostEndpoint>();

  for (const want of input.desired) {
    const iface = want.spec.interfaceName as string;
    // Prefer the managed HEP with the canonical name; extra ones for the same interface go stale.
    const candidates = managedByInterface.get(iface) ?? [];
    const have = candidates.find((h) => h.metadata.name === want.metadata.name) ?? candidates[0];
    if (have !== undefined) {
      matched.add(have);
      // An unmanaged HEP of this node for the same interface beside ours: Felix lets the one whose
      // name sorts first govern the interface. Reported; ours is kept and theirs is never touched.
      const rival = input.others.find(
        (o) => !isManaged(o.metadata.labels) && o.spec?.node === input.nodeName && o.metadata.name !== have.metadata.name && governs(o, iface, want),
      );
      if (rival !== undefined) {
        const first = rival.metadata.name < have.metadata.name ? rival.metadata.name : have.metadata.name;
        drift.push({
          kind: 'conflict',
          name: rival.metadata.name,
          interfaceName: iface,
          detail: `unmanaged HostEndpoint ${rival.metadata.name} also covers node ${input.nodeName} interface ${iface} beside the agent's ${have.metadata.name}; Felix applies ${first} (the name that sorts first)`,
          changes: [],
        });
      }
      let target = want;
      let changes = hostEndpointChanges(have, target);
      // policy guard: a held label/profile change is reported; the rest of the fix still goes out.
      const guardHold = changes.length > 0 ? input.policyHeld?.get(want.metadata.name) : undefined;
      if (guardHold !== undefined) {
        drift.push({ kind: 'policy-held', name: have.metadata.name, interfaceName: iface, detail: guardHold.message, changes });
        target = keepPolicyFields(want, have);
        changes = hostEndpointChanges(have, target);
      }
      if (changes.length > 0) {
        const d: Drift = { kind: 'modified', name: have.metadata.name, interfaceName: iface, detail: `differs in ${describe(changes)}`, changes };
        drift.push(d);
        actions.push({ type: 'update', object: replacementFor(have, target), repairs: d });
      } else if (renameDue(have, want, input)) {
        // Migration from the earlier naming scheme, without a gap: create the HEP under its new name
        // now (same content, so Felix's choice between the two changes nothing); the old one is then
        // a second HEP for a covered interface and goes stale in the next pass.
        const rename: FieldChange = { path: 'metadata.name', from: have.metadata.name, to: want.metadata.name };
        const d: Drift = {
          kind: 'modified',
          name: have.metadata.name,
          interfaceName: iface,
          detail: `named by the earlier scheme: creating ${want.metadata.name}, then deleting ${have.metadata.name}`,
          changes: [rename],
        };
        drift.push(d);
        actions.push({ type: 'create', object: want, repairs: d });
      }
      continue;
    }
    // Same name: whoever holds it (even another node's agent) blocks the create.
    // Same node and interface: an unmanaged HEP would fight ours for the interface in Felix.
    // An expectedIPs-only HEP of this node governs the interface that has one of those IPs.
    const blocker = input.others.find(
      (o) => o.metadata.name === want.metadata.name || (!isManaged(o.metadata.labels) && o.spec?.node === input.nodeName && governs(o, iface, want)),
    );
    if (blocker !== undefined) {
      const auto = isCalicoAutoHostEndpoint(blocker.metadata.name, blocker.metadata.labels);
      const ours = blocker.spec?.node === input.nodeName && !isManaged(blocker.metadata.labels) && !auto;
      const changes = hostEndpointChanges(blocker, want);
      const d: Drift = {
        kind: 'conflict',
        name: blocker.metadata.name,
        interfaceName: iface,
        detail: ours
          ? `unmanaged HostEndpoint ${blocker.metadata.name} already covers node ${input.nodeName} interface ${iface}${input.adopt ? '' : ' (set adopt: true to take it over)'}`
          : auto && blocker.spec?.node === input.nodeName
            ? `Calico auto HostEndpoint ${blocker.metadata.name} already covers node ${input.nodeName} interface ${iface}: not adopted (kube-controllers owns it)`
            : `HostEndpoint ${blocker.metadata.name} (node ${blocker.spec?.node ?? '(none)'}) holds the name and cannot be adopted`,
        changes,
      };
      drift.push(d);
      // policy guard: adopting rewrites the HEP's labels and profiles, so a hold applies to it too.
      const adoptHold = ours && input.adopt ? input.policyHeld?.get(want.metadata.name) : undefined;
      if (adoptHold !== undefined) drift.push({ kind: 'policy-held', name: blocker.metadata.name, interfaceName: iface, detail: adoptHold.message, changes });
      else if (ours && input.adopt) actions.push({ type: 'update', object: replacementFor(blocker, want), repairs: d });
      continue;
    }
    const createHold = input.policyHeld?.get(want.metadata.name);
    if (createHold !== undefined) {
      drift.push({ kind: 'policy-held', name: want.metadata.name, interfaceName: iface, detail: createHold.message, changes: [] });
      continue;
    }
    const d: Drift = { kind: 'missing', name: want.metadata.name, interfaceName: iface, detail: `no HostEndpoint for interface ${iface}`, changes: [] };
    drift.push(d);
    actions.push({ type: 'create', object: want, repairs: d });
  }

  // Deletes. A managed HEP no desired HEP matched is stale: its interface is gone or deselected,
  // unless the grace period still holds it. Deleting it uncovers the interface unless another
  // managed HEP for that interface was matched (a rename or a duplicate).
  const covered = new Set<string>();
  for (const have of matched) covered.add(have.spec?.interfaceName ?? '');
  const stale: HostEndpoint[] = [];
  for (const have of input.managed) {
    if (matched.has(have)) continue;
    const iface = have.spec?.interfaceName;
    if (iface !== undefined && input.held.has(iface)) continue;
    stale.push(have);
  }
  const managedInterfaces = new Set(input.managed.map((h) => h.spec?.interfaceName ?? ''));
  const uncovered = new Set(stale.map((h) => h.spec?.interfaceName ?? '').filter((i) => !covered.has(i)));
  const fraction = input.maxDeleteFraction ?? DEFAULT_MAX_DELETE_FRACTION;
  const tripped = input.allowDeletes && uncovered.size > 0 && uncovered.size > fraction * managedInterfaces.size;
  for (const have of stale) {
    const iface = have.spec?.interfaceName;
    if (tripped && uncovered.has(iface ?? '')) {
      drift.push({
        kind: 'breaker',
        name: have.metadata.name,
        interfaceName: iface,
        detail:
          `not deleted: this pass would leave ${uncovered.size} of the node's ${managedInterfaces.size} managed interfaces ` +
          `without a HEP, more than safety.maxDeleteFraction ${fraction}; interface ${iface ?? '(none)'} is gone or no longer selected ` +
          `(check interfaces.include/exclude; raise safety.maxDeleteFraction, up to 1, if the removal is intended)`,
        changes: [],
      });
      continue;
    }
    const d: Drift = {
      kind: 'stale',
      name: have.metadata.name,
      interfaceName: iface,
      detail: covered.has(iface ?? '') ? `a second HEP for interface ${iface ?? '(none)'}` : `interface ${iface ?? '(none)'} is gone or no longer selected`,
      changes: [],
    };
    drift.push(d);
    if (input.allowDeletes) actions.push({ type: 'delete', name: have.metadata.name, resourceVersion: have.metadata.resourceVersion, repairs: d });
  }
  return { drift, actions };
}

/**
 * Whether a matched managed HEP should move to its desired name: only a name the agent itself gave
 * under the earlier scheme (legacyHostEndpointName), never a hand-written or adopted one, and only
 * when no other HEP holds the new name.
 */
function renameDue(have: HostEndpoint, want: HostEndpoint, input: PlanInput): boolean {
  const iface = want.spec.interfaceName;
  if (iface === undefined || have.metadata.name === want.metadata.name) return false;
  // A create the policy guard holds is not made as a rename either.
  if (input.policyHeld?.has(want.metadata.name) === true) return false;
  if (have.metadata.name !== legacyHostEndpointName(input.nodeName, iface)) return false;
  const taken = (h: HostEndpoint) => h.metadata.name === want.metadata.name;
  return !input.managed.some(taken) && !input.others.some(taken);
}
