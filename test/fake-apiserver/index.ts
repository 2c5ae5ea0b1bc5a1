// Public entry point: startFakeApiServer() wires store, API semantics, watches, TLS and the HTTP front, and
// exposes direct store access, fault controls and the request log for tests. See README.md.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { Api } from './api.ts';
import { kubeconfigYaml, makeKubeConfig } from './kubeconfig.ts';
import { loadClusterRoles } from './rbac.ts';
import { CALICO_GROUPS, groupResource, Registry, type CalicoGroup, type ResourceType } from './resources.ts';
import { HttpFront, type Identity, type RequestLogEntry } from './server.ts';
import { ApiError } from './status.ts';
import { Store, type KubeObject } from './store.ts';
import { tlsMaterial } from './tls.ts';
import { Watches } from './watch.ts';

export type { CalicoGroup, KubeObject, RequestLogEntry };
export { CALICO_GROUPS };
export { connectFakeApiServer, type FakeApiServerClient } from './admin-client.ts';

export interface FakeApiServerOptions {
  /** Calico API groups to serve (default ['projectcalico.org/v3']; [] serves none, like a cluster without Calico). */
  calicoGroups?: CalicoGroup[] | undefined;
  /** Bearer token of the (possibly RBAC-restricted) user the kubeconfig carries. Default: random. */
  token?: string | undefined;
  /** Token that is never RBAC-checked, for test setup; default random. Also accepted by /__fake/. */
  adminToken?: string | undefined;
  /** When set, requests authenticated with `token` are checked against these ClusterRole rules (403 otherwise). */
  rbac?: { clusterRole: object | string | Array<object | string>; user: string } | undefined;
  /** Watch events retained for resume (default 1000); older resourceVersions get 410 Expired. */
  watchHistory?: number | undefined;
  /** Listen port on 127.0.0.1 (default 0: any free port). */
  port?: number | undefined;
  /** Interval of BOOKMARK events for watches that allow them (default 1000 ms; the real server uses ~1 min). */
  bookmarkIntervalMs?: number | undefined;
  /** Delay before the garbage collector acts after an owner is deleted (default 0 ms, still asynchronous). */
  gcDelayMs?: number | undefined;
  /** Apply Calico's own validator rules (interfaceName, expectedIPs) on top of the CRD schema (default true). */
  calicoRules?: boolean | undefined;
  /** Namespaces that exist at start (default default, kube-system, kube-public, kube-node-lease). */
  namespaces?: string[] | undefined;
  /** Objects to seed before the server answers. */
  seed?: KubeObject[] | undefined;
  /** false: lists ignore `limit` and come whole, like a server or proxy that does not page (default true). */
  paging?: boolean | undefined;
}

export interface FakeStore {
  /** `groupResource` is "nodes", "hostendpoints.projectcalico.org", ... (a bare plural works when unambiguous). */
  get(groupResource: string, name: string, namespace?: string): KubeObject | undefined;
  list(groupResource: string, namespace?: string): KubeObject[];
  /** Creates or replaces (type from apiVersion/kind), bypassing HTTP, RBAC and validation; emits watch events. */
  put(obj: KubeObject): KubeObject;
  seed(...objs: KubeObject[]): KubeObject[];
  /** Deletes like an API delete (finalizers, garbage collection); false if absent. */
  delete(groupResource: string, name: string, namespace?: string, propagationPolicy?: 'Background' | 'Foreground' | 'Orphan'): boolean;
  readonly resourceVersion: string;
}

export interface FakeControls {
  /** Added before every API request (not /__fake/). */
  latencyMs: number;
  /** The next `n` API requests (optionally only one verb/resource) answer `code`; 429/503 carry Retry-After if given. */
  failNext(n: number, code: number, opts?: { retryAfterSeconds?: number; verb?: string; resource?: string }): void;
  /** 'refuse' (default): connection refused for `ms`; 'reset': connections dropped; '503': ServiceUnavailable. */
  outage(ms: number, mode?: 'refuse' | 'reset' | '503'): Promise<void>;
  /** Ends open watches: 'end' (clean EOF, default) or 'reset' (socket destroyed). Returns how many. */
  dropWatches(mode?: 'end' | 'reset'): number;
  /** true: open and new watches go silent (no events, no bookmarks); false: new watches work again. */
  hangWatches(on: boolean): void;
  /** The next `n` update/patch requests answer 409 Conflict. */
  conflictBurst(n: number): void;
  /** Drops watch history up to `rv` (default: now): resumes and continue tokens from before get 410. */
  compact(rv?: number): void;
  bookmarkIntervalMs: number;
  gcDelayMs: number;
  activeWatches(): number;
  /** Events (and bookmarks) written so far to the open watches; a hung watch's count stays put. */
  watchEventsSent(): number;
  /** Clears latency, queued failures and conflict bursts. */
  reset(): void;
}

