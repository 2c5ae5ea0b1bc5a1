// The agent's view of the cluster: one reflector per thing it reads, all built by one factory, none
// growing with the cluster's managed HEPs:
// - this node's Node (field selector metadata.name);
// - this node's managed HEPs (label selector: managed-by us and our node label);
// - unmanaged HEPs (label selector managed-by != us, Calico's auto HEPs excluded), the hand-written
//   ones that may fight ours for an interface;
// - Calico's auto HEPs of this node (created-by kube-controllers, and the node's hostname label that
//   kube-controllers copies from the Node), started once the Node is known;
// - GlobalNetworkPolicies, StagedGlobalNetworkPolicies, Tiers and FelixConfigurations, always: the
//   policy guard reads them as one snapshot before any write.
// Nothing outside writes to a reflector's cache: our own writes come back through the watches.
import { apiVersionOf, type CalicoApiGroup } from '../adapters/kube/calico-api.ts';
import { fromWire } from '../adapters/kube/hostendpoints.ts';
import { asPolicy } from '../adapters/kube/policies.ts';
import type { Reflector, ReflectorFactory } from '../adapters/kube/reflector.ts';
import { managedSelector } from '../core/labels.ts';
import type { HostEndpoint } from '../core/model.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../core/ownership.ts';

/** The label kube-controllers puts on the auto HEPs it creates. */
export const CALICO_CREATED_BY = 'projectcalico.org/created-by';
export const CALICO_KUBE_CONTROLLERS = 'calico-kube-controllers';
const HOSTNAME_LABEL = 'kubernetes.io/hostname';

/** Hand-written HEPs: neither ours nor Calico's auto HEPs. Does not grow with managed HEPs. */
export const UNMANAGED_SELECTOR = `${MANAGED_BY_LABEL}!=${MANAGED_BY_VALUE},${CALICO_CREATED_BY}!=${CALICO_KUBE_CONTROLLERS}`;

export interface NodeObject {
  readonly metadata: {
    readonly name: string;
    readonly uid?: string | undefined;
    readonly labels: Readonly<Record<string, string>>;
    readonly resourceVersion?: string | undefined;
  };
}

/** A Calico object the guard reads (policy, tier, FelixConfiguration), kind filled in. */
export interface CalicoObject {
  readonly apiVersion?: string | undefined;
  readonly kind: string;
  readonly metadata: {
    readonly name: string;
    readonly resourceVersion?: string | undefined;
    readonly labels?: Record<string, string> | undefined;
    readonly annotations?: Record<string, string> | undefined;
  };
  readonly spec?: unknown;
}

/** What the policy guard reads, as plain objects. */
export interface PolicyObjects {
  readonly globalNetworkPolicies: readonly CalicoObject[];
  readonly stagedGlobalNetworkPolicies: readonly CalicoObject[];
  readonly tiers: readonly CalicoObject[];
  readonly felixConfigurations: readonly CalicoObject[];
  /** All four listed (or known not served). */
  readonly synced: boolean;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObject(v)) for (const [k, x] of Object.entries(v)) if (typeof x === 'string') out[k] = x;
  return out;
}

/** A Node reduced to what the agent uses (memory stays flat whatever the Node's status holds). */
export function parseNode(raw: unknown): NodeObject | undefined {
  if (!isObject(raw) || !isObject(raw['metadata'])) return undefined;
  const m = raw['metadata'];
  if (typeof m['name'] !== 'string') return undefined;
  return {
    metadata: {
      name: m['name'],
      uid: typeof m['uid'] === 'string' ? m['uid'] : undefined,
      labels: stringMap(m['labels']),
      resourceVersion: typeof m['resourceVersion'] === 'string' ? m['resourceVersion'] : undefined,
    },
  };
}

/** A HEP in its v3 shape, checked: a name and a spec object. */
export function parseHostEndpoint(raw: unknown, calico: CalicoApiGroup): HostEndpoint | undefined {
  if (!isObject(raw) || !isObject(raw['metadata']) || typeof raw['metadata']['name'] !== 'string') return undefined;
  const hep = fromWire(raw, calico);
  if (!isObject(hep.spec)) hep.spec = { node: '' };
  if (typeof hep.spec.node !== 'string') hep.spec.node = '';
  if (hep.spec.interfaceName !== undefined && typeof hep.spec.interfaceName !== 'string') delete hep.spec.interfaceName;
  if (hep.spec.expectedIPs !== undefined && !(Array.isArray(hep.spec.expectedIPs) && hep.spec.expectedIPs.every((x) => typeof x === 'string')))
    delete hep.spec.expectedIPs;
  if (hep.spec.profiles !== undefined && !(Array.isArray(hep.spec.profiles) && hep.spec.profiles.every((x) => typeof x === 'string'))) delete hep.spec.profiles;
  hep.kind = 'HostEndpoint';
  return hep;
}

function calicoObject(kind: string): (raw: unknown) => CalicoObject | undefined {
  return (raw) => {
    if (!isObject(raw) || !isObject(raw['metadata']) || typeof raw['metadata']['name'] !== 'string') return undefined;
    const obj = kind === 'GlobalNetworkPolicy' ? asPolicy(raw) : { ...(raw as object), kind };
    return obj as CalicoObject;
  };
}

