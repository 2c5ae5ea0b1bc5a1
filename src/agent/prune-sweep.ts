// The optional periodic prune: every agent tries, one wins. A coordination.k8s.io Lease elects the
// sweeper, so a 5,000-node cluster lists all HEPs and Nodes once per interval, not 5,000 times.
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { observed } from '../adapters/kube/calls.ts';
import { apiFailure } from '../adapters/kube/errors.ts';
import type { ApiObserver } from '../adapters/kube/observer.ts';

export const PRUNE_LEASE_NAME = 'calico-hep-agent-prune';

/** Pure: may `identity` take or keep the lease at `now` (epoch ms)? */
export function mayHold(lease: V1Lease, identity: string, now: number): boolean {
  const holder = lease.spec?.holderIdentity;
  if (holder === undefined || holder === '' || holder === identity) return true;
  const renewed = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  const duration = lease.spec?.leaseDurationSeconds ?? 0;
  return renewed === undefined || new Date(renewed).getTime() + duration * 1000 <= now;
}

/** Takes or renews the lease; false when another agent holds it (or won a race for it). */
export async function acquireLease(
  kc: KubeConfig,
  opts: { namespace: string; identity: string; durationSeconds: number; now: number; observer: ApiObserver },
): Promise<boolean> {
  const api = kc.makeApiClient(CoordinationV1Api);
  const time = new Date(opts.now);
  const spec = { holderIdentity: opts.identity, leaseDurationSeconds: opts.durationSeconds, renewTime: time };
  let current: V1Lease | undefined;
  try {
    current = await observed(opts.observer, 'get', 'leases', () => api.readNamespacedLease({ name: PRUNE_LEASE_NAME, namespace: opts.namespace }));
  } catch (err) {
    if (apiFailure(err).code !== 404) throw err;
  }
  try {
    if (current === undefined) {
      await observed(opts.observer, 'create', 'leases', () =>
        api.createNamespacedLease({
          namespace: opts.namespace,
          body: { metadata: { name: PRUNE_LEASE_NAME, namespace: opts.namespace }, spec: { ...spec, acquireTime: time } },
        }),
      );
      return true;
    }
    if (!mayHold(current, opts.identity, opts.now)) return false;
    const acquireTime = current.spec?.holderIdentity === opts.identity ? current.spec.acquireTime : time;
    // The resourceVersion we read makes a concurrent taker lose with 409 instead of both winning.
    await observed(opts.observer, 'update', 'leases', () =>
      api.replaceNamespacedLease({
        name: PRUNE_LEASE_NAME,
        namespace: opts.namespace,
        body: { ...current, spec: { ...current!.spec, ...spec, ...(acquireTime !== undefined ? { acquireTime } : {}) } },
      }),
    );
    return true;
  } catch (err) {
    if (apiFailure(err).code === 409) return false;
    throw err;
  }
}
