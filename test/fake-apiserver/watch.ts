// Watch streams as the watch cache serves them: newline-delimited JSON events over a chunked 200 response;
// resume after `resourceVersion`; synthetic ADDED for "" / "0"; selector transitions become ADDED/DELETED;
// BOOKMARKs when asked; `sendInitialEvents`; and "410 Expired" delivered as an ERROR event, then close.
import type { ServerResponse } from 'node:http';
import { groupResource, groupVersion, type ResourceType } from './resources.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiError } from './status.ts';
import type { KubeObject, Store, StoreEvent } from './store.ts';
import { toTable } from './table.ts';

export interface WatchOptions {
  bookmarkIntervalMs: number;
}

export class ActiveWatch {
  readonly res: ServerResponse;
  readonly type: ResourceType;
  hung = false;
  sent = 0;
  private readonly cleanups: Array<() => void> = [];
  constructor(res: ServerResponse, type: ResourceType) {
    this.res = res;
    this.type = type;
  }
  onClose(fn: () => void): void {
    this.cleanups.push(fn);
  }
  write(ev: Record<string, unknown>): void {
    if (this.hung || this.res.writableEnded || this.res.destroyed) return;
    this.sent++;
    this.res.write(JSON.stringify(ev) + '\n');
  }
  /** Ends the stream cleanly (the client sees EOF), or resets the connection. */
  close(mode: 'end' | 'reset' = 'end'): void {
    for (const c of this.cleanups.splice(0)) c();
    if (mode === 'reset') this.res.socket?.destroy();
    else if (!this.res.writableEnded) this.res.end();
  }
}

export class Watches {
  readonly active = new Set<ActiveWatch>();
  /** new watches start hung while set (see controls.hangWatches) */
  hangNew = false;
  private readonly store: Store;
  opts: WatchOptions;
  constructor(store: Store, opts: WatchOptions) {
    this.store = store;
    this.opts = opts;
  }

  /**
   * Starts a watch on `res`. Throws (before any header is written) for bad selectors; a too-old
   * resourceVersion instead yields 200 + ERROR event, as the real server does.
   */
  start(res: ServerResponse, t: ResourceType, ns: string | undefined, q: URLSearchParams, table: { as: boolean; includeObject: string | null }): ActiveWatch {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'), t.fieldLabels);
    const rvParam = q.get('resourceVersion') ?? '';
    const bookmarks = q.get('allowWatchBookmarks') === 'true';
    const initial = q.get('sendInitialEvents') === 'true';
    const gr = groupResource(t);
    const w = new ActiveWatch(res, t);
    w.hung = this.hangNew;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();

    const match = (o: KubeObject | undefined) =>
      !!o && (ns === undefined || o.metadata.namespace === ns) && matchesLabels(labels, o.metadata.labels) && matchesFields(fields, o);
    let first = true;
    const encode = (o: KubeObject): Record<string, unknown> => {
      const full = { apiVersion: groupVersion(t), kind: t.kind, ...o };
      if (!table.as) return full;
      const tbl = toTable(t, [full], { resourceVersion: o.metadata.resourceVersion }, table.includeObject, first);
      first = false;
      return tbl;
    };
    const send = (type: string, o: KubeObject) => w.write({ type, object: encode(o) });
    const deliver = (e: StoreEvent) => {
      if (e.gr !== gr) return;
      const now = match(e.object);
      const before = e.type === 'MODIFIED' && match(e.prev);
      if (e.type === 'ADDED') {
        if (now) send('ADDED', e.object);
      } else if (e.type === 'DELETED') {
        if (now) send('DELETED', e.object);
      } else if (now && before) send('MODIFIED', e.object);
      else if (now) send('ADDED', e.object);
      else if (before) send('DELETED', e.object); // left the selector: watchers see it disappear
    };

    let backlog: StoreEvent[] = [];
    let synthetic: KubeObject[] = [];
    if (rvParam === '' || rvParam === '0' || initial) {
      synthetic = this.store.list(gr, undefined, match); // filtered before copying
    } else {
      const n = Number(rvParam);
      try {
        if (!Number.isInteger(n))
          throw new ApiError({
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `invalid resource version: ${rvParam}`,
            reason: 'BadRequest',
            code: 400,
          });
        backlog = this.store.eventsSince(n, gr);
      } catch (e) {
        if (!(e instanceof ApiError)) throw e;
        w.write({ type: 'ERROR', object: e.status });
        w.close();
        return w;
      }
    }
    const unsubscribe = this.store.subscribe(deliver);
    w.onClose(unsubscribe);
    this.active.add(w);
    w.onClose(() => this.active.delete(w));
    for (const o of synthetic) send('ADDED', o);
    for (const e of backlog) deliver(e);
    const bookmark = (annotations?: Record<string, string>) =>
      w.write({
        type: 'BOOKMARK',
        object: {
          kind: t.kind,
          apiVersion: groupVersion(t),
          metadata: { resourceVersion: String(this.store.resourceVersion), ...(annotations ? { annotations } : {}) },
        },
      });
    if (initial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' });
    if (bookmarks && this.opts.bookmarkIntervalMs > 0) {
      const iv = setInterval(() => bookmark(), this.opts.bookmarkIntervalMs);
      w.onClose(() => clearInterval(iv));
    }
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    if (timeout > 0) {
      const tm = setTimeout(() => w.close(), timeout * 1000);
      w.onClose(() => clearTimeout(tm));
    }
    res.on('close', () => w.close());
    return w;
  }

  dropAll(mode: 'end' | 'reset' = 'end'): number {
    const all = [...this.active];
    for (const w of all) w.close(mode);
    return all.length;
  }

  /** on: current and new watches go silent (a black-holed connection); off: only new watches work again. */
  hang(on: boolean): void {
    this.hangNew = on;
    if (on) for (const w of this.active) w.hung = true;
  }
}
