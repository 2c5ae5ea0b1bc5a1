// Exponential backoff with "full jitter" (AWS architecture blog): spreads a fleet of agents that
// failed together, so 5,000 nodes do not retry against the API server in lockstep.

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const API_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 30_000 };

/**
 * Delay before retry number `attempt` (1 for the first retry). `random` in [0, 1).
 * A server's Retry-After is a floor: we never come back sooner than it asked.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: number, retryAfterSeconds?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.floor(ceiling / 2 + (random * ceiling) / 2);
  const floor = retryAfterSeconds !== undefined ? retryAfterSeconds * 1000 : 0;
  return Math.max(jittered, floor);
}
