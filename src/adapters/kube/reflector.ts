// List-then-watch with a local cache, supervised: client-go's Reflector in miniature, written against
// the ApiClient contract. Every reflector of the agent is built by one ReflectorFactory, so each gets
// the same guards:
// - a failed list or watch backs off with jitter; the failure count resets only after a stable period
//   (WATCH_BACKOFF.resetAfterMs without failures), never merely because a connection was accepted;
// - a watch the server closes without delivering a single event (not even a bookmark) counts as a
//   failure: a server or proxy that accepts and drops watches must not make us reconnect in a loop;
// - a watch that ends normally resumes from the last resourceVersion; a relist happens only after a
//   watch failure that loses the position (410 Expired, an ERROR event, an unreadable stream), and it
//   too waits its jittered backoff, so a persistent 410 cannot relist in a loop;
// - there is no periodic relist: a resync replays the local cache (the caller re-reads `cache`);
// - the watch's inactivity timeout is the contract's `timeoutSeconds`, randomised per watch.
import { WATCH_BACKOFF, Backoff, type BackoffPolicy } from '../../core/backoff.ts';
import type { Clock } from '../../core/clock.ts';
import { errorMessage } from '../../core/error-message.ts';
import type { Logger } from '../../logger.ts';
import type { ApiClient, ApiFailure, WatchEvent } from './api-client.ts';
import type { ApiObserver } from './observer.ts';

export interface Named {
  readonly metadata: { readonly name?: string | undefined; readonly resourceVersion?: string | undefined };
}

export interface ReflectorSpec<T extends Named> {
  /** Resource name for logs and metrics (`nodes`, `hostendpoints`). */
  readonly resource: string;
  /** Collection path, e.g. `/api/v1/nodes`. */
  readonly path: string;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  /** Checks and converts one object from the API, once; undefined drops it (logged). */
  readonly parse: (raw: unknown) => T | undefined;
  /** A 404 on the list means "not served here" (an optional CRD): an empty, synced cache, re-probed rarely. */
  readonly optional?: boolean | undefined;
}

export interface ReflectorDeps {
  readonly api: ApiClient;
  readonly observer: ApiObserver;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random: () => number;
  /** Called after the cache changed (a list, an event); `resource` is the spec's. */
  readonly onChange: (resource: string, reason: string) => void;
  readonly backoff?: BackoffPolicy | undefined;
  /** List page size (default 500): no response that grows with the cluster is held whole. */
  readonly pageSize?: number | undefined;
  /** Server-side watch timeout is this plus up to this again at random (default 300 s, like client-go). */
  readonly minWatchTimeoutSeconds?: number | undefined;
  /** How often an optional resource that was not served is looked for again (default 10 min, jittered). */
  readonly notServedRetryMs?: number | undefined;
}

/** Thrown inside the loop; carries the failure for status and decides whether the position is lost. */
class LoopFailure extends Error {
  readonly failure: ApiFailure;
  readonly relist: boolean;
  constructor(failure: ApiFailure, relist: boolean, options?: ErrorOptions) {
    super(failure.message, options);
    this.failure = failure;
    this.relist = relist;
  }
}

/** Normalises anything an ApiClient call rejects with (the contract says ApiFailure-shaped). */
/** The fields of a watch ERROR event's Status object that are present with the right type. */
function statusOf(obj: unknown): { code?: number; reason?: string; message?: string } {
  if (obj === null || typeof obj !== 'object') return {};
  const s = obj as { code?: unknown; reason?: unknown; message?: unknown };
  return {
    ...(typeof s.code === 'number' ? { code: s.code } : {}),
    ...(typeof s.reason === 'string' ? { reason: s.reason } : {}),
    ...(typeof s.message === 'string' ? { message: s.message } : {}),
  };
}

export function asFailure(err: unknown): ApiFailure {
  const e = err as Partial<ApiFailure> | null;
  if (e !== null && typeof e === 'object' && typeof e.code === 'number') {
    return {
      code: e.code,
      reason: typeof e.reason === 'string' ? e.reason : undefined,
      message: typeof e.message === 'string' ? e.message : `HTTP ${e.code}`,
      retryAfterSeconds: typeof e.retryAfterSeconds === 'number' ? e.retryAfterSeconds : undefined,
    };
  }
  return { code: 0, reason: undefined, message: errorMessage(err), retryAfterSeconds: undefined };
}

export class Reflector<T extends Named> {
  readonly #cache = new Map<string, T>();
  readonly #spec: ReflectorSpec<T>;
  readonly #d: ReflectorDeps;
  readonly #backoff: Backoff;
  #resourceVersion = '';
  #needList = true;
  #synced = false;
  #notServed = false;
  #stopped = false;
  #loop: Promise<void> | undefined;
  #abort = new AbortController();
  #lastProgressAt = 0;
  #lastError: ApiFailure | undefined;
  /** Counters, for status, tests and benchmarks. */
  readonly stats = { lists: 0, watches: 0, failures: 0, events: 0, dropped: 0 };

