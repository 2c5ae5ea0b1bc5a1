// Remembers since when each current drift has existed, so metrics can say how old the oldest is
// and count each drift once when it first appears rather than on every reconcile.
import type { Drift, DriftKind } from './reconcile.ts';

export interface DriftUpdate {
  /** Drift seen for the first time in this update. */
  readonly appeared: Drift[];
  /** Keys (`kind/name`) that were present before and are gone now. */
  readonly cleared: string[];
  readonly countByKind: Record<DriftKind, number>;
  /** Age in ms of the oldest current drift; 0 when there is none. */
  readonly oldestAgeMs: number;
}

const key = (d: Drift) => `${d.kind}/${d.name}`;

export class DriftTracker {
  #since = new Map<string, number>();

  update(drift: readonly Drift[], now: number): DriftUpdate {
    const next = new Map<string, number>();
    const appeared: Drift[] = [];
    const countByKind: Record<DriftKind, number> = { missing: 0, modified: 0, stale: 0, conflict: 0, 'policy-held': 0 };
    for (const d of drift) {
      const k = key(d);
      if (next.has(k)) continue;
      const since = this.#since.get(k);
      if (since === undefined) appeared.push(d);
      next.set(k, since ?? now);
      countByKind[d.kind]++;
    }
    const cleared = [...this.#since.keys()].filter((k) => !next.has(k));
    this.#since = next;
    let oldest = now;
    for (const t of next.values()) oldest = Math.min(oldest, t);
    return { appeared, cleared, countByKind, oldestAgeMs: now - oldest };
  }
}