export interface FakeApiServer {
  url: string;
  caPem: string;
  token: string;
  adminToken: string;
  /** A KubeConfig with CA data and `token` (or the admin token). */
  kubeConfig(opts?: { admin?: boolean }): KubeConfig;
  kubeconfigYaml(opts?: { admin?: boolean }): string;
  writeKubeconfig(path: string, opts?: { admin?: boolean }): Promise<void>;
  store: FakeStore;
  controls: FakeControls;
  /** Every request in arrival order (a watch is logged when it starts). */
  requestLog: RequestLogEntry[];
  clearRequestLog(): void;
  /** Requests matching all given fields, e.g. `requests({ verb: 'patch', resource: 'hostendpoints.projectcalico.org' })`. */
  requests(filter: Partial<RequestLogEntry>): RequestLogEntry[];
  close(): Promise<void>;
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease'];

export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const tls = await tlsMaterial();
  const registry = new Registry(opts.calicoGroups ?? ['projectcalico.org/v3']);
  const store = new Store(opts.watchHistory ?? 1000);
  const api = new Api(store, registry, { calicoRules: opts.calicoRules ?? true, gcDelayMs: opts.gcDelayMs ?? 0, paging: opts.paging ?? true });
  const watches = new Watches(store, { bookmarkIntervalMs: opts.bookmarkIntervalMs ?? 1000 });
  const token = opts.token ?? randomBytes(16).toString('hex');
  const adminToken = opts.adminToken ?? randomBytes(16).toString('hex');
  const tokens = new Map<string, Identity>([
    [adminToken, { user: 'fake-admin', admin: true }],
    [token, { user: opts.rbac?.user ?? 'fake-user', admin: !opts.rbac }],
  ]);
  const roles = opts.rbac ? loadClusterRoles(opts.rbac.clusterRole) : undefined;

  const typeOf = (gr: string): ResourceType => {
    const t =
      registry.byGroupResource(gr) ??
      (() => {
        const c = registry.types.filter((x) => x.resource === gr);
        if (c.length > 1) throw new Error(`"${gr}" is ambiguous: use one of ${c.map(groupResource).join(', ')}`);
        return c[0];
      })();
    if (!t) throw new Error(`unknown resource "${gr}" (served: ${registry.types.map(groupResource).join(', ')})`);
    return t;
  };
  const typeOfObj = (o: KubeObject): ResourceType => {
    const t = o.apiVersion && o.kind ? registry.byKind(o.apiVersion, o.kind) : undefined;
    if (!t || (t.group ? `${t.group}/${t.version}` : t.version) !== o.apiVersion) throw new Error(`not served: ${o.apiVersion}/${o.kind}`);
    return t;
  };

  const fakeStore: FakeStore = {
    get: (gr, name, ns) => {
      const t = typeOf(gr);
      const o = store.get(groupResource(t), name, ns);
      return o && api.withType(t, o);
    },
    list: (gr, ns) => {
      const t = typeOf(gr);
      return store.list(groupResource(t), ns).map((o) => api.withType(t, o));
    },
    put: (o) => api.put(typeOfObj(o), o),
    seed: (...objs) => objs.map((o) => api.put(typeOfObj(o), o)),
    delete: (gr, name, ns, policy) => api.removeDirect(typeOf(gr), name, ns, policy),
    get resourceVersion() {
      return String(store.resourceVersion);
    },
  };
  for (const ns of opts.namespaces ?? DEFAULT_NAMESPACES) fakeStore.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  for (const o of opts.seed ?? []) fakeStore.put(o);

  // `front` is created below; the controls close over it and run only after it exists.
  const controls: FakeControls = {
    get latencyMs() {
      return front.faults.latencyMs;
    },
    set latencyMs(v: number) {
      front.faults.latencyMs = v;
    },
    failNext: (n, code, o = {}) => front.faults.failNext(n, code, o.retryAfterSeconds, { verb: o.verb, resource: o.resource }),
    outage: (ms, mode) => front.startOutage(ms, mode),
    dropWatches: (mode) => watches.dropAll(mode),
    hangWatches: (on) => watches.hang(on),
    conflictBurst: (n) => front.faults.conflictBurst(n),
    compact: (rv) => store.compact(rv),
    get bookmarkIntervalMs() {
      return watches.opts.bookmarkIntervalMs;
    },
    set bookmarkIntervalMs(v: number) {
      watches.opts.bookmarkIntervalMs = v;
    },
    get gcDelayMs() {
      return api.gc.delayMs;
    },
    set gcDelayMs(v: number) {
      api.gc.delayMs = v;
    },
    activeWatches: () => watches.active.size,
    watchEventsSent: () => [...watches.active].reduce((n, w) => n + w.sent, 0),
    reset: () => {
      front.faults.reset();
      watches.hang(false);
    },
  };

  const front: HttpFront = new HttpFront({
    tls,
    store,
    registry,
    api,
    watches,
    tokens,
    roles,
    admin: (req, res, body, url) => Promise.resolve(adminHandler(req, res, body, url, { fakeStore, controls, front, store })),
  });
  await front.listen(opts.port ?? 0);
  const url = `https://127.0.0.1:${front.port}`;
  const kcParams = (admin?: boolean) => ({ url, caPem: tls.caPem, token: admin ? adminToken : token });

