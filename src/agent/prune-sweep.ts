// The optional periodic prune: every agent tries, one wins. A coordination.k8s.io Lease elects the
// sweeper, so a 5,000-node cluster lists all HEPs and Nodes once per interval, not 5,000 times.
import type { ApiClient } from '../adapters/kube/api-client.ts';
import { apiFailure } from '../adapters/kube/errors.ts';

export const PRUNE_LEASE_NAME = 'calico-hep-agent-prune';

/** The fields of a coordination.k8s.io/v1 Lease the sweep reads and writes (times as RFC 3339 strings). */
export interface Lease {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; [k: string]: unknown };
}

/** Pure: may `identity` take or keep the lease at `now` (epoch ms)? */
export function mayHold(lease: Lease, identity: string, now: number): boolean {
  const holder = lease.spec?.holderIdentity;
  if (holder === undefined || holder === '' || holder === identity) return true;
  const renewed = lease.spec?.renewTime ?? lease.spec?.acquireTime;
  const duration = lease.spec?.leaseDurationSeconds ?? 0;
  return renewed === undefined || new Date(renewed).getTime() + duration * 1000 <= now;
}

/** Takes or renews the lease; false when another agent holds it (or won a race for it). */
export async function acquireLease(
  api: ApiClient,
  opts: { namespace: string; identity: string; durationSeconds: number; now: number },
): Promise<boolean> {
  // A MicroTime field: RFC 3339 with a fraction; milliseconds are enough.
  const time = new Date(opts.now).toISOString();
  const spec = { holderIdentity: opts.identity, leaseDurationSeconds: opts.durationSeconds, renewTime: time };
  const collection = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(opts.namespace)}/leases`;
  let current: Lease | undefined;
  try {
    const raw = await api.get(`${collection}/${PRUNE_LEASE_NAME}`);
    if (raw === null || typeof raw !== 'object') throw new Error(`Lease ${PRUNE_LEASE_NAME} is not an object`);
    current = raw as Lease;
  } catch (err) {
    if (apiFailure(err).code !== 404) throw err;
  }
  try {
    if (current === undefined) {
      await api.create(collection, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: PRUNE_LEASE_NAME, namespace: opts.namespace },
        spec: { ...spec, acquireTime: time },
      });
      return true;
    }
    if (!mayHold(current, opts.identity, opts.now)) return false;
    const acquireTime = current.spec?.holderIdentity === opts.identity ? current.spec.acquireTime : time;
    // The resourceVersion we read makes a concurrent taker lose with 409 instead of both winning.
    await api.replace(`${collection}/${PRUNE_LEASE_NAME}`, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      ...current,
      spec: { ...current.spec, ...spec, ...(acquireTime !== undefined ? { acquireTime } : {}) },
    });
    return true;
  } catch (err) {
    if (apiFailure(err).code === 409) return false;
    throw err;
  }
}
