import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../core/clock.ts';

export const systemClock: Clock = {
  now: () => Date.now(),
  async sleep(ms, signal) {
    try {
      await delay(ms, undefined, signal !== undefined ? { signal } : {});
    } catch {
      // Aborted: the caller checks its own state.
    }
  },
};
