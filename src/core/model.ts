// The domain model shared by the pure core and its adapters. Plain data only: everything here can be
// built in a test without a kernel or a cluster.

/** One address as the kernel reports it on an interface. */
export interface InterfaceAddress {
  /** Address text as the kernel printed it; the core canonicalises it. */
  readonly address: string;
  readonly prefixLength: number;
  readonly family: 4 | 6;
  /** Kernel scope name: `global`, `link`, `host`, `site`. */
  readonly scope: string;
}

/** One network interface of the node's host network namespace. */
export interface NetInterface {
  readonly name: string;
  readonly index: number;
  /** Link kind from `ip -d` (`veth`, `bridge`, `macvlan`, ...); `undefined` for physical NICs. */
  readonly kind?: string | undefined;
  /** Kernel operstate: `UP`, `DOWN`, `UNKNOWN`, `LOWERLAYERDOWN`, ... */
  readonly operState: string;
  /** Link flags such as `UP`, `LOWER_UP`, `NO-CARRIER`, `LOOPBACK`. */
  readonly flags: readonly string[];
  readonly mac?: string | undefined;
  /** Every address of the interface, link-local and loopback included; the core filters. */
  readonly addresses: readonly InterfaceAddress[];
  /** True when a default route (IPv4 or IPv6, main table) leaves through this interface. */
  readonly hasDefaultRoute: boolean;
}

export type Labels = Readonly<Record<string, string>>;

export interface ObjectMeta {
  name: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  uid?: string;
  ownerReferences?: OwnerReference[];
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface HostEndpointSpec {
  node: string;
  interfaceName?: string;
  expectedIPs?: string[];
  profiles?: string[];
  ports?: unknown[];
}

/** A Calico HostEndpoint in its `projectcalico.org/v3` shape. */
export interface HostEndpoint {
  apiVersion: string;
  kind: 'HostEndpoint';
  metadata: ObjectMeta;
  spec: HostEndpointSpec;
}

export const CALICO_V3_API_VERSION = 'projectcalico.org/v3';
export const CALICO_CRD_API_VERSION = 'crd.projectcalico.org/v1';
