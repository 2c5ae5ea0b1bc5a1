// Level-based reconciliation, pure: desired HEPs vs what the cluster holds -> drift and the writes
// that repair it. Desired and actual are matched by interface, not by name, so a HEP adopted under
// a hand-written name keeps that name.
import type { HostEndpoint, HostEndpointSpec, OwnerReference } from './model.ts';
import { isCalicoAutoHostEndpoint, isManaged } from './ownership.ts';

export type DriftKind = 'missing' | 'modified' | 'stale' | 'conflict' | 'unguarded';
export const DRIFT_KINDS: readonly DriftKind[] = ['missing', 'modified', 'stale', 'conflict', 'unguarded'];

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
   * Desired HEPs (by name) that no GlobalNetworkPolicy selects and that lack the default-allow
   * profile (config `requirePolicy`): they are not created, and an existing HEP does not lose the
   * default-allow profile, until a policy selects them. Drift kind `unguarded`, no action.
   */
  readonly unguarded?: ReadonlySet<string> | undefined;
}

const DEFAULT_ALLOW = 'projectcalico-default-allow';

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
      const changes = hostEndpointChanges(have, want);
      if (
        changes.length > 0 &&
        input.unguarded?.has(want.metadata.name) === true &&
        (have.spec?.profiles ?? []).includes(DEFAULT_ALLOW) &&
        !(want.spec.profiles ?? []).includes(DEFAULT_ALLOW)
      ) {
        drift.push({
          kind: 'unguarded',
          name: have.metadata.name,
          interfaceName: iface,
          detail: `would lose the ${DEFAULT_ALLOW} profile while no GlobalNetworkPolicy selects it (requirePolicy): not updated`,
          changes,
        });
        continue;
      }
      if (changes.length > 0) {
        const d: Drift = { kind: 'modified', name: have.metadata.name, interfaceName: iface, detail: `differs in ${describe(changes)}`, changes };
        drift.push(d);
        actions.push({ type: 'update', object: replacementFor(have, want), repairs: d });
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
      if (ours && input.adopt) actions.push({ type: 'update', object: replacementFor(blocker, want), repairs: d });
      continue;
    }
    if (input.unguarded?.has(want.metadata.name) === true) {
      drift.push({
        kind: 'unguarded',
        name: want.metadata.name,
        interfaceName: iface,
        detail: `no GlobalNetworkPolicy selects it and it has no ${DEFAULT_ALLOW} profile: not created, it would cut interface ${iface} off (requirePolicy)`,
        changes: [],
      });
      continue;
    }
    const d: Drift = { kind: 'missing', name: want.metadata.name, interfaceName: iface, detail: `no HostEndpoint for interface ${iface}`, changes: [] };
    drift.push(d);
    actions.push({ type: 'create', object: want, repairs: d });
  }

  for (const have of input.managed) {
    if (matched.has(have)) continue;
    const iface = have.spec?.interfaceName;
    if (iface !== undefined && input.held.has(iface)) continue;
    const d: Drift = {
      kind: 'stale',
      name: have.metadata.name,
      interfaceName: iface,
      detail: `interface ${iface ?? '(none)'} is gone or no longer selected`,
      changes: [],
    };
    drift.push(d);
    if (input.allowDeletes) actions.push({ type: 'delete', name: have.metadata.name, resourceVersion: have.metadata.resourceVersion, repairs: d });
  }
  return { drift, actions };
}
