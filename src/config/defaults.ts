// Defaults that deserve a name of their own.

/** Calico's non-host interfaces: owned by the core (src/core/select.ts), re-exported for the config layer. */
export { DEFAULT_INTERFACE_EXCLUDES } from '../core/select.ts';

/** A new HEP must never lock a node out: with this profile, "no policy matched" means allow. */
export const DEFAULT_PROFILES: readonly string[] = ['projectcalico-default-allow'];

/** Metrics and health port, clear of Calico's own (Felix 9091, Typha 9093, kube-controllers 9094). */
export const DEFAULT_METRICS_PORT = 9808;
