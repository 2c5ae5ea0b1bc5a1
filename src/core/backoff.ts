// Exponential backoff with jitter, as client-go's: spreads a fleet of agents that failed together, so
// 5,000 nodes do not retry against the API server in lockstep; and a failure count that resets only
// after a stable period, so a flapping server is not hammered at the base delay after each blip.
import { clampDelay } from './clock.ts';

export interface BackoffPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
  /** A failure this long after the previous one starts again from baseMs (client-go's resetDuration). */
  readonly resetAfterMs: number;
}

/** The reconcile loop's requeue after errors. */
export const API_BACKOFF: BackoffPolicy = { baseMs: 200, maxMs: 30_000, resetAfterMs: 120_000 };
/** Reflectors' list/watch restarts (client-go: 800 ms to 30 s, reset after 2 minutes without failures). */
export const WATCH_BACKOFF: BackoffPolicy = { baseMs: 800, maxMs: 30_000, resetAfterMs: 120_000 };

/**
 * Delay before retry number `attempt` (1 for the first retry). `random` in [0, 1). Jitter keeps
 * the delay in [ceiling/2, ceiling). A server's Retry-After is a floor: we never come back sooner
 * than it asked. Always a delay a timer can hold.
 */
export function backoffDelay(attempt: number, policy: Pick<BackoffPolicy, 'baseMs' | 'maxMs'>, random: number, retryAfterSeconds?: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(60, Math.max(0, attempt - 1)));
  const jittered = Math.floor(ceiling / 2 + (random * ceiling) / 2);
  const floor = retryAfterSeconds !== undefined && Number.isFinite(retryAfterSeconds) ? retryAfterSeconds * 1000 : 0;
  return clampDelay(Math.max(jittered, floor));
}

/**
 * Consecutive-failure bookkeeping for one thing that retries. Pure: the caller passes the time.
 * Success does not reset it (a watch that connects and fails again at once is still failing); a
 * quiet period of `resetAfterMs` since the last failure does.
 */
export class Backoff {
  readonly #policy: BackoffPolicy;
  readonly #random: () => number;
  #attempts = 0;
  #lastFailureAt: number | undefined;

  constructor(policy: BackoffPolicy, random: () => number) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Failures counted in the current streak. */
  get attempts(): number {
    return this.#attempts;
  }

  /** Records a failure at `now`; returns how long to wait before the next attempt. */
  failure(now: number, retryAfterSeconds?: number): number {
    if (this.#lastFailureAt !== undefined && now - this.#lastFailureAt >= this.#policy.resetAfterMs) this.#attempts = 0;
    this.#attempts++;
    this.#lastFailureAt = now;
    return backoffDelay(this.#attempts, this.#policy, this.#random(), retryAfterSeconds);
  }

  /** Whether the streak is over at `now` (no failure for resetAfterMs). */
  stable(now: number): boolean {
    return this.#lastFailureAt === undefined || now - this.#lastFailureAt >= this.#policy.resetAfterMs;
  }
}