  constructor(spec: ReflectorSpec<T>, deps: ReflectorDeps) {
    this.#spec = spec;
    this.#d = deps;
    this.#backoff = new Backoff(deps.backoff ?? WATCH_BACKOFF, deps.random);
  }

  get resource(): string {
    return this.#spec.resource;
  }

  /** The objects by name, as of the last list and the events since. Read-only: writes go through the API. */
  get cache(): ReadonlyMap<string, T> {
    return this.#cache;
  }

  /** Listed at least once (or known not to be served). */
  get synced(): boolean {
    return this.#synced;
  }

  /** The optional resource is not served by this API server. */
  get notServed(): boolean {
    return this.#notServed;
  }

  /** The failure of the last attempt, until an attempt succeeds. */
  get lastError(): ApiFailure | undefined {
    return this.#lastError;
  }

  /** When the loop last made progress (list, event, bookmark, connect): for liveness. */
  get lastProgressAt(): number {
    return this.#lastProgressAt;
  }

  start(): void {
    this.#lastProgressAt = this.#d.clock.now();
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { clock, logger, observer } = this.#d;
    while (!this.#stopped) {
      let delay: number;
      try {
        if (this.#needList) {
          const served = await this.#list();
          if (!served) {
            const base = this.#d.notServedRetryMs ?? 600_000;
            await clock.sleep(base + Math.floor(this.#d.random() * base * 0.2), this.#abort.signal);
            continue;
          }
        }
        await this.#watch();
        continue;
      } catch (err) {
        if (this.#stopped) break;
        const lf = err instanceof LoopFailure ? err : new LoopFailure(asFailure(err), true, { cause: err });
        this.#lastError = lf.failure;
        if (lf.relist) this.#needList = true;
        this.stats.failures++;
        observer.watchRestart(this.#spec.resource);
        delay = this.#backoff.failure(clock.now(), lf.failure.retryAfterSeconds);
        const log = lf.failure.code === 403 ? logger.error.bind(logger) : logger.warn.bind(logger);
        log(
          {
            resource: this.#spec.resource,
            code: lf.failure.code,
            reason: lf.failure.reason,
            err: lf,
            relist: this.#needList,
            attempt: this.#backoff.attempts,
            retryInMs: delay,
          },
          lf.failure.code === 403 ? 'list/watch forbidden by RBAC' : 'list/watch failed',
        );
      }
      await clock.sleep(delay, this.#abort.signal);
    }
  }

  /** A paged list into a fresh cache. False when an optional resource is not served. */
  async #list(): Promise<boolean> {
    const { api } = this.#d;
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion: string;
    do {
      let page;
      try {
        page = await api.list(
          this.#spec.path,
          {
            labelSelector: this.#spec.labelSelector,
            fieldSelector: this.#spec.fieldSelector,
            limit: this.#d.pageSize ?? 500,
            continue: continueToken,
          },
          { signal: this.#abort.signal },
        );
      } catch (err) {
        const f = asFailure(err);
        if (f.code === 404 && this.#spec.optional === true && continueToken === undefined) {
          this.#notServed = true;
          this.#synced = true;
          this.#lastError = undefined;
          if (this.#cache.size > 0) {
            this.#cache.clear();
            this.#d.onChange(this.#spec.resource, `${this.#spec.resource} not served`);
          }
          this.#lastProgressAt = this.#d.clock.now();
          return false;
        }
        throw new LoopFailure(f, true);
      }
      for (const raw of page.items) this.#put(fresh, raw);
      resourceVersion = page.resourceVersion;
      continueToken = page.continue;
    } while (continueToken !== undefined && !this.#stopped);
    this.stats.lists++;
    this.#cache.clear();
    for (const [k, v] of fresh) this.#cache.set(k, v);
    this.#resourceVersion = resourceVersion;
    this.#needList = false;
    this.#synced = true;
    this.#notServed = false;
    this.#lastError = undefined;
    this.#lastProgressAt = this.#d.clock.now();
    this.#d.onChange(this.#spec.resource, `${this.#spec.resource} listed`);
    return true;
  }

  #put(into: Map<string, T>, raw: unknown): string | undefined {
    let item: T | undefined;
    let parseError: unknown;
    try {
      item = this.#spec.parse(raw);
    } catch (err) {
      item = undefined;
      parseError = err;
    }
    const name = item?.metadata.name;
    if (item === undefined || name === undefined || name === '') {
      this.stats.dropped++;
      this.#d.logger.warn(
        { resource: this.#spec.resource, name: (raw as Named | null)?.metadata?.name, ...(parseError !== undefined ? { err: parseError } : {}) },
        'dropped an object that does not parse',
      );
      return undefined;
    }
    into.set(name, item);
    return name;
  }

  /** One watch from the current resourceVersion; resolves when it ended cleanly with events. */
  async #watch(): Promise<void> {
    const { api, clock } = this.#d;
    const min = this.#d.minWatchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min * (1 + this.#d.random()));
    let events = 0;
    let failure: LoopFailure | undefined;
    const abort = new AbortController();
    const onStop = (): void => abort.abort();
    this.#abort.signal.addEventListener('abort', onStop, { once: true });
    const onEvent = (ev: WatchEvent): void => {
      if (failure !== undefined || this.#stopped) return;
      events++;
      this.stats.events++;
      this.#lastProgressAt = clock.now();
      if (ev.type === 'ERROR') {
        const s = statusOf(ev.object);
        const expired = s.code === 410 || s.reason === 'Expired' || s.reason === 'Gone';
        failure = new LoopFailure(
          { code: s.code ?? 500, reason: s.reason, message: `watch error event: ${s.message ?? s.reason ?? 'unknown'}`, retryAfterSeconds: undefined },
          true,
        );
        if (expired) this.#d.logger.info({ resource: this.#spec.resource }, 'watch expired (410): relisting after backoff');
        abort.abort();
        return;
      }
      const rv = (ev.object as Named | null)?.metadata?.resourceVersion;
      if (ev.type === 'BOOKMARK') {
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
        return;
      }
      const before = this.#cache.get((ev.object as Named | null)?.metadata?.name ?? '');
      if (ev.type === 'DELETED') {
        const name = (ev.object as Named | null)?.metadata?.name;
        if (name !== undefined) this.#cache.delete(name);
        if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
        if (name !== undefined && before !== undefined) this.#d.onChange(this.#spec.resource, `${this.#spec.resource} deleted: ${name}`);
        return;
      }
      const name = this.#put(this.#cache, ev.object);
      if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
      if (name !== undefined) this.#d.onChange(this.#spec.resource, `${this.#spec.resource} ${ev.type.toLowerCase()}: ${name}`);
    };
    this.stats.watches++;
    try {
      await api.watch(
        this.#spec.path,
        {
          resourceVersion: this.#resourceVersion,
          timeoutSeconds,
          allowWatchBookmarks: true,
          labelSelector: this.#spec.labelSelector,
          fieldSelector: this.#spec.fieldSelector,
        },
        onEvent,
        {
          signal: abort.signal,
          onConnected: () => {
            const e = this.#lastError;
            const recovered = e !== undefined && ((e.code === 0 && e.reason !== 'EmptyWatch') || e.code === 429 || e.code >= 500);
            this.#lastProgressAt = clock.now();
            this.#lastError = undefined;
            // The API answers again after an outage (no response, 429, 5xx): a change held back by the
            // work loop's backoff may go now (a cluster change jumps the backoff) instead of waiting
            // out a backoff grown during the outage.
            if (recovered) this.#d.onChange(this.#spec.resource, `${this.#spec.resource} reconnected`);
          },
        },
      );
    } catch (err) {
      const f = asFailure(err);
      if (this.#stopped) return;
      if (failure === undefined) {
        // No response, throttled or unavailable: the position is still good, resume after backoff.
        const resumable = f.code === 0 || f.code === 429 || f.code >= 500;
        throw new LoopFailure(f, !resumable);
      }
    } finally {
      this.#abort.signal.removeEventListener('abort', onStop);
    }
    if (this.#stopped) return;
    if (failure !== undefined) throw failure;
    if (events === 0) {
      throw new LoopFailure({ code: 0, reason: 'EmptyWatch', message: 'watch closed without any event', retryAfterSeconds: undefined }, false);
    }
  }
}

/** Builds every reflector of the agent with the same client, clock, backoff and observer. */
export class ReflectorFactory {
  readonly #deps: ReflectorDeps;
  readonly #all: Reflector<Named>[] = [];

  constructor(deps: ReflectorDeps) {
    this.#deps = deps;
  }

  create<T extends Named>(spec: ReflectorSpec<T>): Reflector<T> {
    const r = new Reflector<T>(spec, this.#deps);
    this.#all.push(r);
    return r;
  }

  /** Every reflector built so far. */
  get all(): readonly Reflector<Named>[] {
    return this.#all;
  }

  async stopAll(): Promise<void> {
    await Promise.allSettled(this.#all.map((r) => r.stop()));
  }
}
