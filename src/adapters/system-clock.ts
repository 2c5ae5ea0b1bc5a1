import { setTimeout as delay } from 'node:timers/promises';
import { MAX_TIMER_MS, clampDelay, type Clock, type Timer } from '../core/clock.ts';

/** The real clock. Timers are unref'd (the agent's lifetime is decided by signals, not by timers). */
export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms, signal) {
    if (ms > MAX_TIMER_MS) {
      // Re-arm in steps so a long delay is never cut to 1 ms by Node's timer limit.
      await new Promise<void>((resolve) => {
        const t = systemClock.setTimer(ms, resolve);
        signal?.addEventListener(
          'abort',
          () => {
            t.cancel();
            resolve();
          },
          { once: true },
        );
      });
      return;
    }
    try {
      await delay(clampDelay(ms), undefined, signal !== undefined ? { signal } : {});
    } catch {
      // Aborted: the caller checks its own state.
    }
  },
  setTimer(ms, fn): Timer {
    let handle: ReturnType<typeof setTimeout> | undefined;
    let cancelled = false;
    const arm = (remaining: number): void => {
      const step = clampDelay(remaining);
      handle = setTimeout(() => {
        if (cancelled) return;
        if (remaining > step) arm(remaining - step);
        else fn();
      }, step);
      handle.unref();
    };
    arm(Number.isFinite(ms) ? Math.max(0, ms) : ms > 0 ? Number.MAX_SAFE_INTEGER : 0);
    return {
      cancel() {
        cancelled = true;
        clearTimeout(handle);
      },
    };
  },
};
