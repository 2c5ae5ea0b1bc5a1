// The agent's lockout guard (config `requirePolicy`): a HostEndpoint without the default-allow profile
// default-denies its interface the moment it exists, so it is only created once some
// GlobalNetworkPolicy selects it. The pure decision lives here.
import type { HostEndpoint } from '../model.ts';
import { hasDefaultAllow } from './explain.ts';
import { selectsLabels, type Policy } from './model.ts';

/**
 * Names of the HEPs that would default-deny with no policy at all: no default-allow profile and no
 * (valid) GlobalNetworkPolicy selecting them. Any stage or direction counts as "selected": the guard
 * only refuses to create a HEP nobody wrote a policy for.
 */
export function unguardedHostEndpoints(heps: readonly HostEndpoint[], policies: readonly Policy[]): Set<string> {
  const out = new Set<string>();
  for (const hep of heps) {
    if (hasDefaultAllow(hep)) continue;
    const labels = hep.metadata.labels ?? {};
    if (!policies.some((p) => selectsLabels(p, labels))) out.add(hep.metadata.name);
  }
  return out;
}
