// An in-memory ApiClient (the contract of src/adapters/kube/api-client.ts) for reflector and agent
// unit tests: collections by path, one global resourceVersion, watch history with compaction (410),
// label/field selectors, preconditions, and fault injection per verb. Deterministic and timer-free.
import type { ApiClient, DeletePreconditions, ListPage, ListQuery, RequestOptions, WatchEvent, WatchQuery } from '../../src/adapters/kube/api-client.ts';
import { matchesLabels, parseLabelSelector } from '../fake-apiserver/selectors.ts';

export interface Obj {
  metadata: { name: string; resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

interface Change {
  rv: number;
  path: string;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: Obj;
}

interface Watcher {
  path: string;
  query: WatchQuery;
  onEvent: (e: WatchEvent) => void;
  end: (err?: unknown) => void;
}

export type Verb = 'get' | 'list' | 'create' | 'replace' | 'patch' | 'delete' | 'watch';

/** What a failed call rejects with (ApiFailure-shaped). */
export function failure(
  code: number,
  reason?: string,
  retryAfterSeconds?: number,
): Error & { code: number; reason: string | undefined; retryAfterSeconds: number | undefined } {
  return Object.assign(new Error(`HTTP ${code}${reason ? ` ${reason}` : ''}`), { code, reason, retryAfterSeconds });
}

const clone = <T>(v: T): T => structuredClone(v);

export class MemoryApi implements ApiClient {
  #rv = 100;
  #oldest = 100;
  readonly #objects = new Map<string, Map<string, Obj>>();
  #history: Change[] = [];
  readonly #watchers = new Set<Watcher>();
  readonly #faults: { verb: Verb; path?: string | undefined; count: number; error: () => unknown }[] = [];
  /** Calls by verb and collection path: `list /apis/...`. */
  readonly calls = new Map<string, number>();
  /** How the next watches behave: `normal`, closed at once without events, or rejected with 410. */
  watchMode: 'normal' | 'closeEmpty' | 'expired' = 'normal';

  count(verb: Verb, path?: string): number {
    let n = 0;
    for (const [k, v] of this.calls) if (k.startsWith(`${verb} `) && (path === undefined || k === `${verb} ${path}`)) n += v;
    return n;
  }

  /** The next `count` calls of `verb` (optionally on one collection) reject with `error()`. */
  failNext(verb: Verb, count: number, error: () => unknown, path?: string): void {
    this.#faults.push({ verb, path, count, error });
  }

  get activeWatches(): number {
    return this.#watchers.size;
  }

  /** Ends every open watch cleanly (as a server-side timeout does). */
  closeWatches(): void {
    for (const w of [...this.#watchers]) w.end();
  }

  /** Drops history: watches from before now get 410. */
  compact(): void {
    this.#history = [];
    this.#oldest = this.#rv;
  }

  objects(path: string): Obj[] {
    return [...(this.#objects.get(path)?.values() ?? [])].map(clone);
  }

  object(path: string, name: string): Obj | undefined {
    const o = this.#objects.get(path)?.get(name);
    return o && clone(o);
  }

  /** Creates or replaces, bypassing faults and preconditions; emits watch events. */
  put(path: string, obj: Obj): Obj {
    const had = this.#objects.get(path)?.has(obj.metadata.name) === true;
    return this.#commit(path, had ? 'MODIFIED' : 'ADDED', obj);
  }

  remove(path: string, name: string): boolean {
    const cur = this.#objects.get(path)?.get(name);
    if (cur === undefined) return false;
    this.#commit(path, 'DELETED', cur);
    return true;
  }

  #commit(path: string, type: Change['type'], obj: Obj): Obj {
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.#rv);
    let bucket = this.#objects.get(path);
    if (bucket === undefined) this.#objects.set(path, (bucket = new Map<string, Obj>()));
    if (type === 'DELETED') bucket.delete(stored.metadata.name);
    else bucket.set(stored.metadata.name, stored);
    const change: Change = { rv: this.#rv, path, type, object: stored };
    this.#history.push(change);
    for (const w of this.#watchers) if (w.path === path && this.#matches(stored, w.query)) w.onEvent({ type, object: clone(stored) });
    return clone(stored);
  }

  #matches(o: Obj, q: { labelSelector?: string | undefined; fieldSelector?: string | undefined }): boolean {
    if (!matchesLabels(parseLabelSelector(q.labelSelector), o.metadata.labels)) return false;
    for (const part of (q.fieldSelector ?? '').split(',').filter((p) => p !== '')) {
      const [field, value] = part.split('=') as [string, string];
      if (field === 'metadata.name' && o.metadata.name !== value) return false;
    }
    return true;
  }

  async #enter(verb: Verb, path: string, options?: RequestOptions): Promise<void> {
    const key = `${verb} ${path}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
    await Promise.resolve();
    if (options?.signal?.aborted === true && verb !== 'watch') throw failure(0, 'Aborted');
    const f = this.#faults.find((x) => x.count > 0 && x.verb === verb && (x.path === undefined || x.path === path));
    if (f !== undefined) {
      f.count--;
      throw f.error();
    }
  }

  #split(objectPath: string): [string, string] {
    const i = objectPath.lastIndexOf('/');
    return [objectPath.slice(0, i), objectPath.slice(i + 1)];
  }

  async get(path: string, options?: RequestOptions): Promise<unknown> {
    await this.#enter('get', path, options);
    const [coll, name] = this.#split(path);
    const o = this.#objects.get(coll)?.get(name);
    if (o === undefined) throw failure(404, 'NotFound');
    return clone(o);
  }

  async list(path: string, query: ListQuery = {}, options?: RequestOptions): Promise<ListPage> {
    await this.#enter('list', path, options);
    const all = [...(this.#objects.get(path)?.values() ?? [])]
      .filter((o) => this.#matches(o, query))
      .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    const start = query.continue !== undefined ? Number(query.continue) : 0;
    const limit = query.limit ?? all.length;
    const items = all.slice(start, start + limit).map(clone);
    const next = start + limit < all.length ? String(start + limit) : undefined;
    return { items, resourceVersion: String(this.#rv), continue: next };
  }

  async create(path: string, body: object, options?: RequestOptions): Promise<unknown> {
    await this.#enter('create', path, options);
    const obj = clone(body) as Obj;
    if (this.#objects.get(path)?.has(obj.metadata.name) === true) throw failure(409, 'AlreadyExists');
    delete obj.metadata.resourceVersion;
    return this.#commit(path, 'ADDED', obj);
  }

  async replace(objectPath: string, body: object, options?: RequestOptions): Promise<unknown> {
    await this.#enter('replace', objectPath, options);
    const [coll, name] = this.#split(objectPath);
    const cur = this.#objects.get(coll)?.get(name);
    const obj = clone(body) as Obj;
    if (cur === undefined) throw failure(404, 'NotFound');
    if (obj.metadata.resourceVersion !== cur.metadata.resourceVersion) throw failure(409, 'Conflict');
    return this.#commit(coll, 'MODIFIED', obj);
  }

  async patch(objectPath: string, body: object, options?: RequestOptions): Promise<unknown> {
    await this.#enter('patch', objectPath, options);
    const [coll, name] = this.#split(objectPath);
    const cur = this.#objects.get(coll)?.get(name);
    if (cur === undefined) throw failure(404, 'NotFound');
    return this.#commit(coll, 'MODIFIED', { ...cur, ...body });
  }

  async delete(objectPath: string, preconditions?: DeletePreconditions, options?: RequestOptions): Promise<void> {
    await this.#enter('delete', objectPath, options);
    const [coll, name] = this.#split(objectPath);
    const cur = this.#objects.get(coll)?.get(name);
    if (cur === undefined) throw failure(404, 'NotFound');
    if (preconditions?.resourceVersion !== undefined && preconditions.resourceVersion !== cur.metadata.resourceVersion) throw failure(409, 'Conflict');
    this.#commit(coll, 'DELETED', cur);
  }

  async watch(
    path: string,
    query: WatchQuery,
    onEvent: (event: WatchEvent) => void,
    options?: RequestOptions & { readonly onConnected?: (() => void) | undefined },
  ): Promise<void> {
    await this.#enter('watch', path, options);
    if (this.watchMode === 'expired') throw failure(410, 'Expired');
    const from = Number(query.resourceVersion);
    if (query.resourceVersion !== '' && from < this.#oldest) throw failure(410, 'Expired');
    options?.onConnected?.();
    if (this.watchMode === 'closeEmpty') return;
    return new Promise<void>((resolve) => {
      const w: Watcher = {
        path,
        query,
        onEvent,
        end: () => {
          this.#watchers.delete(w);
          options?.signal?.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = (): void => w.end();
      if (options?.signal?.aborted === true) return resolve();
      options?.signal?.addEventListener('abort', onAbort, { once: true });
      for (const c of this.#history) if (c.rv > from && c.path === path && this.#matches(c.object, query)) onEvent({ type: c.type, object: clone(c.object) });
      this.#watchers.add(w);
    });
  }
}
