// Defaults that deserve a name of their own.

/**
 * Interfaces that are not host interfaces, mirroring Calico's own list for auto host endpoints
 * and Felix's interface exclusions: container bridges and veths, Calico's and other CNIs' tunnels,
 * kube-proxy's IPVS dummy and node-local DNS.
 */
export const DEFAULT_INTERFACE_EXCLUDES: readonly string[] = [
  'docker*',
  'cbr*',
  'dummy*',
  'podman*',
  'virbr*',
  'lxcbr*',
  'veth*',
  'lo',
  'br-*',
  'cali*',
  'tunl*',
  'flannel*',
  'kube-ipvs*',
  'cni*',
  'vxlan.calico',
  'vxlan-v6.calico',
  'wireguard.cali',
  'wg-v6.cali',
  'nodelocaldns*',
];

/** A new HEP must never lock a node out: with this profile, "no policy matched" means allow. */
export const DEFAULT_PROFILES: readonly string[] = ['projectcalico-default-allow'];

/** Metrics and health port, clear of Calico's own (Felix 9091, Typha 9093, kube-controllers 9094). */
export const DEFAULT_METRICS_PORT = 9808;
