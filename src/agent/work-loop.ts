// The work loop: controller-runtime's queue for one key (this node). It owns all scheduling: inputs
// only call add(); the loop runs `reconcile` after the debounce, never twice at once, and schedules the
// next run from what reconcile returns (`requeueAfter`) or, after an error, from a rate limiter with
// jittered exponential backoff that resets only after a stable period and honours Retry-After.
//
// A change may jump a pending backoff once per streak of failures, and only when it comes from the cluster (a
// watch event or relist proves the API answers again): a change made during an outage then reaches
// the API as soon as it is back, while kernel noise cannot turn a backoff into a retry loop.
import { API_BACKOFF, Backoff, type BackoffPolicy } from '../core/backoff.ts';
import { clampDelay, type Clock, type Timer } from '../core/clock.ts';

export interface ReconcileResult {
  /** Run again after this many ms even without a change (grace expiry, periodic rescan). */
  readonly requeueAfter?: number | undefined;
}

/** Throw (or reject with) this to ask for a retry no sooner than the server said. */
export class RetryableError extends Error {
  readonly retryAfterSeconds: number | undefined;
  /** An RBAC refusal, named in /readyz and metrics. */
  readonly forbidden: boolean;
  constructor(message: string, opts: { retryAfterSeconds?: number | undefined; forbidden?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.retryAfterSeconds = opts.retryAfterSeconds;
    this.forbidden = opts.forbidden ?? false;
  }
}

export type ChangeSource = 'cluster' | 'kernel' | 'start';

export interface RunReport {
  readonly result: 'success' | 'skipped' | 'error';
  readonly error?: unknown;
  /** The delay until the next run was scheduled for, if any. */
  readonly nextInMs: number | undefined;
  /** When the oldest change this run handled was first seen (for convergence latency). */
  readonly changedSince: number | undefined;
}

export interface WorkLoopOptions {
  readonly clock: Clock;
  readonly random: () => number;
  readonly debounceMs: number;
  /** `skipped` when inputs are not ready yet (their arrival adds work again). */
  readonly reconcile: (signal: AbortSignal) => Promise<ReconcileResult | 'skipped'>;
  readonly onRun?: ((report: RunReport) => void) | undefined;
  readonly backoff?: BackoffPolicy | undefined;
}

export class WorkLoop {
  readonly #o: WorkLoopOptions;
  readonly #backoff: Backoff;
  #timer: Timer | undefined;
  #timerAt: number | undefined;
  #dirtySince: number | undefined;
  #running: Promise<void> | undefined;
  #abort = new AbortController();
  #stopped = false;
  /** A backoff timer is armed (after an error), and whether a cluster change may still jump it. */
  #inBackoff = false;
  /** Re-armed by a successful run: one jump per streak of failures. */
  #jumpAllowed = true;
  #changedDuringRun = false;
  /** Counters for status, tests and benchmarks. */
  readonly stats = { runs: 0, errors: 0, skipped: 0, jumps: 0, adds: 0 };

  constructor(options: WorkLoopOptions) {
    this.#o = options;
    this.#backoff = new Backoff(options.backoff ?? API_BACKOFF, options.random);
  }

  /** Something may have changed. */
  add(source: ChangeSource): void {
    if (this.#stopped) return;
    this.stats.adds++;
    const now = this.#o.clock.now();
    this.#dirtySince ??= now;
    if (this.#running !== undefined) {
      this.#changedDuringRun = true; // the run's end schedules the next one
      return;
    }
    const at = now + this.#o.debounceMs;
    if (this.#timerAt !== undefined && this.#timerAt <= at) return;
    if (this.#inBackoff) {
      if (source !== 'cluster' || !this.#jumpAllowed) return;
      this.#jumpAllowed = false;
      this.stats.jumps++;
    }
    this.#arm(this.#o.debounceMs);
  }

  /** Cancels the schedule, aborts a run in progress (its remaining writes are skipped) and waits for it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#abort.abort();
    await this.#running;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** A run is in progress. */
  get busy(): boolean {
    return this.#running !== undefined;
  }

  #arm(delayMs: number): void {
    this.#timer?.cancel();
    const delay = clampDelay(delayMs);
    this.#timerAt = this.#o.clock.now() + delay;
    this.#timer = this.#o.clock.setTimer(delay, () => {
      this.#timer = undefined;
      this.#timerAt = undefined;
      this.#running = this.#run().finally(() => {
        this.#running = undefined;
      });
    });
  }

  async #run(): Promise<void> {
    if (this.#stopped) return;
    const { clock } = this.#o;
    const changedSince = this.#dirtySince;
    this.#dirtySince = undefined;
    this.#inBackoff = false;
    this.#changedDuringRun = false;
    this.stats.runs++;
    let report: RunReport;
    try {
      const result = await this.#o.reconcile(this.#abort.signal);
      if (result === 'skipped') {
        this.stats.skipped++;
        // Keep the change time: the run that does the work measures convergence from it.
        if (changedSince !== undefined) this.#dirtySince = Math.min(this.#dirtySince ?? Infinity, changedSince);
        report = { result: 'skipped', nextInMs: this.#scheduleAfterRun(undefined), changedSince };
      } else {
        this.#jumpAllowed = true;
        report = { result: 'success', nextInMs: this.#scheduleAfterRun(result.requeueAfter), changedSince };
      }
    } catch (error) {
      this.stats.errors++;
      // The changes this run did not apply are still pending, with their original time.
      this.#dirtySince = Math.min(this.#dirtySince ?? Infinity, changedSince ?? clock.now());
      const retryAfter = error instanceof RetryableError ? error.retryAfterSeconds : undefined;
      const delay = this.#backoff.failure(clock.now(), retryAfter);
      if (!this.#stopped) {
        this.#inBackoff = true;
        this.#arm(delay);
      }
      report = { result: 'error', error, nextInMs: delay, changedSince };
    }
    this.#o.onRun?.(report);
  }

  /** After a run that did not fail: changes that arrived meanwhile first, else the requested requeue. */
  #scheduleAfterRun(requeueAfter: number | undefined): number | undefined {
    if (this.#stopped) return undefined;
    if (this.#changedDuringRun) {
      const delay = Math.min(this.#o.debounceMs, requeueAfter ?? Infinity);
      this.#arm(delay);
      return delay;
    }
    if (requeueAfter === undefined) return undefined;
    this.#arm(requeueAfter);
    return clampDelay(requeueAfter);
  }
}