  return {
    url,
    caPem: tls.caPem,
    token,
    adminToken,
    kubeConfig: (o) => makeKubeConfig(kcParams(o?.admin)),
    kubeconfigYaml: (o) => kubeconfigYaml(kcParams(o?.admin)),
    writeKubeconfig: async (path, o) => {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, kubeconfigYaml(kcParams(o?.admin)), { mode: 0o600 });
    },
    store: fakeStore,
    controls,
    requestLog: front.log,
    clearRequestLog: () => {
      front.log.length = 0;
    },
    requests: (filter) => front.log.filter((e) => Object.entries(filter).every(([k, v]) => e[k as keyof RequestLogEntry] === v)),
    close: async () => {
      api.gc.stop();
      await front.close();
    },
  };
}

// ---- /__fake/ admin endpoint (same token; documented in README) -------------------------------------------------

interface AdminDeps {
  fakeStore: FakeStore;
  controls: FakeControls;
  front: HttpFront;
  store: Store;
}

function adminHandler(req: IncomingMessage, res: ServerResponse, body: Buffer, url: URL, d: AdminDeps): void {
  const send = (code: number, v: unknown) => {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(v));
  };
  const seg = url.pathname.split('/').filter(Boolean).slice(1).map(decodeURIComponent); // after "__fake"
  const json = () => (body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {});
  try {
    const m = req.method;
    if (seg[0] === 'log' && m === 'GET') {
      const since = Number(url.searchParams.get('since') ?? 0);
      return send(200, { total: d.front.log.length, entries: d.front.log.slice(since) });
    }
    if (seg[0] === 'log' && m === 'DELETE') {
      d.front.log.length = 0;
      return send(200, { ok: true });
    }
    if (seg[0] === 'state' && m === 'GET') {
      return send(200, {
        resourceVersion: d.fakeStore.resourceVersion,
        oldestResourceVersion: String(d.store.oldestResourceVersion),
        activeWatches: d.controls.activeWatches(),
        pending: d.front.faults.pending(),
        latencyMs: d.controls.latencyMs,
      });
    }
    if (seg[0] === 'controls' && m === 'POST') {
      const c = json();
      if (c.reset) d.controls.reset();
      if (typeof c.latencyMs === 'number') d.controls.latencyMs = c.latencyMs;
      if (typeof c.bookmarkIntervalMs === 'number') d.controls.bookmarkIntervalMs = c.bookmarkIntervalMs;
      if (typeof c.gcDelayMs === 'number') d.controls.gcDelayMs = c.gcDelayMs;
      const fn = c.failNext as { n: number; code: number; retryAfterSeconds?: number; verb?: string; resource?: string } | undefined;
      if (fn) d.controls.failNext(fn.n, fn.code, fn);
      if (typeof c.conflictBurst === 'number') d.controls.conflictBurst(c.conflictBurst);
      if (typeof c.hangWatches === 'boolean') d.controls.hangWatches(c.hangWatches);
      if (c.compact !== undefined && c.compact !== false) d.controls.compact(typeof c.compact === 'number' ? c.compact : undefined);
      let dropped = 0;
      if (c.dropWatches) dropped = d.controls.dropWatches(c.dropWatches === 'reset' ? 'reset' : 'end');
      const out = c.outage as { ms: number; mode?: 'refuse' | 'reset' | '503' } | undefined;
      send(200, { ok: true, dropped });
      // An outage cuts this very connection, so it starts after the answer is flushed.
      if (out)
        res.on('finish', () => {
          setImmediate(() => {
            void d.controls.outage(out.ms, out.mode);
          });
        });
      return;
    }
    if (seg[0] === 'objects') {
      if (m === 'POST') {
        const b = json() as { items?: KubeObject[] } & KubeObject;
        const objs = Array.isArray(b.items) ? b.items : [b];
        return send(200, { items: d.fakeStore.seed(...objs) });
      }
      if (m === 'GET' && seg[1] && seg[2]) {
        const o = d.fakeStore.get(seg[1], seg[2], url.searchParams.get('namespace') ?? undefined);
        return o ? send(200, o) : send(404, { error: 'not found' });
      }
      if (m === 'GET' && seg[1]) return send(200, { items: d.fakeStore.list(seg[1], url.searchParams.get('namespace') ?? undefined) });
      if (m === 'DELETE' && seg[1] && seg[2]) {
        const policy = (url.searchParams.get('propagationPolicy') ?? undefined) as 'Background' | 'Foreground' | 'Orphan' | undefined;
        return send(200, { deleted: d.fakeStore.delete(seg[1], seg[2], url.searchParams.get('namespace') ?? undefined, policy) });
      }
    }
    send(404, { error: `no admin route ${m} ${url.pathname}` });
  } catch (e) {
    send(e instanceof ApiError ? e.code : 400, { error: (e as Error).message });
  }
}
