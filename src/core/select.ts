// Which of the node's interfaces get a HostEndpoint.
import { anyGlob } from './globs.ts';
import type { NetInterface } from './model.ts';
import { CALICO_INTERFACE_NAME_RE } from './naming.ts';

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

/** The core's own shape of `interfaces` (the config layer maps its validated schema onto it). */
export interface InterfaceSelectionConfig {
  readonly include: readonly string[];
  readonly exclude: readonly string[];
  readonly useDefaultExcludes: boolean;
}

export interface SelectionResult {
  readonly selected: NetInterface[];
  /** Interfaces the globs chose but Calico would reject; reported, never written. */
  readonly warnings: string[];
}

/**
 * Whether an interface name can be selected at all (the globs, by name only): kernel events about
 * other links (pod veths, cali*) are dropped before they cause any work.
 */
export function interfaceNameFilter(config: InterfaceSelectionConfig): (name: string) => boolean {
  const included = anyGlob(config.include);
  const excluded = anyGlob([...(config.useDefaultExcludes ? DEFAULT_INTERFACE_EXCLUDES : []), ...config.exclude]);
  return (name) => included(name) && !excluded(name);
}

/** Compiles the globs once; the returned function is pure and cheap to call on every rescan. */
export function interfaceSelector(config: InterfaceSelectionConfig): (interfaces: readonly NetInterface[]) => SelectionResult {
  const included = anyGlob(config.include);
  const excluded = anyGlob([...(config.useDefaultExcludes ? DEFAULT_INTERFACE_EXCLUDES : []), ...config.exclude]);
  return (interfaces) => {
    const selected: NetInterface[] = [];
    const warnings: string[] = [];
    for (const iface of interfaces) {
      if (!included(iface.name) || excluded(iface.name)) continue;
      if (!CALICO_INTERFACE_NAME_RE.test(iface.name)) {
        warnings.push(`interface "${iface.name}" skipped: Calico accepts only interface names matching ${CALICO_INTERFACE_NAME_RE.source}`);
        continue;
      }
      selected.push(iface);
    }
    selected.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { selected, warnings };
  };
}
