// List-then-watch with a local cache, supervised: client-go's Reflector in miniature. client-node's
// informer stops for good after an error; this loop never does until stop(). A watch that ends
// normally resumes from the last resourceVersion; 410 Expired relists; errors back off with jitter.
import type { ApiClient } from './api-client.ts';
import { apiFailure } from './errors.ts';
import { API_BACKOFF, backoffDelay } from '../../core/backoff.ts';
import type { Clock } from '../../core/clock.ts';
import type { Logger } from '../../logger.ts';
import type { ApiObserver } from './observer.ts';

interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string } | undefined;
}

export interface ListResult<T> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export interface ReflectorOptions<T> {
  /** Resource name for logs and metrics (`nodes`, `hostendpoints`). */
  readonly resource: string;
  readonly client: ApiClient;
  /** Collection path for the watch, e.g. `/api/v1/nodes`. */
  readonly path: string;
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly list: () => Promise<ListResult<T>>;
  /** Raw watch object to the cached shape (e.g. the Calico v3 view). */
  readonly fromWatch: (raw: unknown) => T;
  /** Called after the cache changed (a relist or an event). */
  readonly onChange: (reason: string) => void;
  readonly observer: ApiObserver;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random?: () => number;
  /** Server-side watch timeout; randomised per watch like client-go so reconnects spread out. */
  readonly watchTimeoutSeconds?: number;
}

class WatchExpired extends Error {}

export class Reflector<T extends KubeObject> {
  readonly cache = new Map<string, T>();
  #synced = false;
  #resourceVersion = '';
  #stopped = false;
  #needList = true;
  #loop: Promise<void> | undefined;
  #watchAbort: AbortController | undefined;
  #sleepAbort = new AbortController();
  /** When the loop last made progress (list, event, bookmark, clean reconnect): for liveness. */
  #lastProgressAt = 0;
  restarts = 0;
  readonly #o: ReflectorOptions<T>;

  constructor(options: ReflectorOptions<T>) {
    this.#o = options;
  }

  get synced(): boolean {
    return this.#synced;
  }

  get lastProgressAt(): number {
    return this.#lastProgressAt;
  }

  start(): void {
    this.#lastProgressAt = this.#o.clock.now();
    this.#loop ??= this.#run();
  }

  /** Relist now (the periodic full resync, or after a 409 told us the cache is behind). */
  resync(): void {
    this.#needList = true;
    this.#watchAbort?.abort();
    this.#sleepAbort.abort();
    this.#sleepAbort = new AbortController();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#watchAbort?.abort();
    this.#sleepAbort.abort();
    await this.#loop;
  }

  /** Consecutive failures; reset once a list succeeds or a watch connects, so one blip after a long outage retries fast. */
  #failures = 0;

  async #run(): Promise<void> {
    while (!this.#stopped) {
      try {
        if (this.#needList) await this.#relist();
        await this.#watchOnce();
        // A watch the server closed cleanly is progress too (a quiet resource sends no events).
        this.#lastProgressAt = this.#o.clock.now();
      } catch (err) {
        if (this.#stopped) break;
        if (err instanceof WatchExpired) {
          this.#o.logger.info({ resource: this.#o.resource }, 'watch expired (410): relisting');
          this.#needList = true;
          continue;
        }
        this.#failures++;
        this.restarts++;
        this.#o.observer.watchRestart(this.#o.resource);
        const delay = backoffDelay(this.#failures, API_BACKOFF, (this.#o.random ?? Math.random)());
        this.#o.logger.warn({ resource: this.#o.resource, err: String(err), retryInMs: delay }, 'list/watch failed');
        await this.#o.clock.sleep(delay, this.#sleepAbort.signal);
      }
    }
  }

  async #relist(): Promise<void> {
    const { items, resourceVersion } = await this.#o.list();
    this.cache.clear();
    for (const item of items) {
      const name = item.metadata?.name;
      if (name !== undefined) this.cache.set(name, item);
    }
    this.#resourceVersion = resourceVersion;
    this.#needList = false;
    this.#synced = true;
    this.#failures = 0;
    this.#lastProgressAt = this.#o.clock.now();
    this.#o.onChange(`${this.#o.resource} listed`);
  }

  async #watchOnce(): Promise<void> {
    const timeout = this.#o.watchTimeoutSeconds ?? 300 + Math.floor((this.#o.random ?? Math.random)() * 300);
    const abort = new AbortController();
    this.#watchAbort = abort;
    if (this.#stopped || this.#needList) abort.abort();
    let expired = false;
    let errorEvent: unknown;
    try {
      await this.#o.client.watch(
        this.#o.path,
        {
          allowWatchBookmarks: true,
          resourceVersion: this.#resourceVersion,
          timeoutSeconds: timeout,
          labelSelector: this.#o.labelSelector,
          fieldSelector: this.#o.fieldSelector,
        },
        ({ type, object }) => {
          this.#lastProgressAt = this.#o.clock.now();
          if (type === 'ERROR') {
            const status = object as { code?: number; reason?: string; message?: string };
            if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') expired = true;
            else errorEvent = status;
            abort.abort();
            return;
          }
          const rv = (object as KubeObject).metadata?.resourceVersion;
          if (rv !== undefined && rv !== '') this.#resourceVersion = rv;
          if (type === 'BOOKMARK') return;
          const item = this.#o.fromWatch(object);
          const name = item.metadata?.name;
          if (name === undefined) return;
          if (type === 'DELETED') this.cache.delete(name);
          else this.cache.set(name, item);
          this.#o.onChange(`${this.#o.resource} ${type.toLowerCase()}: ${name}`);
        },
        {
          signal: abort.signal,
          onConnected: () => {
            this.#failures = 0; // connected: the server answers again
          },
        },
      );
    } catch (err) {
      if (apiFailure(err).code === 410) throw new WatchExpired();
      if (this.#stopped || this.#needList) return;
      throw err;
    } finally {
      this.#watchAbort = undefined;
    }
    if (expired) throw new WatchExpired();
    if (errorEvent !== undefined) throw new Error(`watch error event: ${JSON.stringify(errorEvent)}`);
  }
}
