// Fake time for the agent's tests and benchmarks: timers fire only when the test advances the clock.
import type { Clock, Timer } from '../../src/core/clock.ts';

interface Pending {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/**
 * Fake time for tests and benchmarks: timers fire only when the owner advances the clock. Between
 * timers `settle` runs, so promise chains and real I/O started by a timer can make progress before
 * the next one fires (time never jumps over work a callback started).
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: Pending[] = [];
  /** Timers fired so far: tests assert on counters, not on wall time. */
  fired = 0;

  constructor(startMs = 1_700_000_000_000) {
    this.#now = startMs;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    // No MAX_TIMER_MS cap here: fake time models the production clock, which re-arms long delays.
    const delay = Number.isFinite(ms) ? Math.max(0, Math.ceil(ms)) : ms > 0 ? Number.MAX_SAFE_INTEGER : 0;
    const t: Pending = { at: this.#now + delay, seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(t);
    return {
      cancel: () => {
        t.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal?.aborted === true) return resolve();
      const timer = this.setTimer(ms, () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = (): void => {
        timer.cancel();
        resolve();
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** When the next live timer is due; undefined when none is armed. */
  nextAt(): number | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let next: number | undefined;
    for (const t of this.#timers) if (next === undefined || t.at < next) next = t.at;
    return next;
  }

  /** Live timers armed now. */
  get pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in order, each at its own time,
   * and awaiting `settle` after each (default: a turn of the event loop).
   */
  async advance(ms: number, settle: () => Promise<void> = turn): Promise<void> {
    const end = this.#now + Math.max(0, ms);
    await settle();
    for (;;) {
      const due = this.#popDue(end);
      if (due === undefined) break;
      this.#now = Math.max(this.#now, due.at);
      this.fired++;
      due.fn();
      await settle();
    }
    this.#now = end;
  }

  #popDue(end: number): Pending | undefined {
    let best: Pending | undefined;
    for (const t of this.#timers) {
      if (t.cancelled || t.at > end) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    if (best !== undefined) this.#timers = this.#timers.filter((t) => t !== best);
    return best;
  }
}

/** One turn of the event loop: pending promise jobs and ready I/O callbacks run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
