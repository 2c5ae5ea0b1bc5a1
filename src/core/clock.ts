// Time, injected: tests and benchmarks control it; nothing reads Date.now() or arms a timer behind
// their back. Every delay passes through clampDelay(), the one place intervals are bounded.

/** Node's timers hold at most 2^31-1 ms; a longer delay fires after 1 ms (and a 30-day interval spins). */
export const MAX_TIMER_MS = 2_147_483_647;

/** A delay as a timer can hold it: NaN and negatives become 0, fractions are rounded up, nothing above MAX_TIMER_MS. */
export function clampDelay(ms: number): number {
  if (!Number.isFinite(ms)) return ms === Number.POSITIVE_INFINITY ? MAX_TIMER_MS : 0;
  return Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(ms)));
}

export interface Timer {
  /** Idempotent; a fired timer ignores it. */
  cancel(): void;
}

export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms`, or early (without error) when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Runs `fn` once after `ms`. Delays beyond MAX_TIMER_MS are honoured (re-armed), never shortened.
   * A production timer never keeps the process alive on its own.
   */
  setTimer(ms: number, fn: () => void): Timer;
}