export class ClusterView {
  readonly node: Reflector<NodeObject>;
  #calico: CalicoApiGroup | undefined;
  #managed: Reflector<HostEndpoint> | undefined;
  #unmanaged: Reflector<HostEndpoint> | undefined;
  #autoHeps: Reflector<HostEndpoint> | undefined;
  #gnps: Reflector<CalicoObject> | undefined;
  #sgnps: Reflector<CalicoObject> | undefined;
  #tiers: Reflector<CalicoObject> | undefined;
  #felix: Reflector<CalicoObject> | undefined;
  readonly #factory: ReflectorFactory;
  readonly #nodeName: string;

  constructor(factory: ReflectorFactory, nodeName: string) {
    this.#factory = factory;
    this.#nodeName = nodeName;
    this.node = factory.create({ resource: 'nodes', path: '/api/v1/nodes', fieldSelector: `metadata.name=${nodeName}`, parse: parseNode });
  }

  start(): void {
    this.node.start();
  }

  get calico(): CalicoApiGroup | undefined {
    return this.#calico;
  }

  /** Starts the Calico reflectors once the API group is known. Idempotent. */
  startCalico(calico: CalicoApiGroup): void {
    if (this.#calico !== undefined) return;
    this.#calico = calico;
    const base = `/apis/${apiVersionOf(calico)}`;
    const f = this.#factory;
    const hep = (raw: unknown) => parseHostEndpoint(raw, calico);
    this.#managed = f.create({ resource: 'hostendpoints', path: `${base}/hostendpoints`, labelSelector: managedSelector(this.#nodeName), parse: hep });
    this.#unmanaged = f.create({ resource: 'hostendpoints-unmanaged', path: `${base}/hostendpoints`, labelSelector: UNMANAGED_SELECTOR, parse: hep });
    this.#gnps = f.create({ resource: 'globalnetworkpolicies', path: `${base}/globalnetworkpolicies`, parse: calicoObject('GlobalNetworkPolicy') });
    this.#sgnps = f.create({
      resource: 'stagedglobalnetworkpolicies',
      path: `${base}/stagedglobalnetworkpolicies`,
      parse: calicoObject('StagedGlobalNetworkPolicy'),
      optional: true,
    });
    this.#tiers = f.create({ resource: 'tiers', path: `${base}/tiers`, parse: calicoObject('Tier'), optional: true });
    this.#felix = f.create({ resource: 'felixconfigurations', path: `${base}/felixconfigurations`, parse: calicoObject('FelixConfiguration') });
    for (const r of [this.#managed, this.#unmanaged, this.#gnps, this.#sgnps, this.#tiers, this.#felix]) r.start();
  }

  /**
   * Starts the watch of this node's Calico auto HEPs, selected by the hostname label kube-controllers
   * copies from the Node (without it, by the created-by label alone). Idempotent.
   */
  startAutoHostEndpoints(node: NodeObject): void {
    if (this.#autoHeps !== undefined || this.#calico === undefined) return;
    const calico = this.#calico;
    const hostname = node.metadata.labels[HOSTNAME_LABEL];
    this.#autoHeps = this.#factory.create({
      resource: 'hostendpoints-auto',
      path: `/apis/${apiVersionOf(calico)}/hostendpoints`,
      labelSelector: `${CALICO_CREATED_BY}=${CALICO_KUBE_CONTROLLERS}${hostname !== undefined ? `,${HOSTNAME_LABEL}=${hostname}` : ''}`,
      parse: (raw) => parseHostEndpoint(raw, calico),
    });
    this.#autoHeps.start();
  }

  get nodeObject(): NodeObject | undefined {
    return this.node.cache.get(this.#nodeName);
  }

  get managed(): readonly HostEndpoint[] {
    return [...(this.#managed?.cache.values() ?? [])];
  }

  /** Unmanaged HEPs of this node (hand-written and Calico auto HEPs); other nodes' are ignored. */
  get unmanagedOfNode(): readonly HostEndpoint[] {
    const out: HostEndpoint[] = [];
    for (const r of [this.#unmanaged, this.#autoHeps]) for (const h of r?.cache.values() ?? []) if (h.spec.node === this.#nodeName) out.push(h);
    return out;
  }

  /** An unmanaged HEP by name, from any node (a name collision blocks a create). */
  unmanagedByName(name: string): HostEndpoint | undefined {
    return this.#unmanaged?.cache.get(name) ?? this.#autoHeps?.cache.get(name);
  }

  get policies(): PolicyObjects {
    const all = [this.#gnps, this.#sgnps, this.#tiers, this.#felix];
    return {
      globalNetworkPolicies: [...(this.#gnps?.cache.values() ?? [])],
      stagedGlobalNetworkPolicies: [...(this.#sgnps?.cache.values() ?? [])],
      tiers: [...(this.#tiers?.cache.values() ?? [])],
      felixConfigurations: [...(this.#felix?.cache.values() ?? [])],
      synced: all.every((r) => r?.synced === true),
    };
  }

  /**
   * The reflectors a reconcile cannot do without. Not the policies: until they are listed the policy
   * guard holds every write that changes labels or profiles, and their list triggers a reconcile.
   */
  required(): readonly Reflector<{ metadata: { name?: string | undefined } }>[] {
    const heps = [this.node, this.#managed, this.#unmanaged, this.#autoHeps];
    return heps.filter((r) => r !== undefined);
  }

  /** The reflectors of what the policy guard reads (those started). */
  get policyReflectors(): readonly Reflector<CalicoObject>[] {
    return [this.#gnps, this.#sgnps, this.#tiers, this.#felix].filter((r) => r !== undefined);
  }

  /** Every reflector started. */
  get all(): readonly Reflector<{ metadata: { name?: string | undefined } }>[] {
    return this.#factory.all;
  }

  stop(): Promise<void> {
    return this.#factory.stopAll();
  }
}
