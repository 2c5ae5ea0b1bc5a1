// In-memory object storage with one global, etcd-like resourceVersion, a bounded event history for watch
// resume and consistent snapshots, and compaction. No semantics beyond that (see api.ts for the verbs).
import { errors } from './status.ts';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean | undefined;
  blockOwnerDeletion?: boolean | undefined;
}
export interface ManagedFieldsEntry {
  manager?: string | undefined;
  operation?: 'Apply' | 'Update' | undefined;
  apiVersion?: string | undefined;
  time?: string | undefined;
  fieldsType?: string | undefined;
  fieldsV1?: Record<string, unknown> | undefined;
  subresource?: string | undefined;
}
export interface ObjectMeta {
  name?: string | undefined;
  generateName?: string | undefined;
  namespace?: string | undefined;
  uid?: string | undefined;
  resourceVersion?: string | undefined;
  generation?: number | undefined;
  creationTimestamp?: string | undefined;
  deletionTimestamp?: string | undefined;
  deletionGracePeriodSeconds?: number | undefined;
  labels?: Record<string, string> | undefined;
  annotations?: Record<string, string> | undefined;
  ownerReferences?: OwnerReference[] | undefined;
  finalizers?: string[] | undefined;
  managedFields?: ManagedFieldsEntry[] | undefined;
  [k: string]: unknown;
}
export interface KubeObject {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  metadata: ObjectMeta;
  [k: string]: unknown;
}

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoreEvent {
  rv: number;
  type: EventType;
  gr: string;
  object: KubeObject;
  prev?: KubeObject | undefined;
}

export const clone = <T>(v: T): T => structuredClone(v);
const key = (ns: string | undefined, name: string) => `${ns ?? ''}/${name}`;

export class Store {
  private rvCounter: number;
  private readonly objects = new Map<string, Map<string, KubeObject>>();
  private history: StoreEvent[] = [];
  /** every event with rv > oldestRv is still in history; watches/snapshots from before it get 410 */
  private oldestRv: number;
  private readonly listeners = new Set<(e: StoreEvent) => void>();
  historyLimit: number;

  constructor(historyLimit = 1000, startRv = 1000) {
    // Start well above 0 so nobody confuses a real RV with the "0" (any version) sentinel.
    this.rvCounter = startRv;
    this.oldestRv = startRv;
    this.historyLimit = historyLimit;
  }

  get resourceVersion(): number {
    return this.rvCounter;
  }
  get oldestResourceVersion(): number {
    return this.oldestRv;
  }

  private bucket(gr: string): Map<string, KubeObject> {
    let b = this.objects.get(gr);
    if (!b) {
      b = new Map();
      this.objects.set(gr, b);
    }
    return b;
  }

  get(gr: string, name: string, ns?: string): KubeObject | undefined {
    const o = this.objects.get(gr)?.get(key(ns, name));
    return o && clone(o);
  }

  /** Copies of the objects of `gr` (in `ns`, if given) that `match` accepts, in key order. */
  list(gr: string, ns?: string, match?: (o: KubeObject) => boolean): KubeObject[] {
    return this.select(gr, undefined, (o) => (ns === undefined || (o.metadata.namespace ?? '') === ns) && (match === undefined || match(o))).map(clone);
  }

  /**
   * The STORED objects of `gr` that `match` accepts, at `rv` (default: now), in key order — not
   * copies: the caller must not mutate them and must clone what it hands out. Like kube-apiserver's
   * watch cache, a selective read is a scan that copies, sorts and serialises only what matches.
   */
  select(gr: string, rv: number | undefined, match: (o: KubeObject) => boolean): KubeObject[] {
    let entries: Iterable<[string, KubeObject]>;
    if (rv === undefined || rv >= this.rvCounter) entries = this.objects.get(gr)?.entries() ?? [];
    else {
      const later = this.eventsSince(rv, gr);
      const state = new Map<string, KubeObject>(this.objects.get(gr)?.entries() ?? []);
      for (const e of later.reverse()) {
        const k = key(e.object.metadata.namespace, e.object.metadata.name!);
        if (e.prev) state.set(k, e.prev);
        else state.delete(k);
      }
      entries = state.entries();
    }
    const hits: [string, KubeObject][] = [];
    for (const [k, o] of entries) if (match(o)) hits.push([k, o]);
    return hits.sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0)).map(([, o]) => o);
  }

  /** All (gr, object) pairs; used by the garbage collector to find dependents. */
  *all(): Generator<[string, KubeObject]> {
    for (const [gr, b] of this.objects) for (const o of b.values()) yield [gr, o];
  }

  /** Writes one change at a fresh resourceVersion, records it, and notifies watchers. Returns the stored copy. */
  commit(type: EventType, gr: string, obj: KubeObject): KubeObject {
    const b = this.bucket(gr);
    const k = key(obj.metadata.namespace, obj.metadata.name!);
    const prev = b.get(k);
    const rv = ++this.rvCounter;
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(rv);
    if (type === 'DELETED') b.delete(k);
    else b.set(k, stored);
    const ev: StoreEvent = { rv, type, gr, object: stored, prev };
    this.history.push(ev);
    while (this.history.length > this.historyLimit) this.oldestRv = this.history.shift()!.rv;
    for (const l of this.listeners) l(ev);
    return clone(stored);
  }

  subscribe(fn: (e: StoreEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Events after `rv`, or 410 Expired when history no longer reaches back that far (as after etcd compaction). */
  eventsSince(rv: number, gr?: string): StoreEvent[] {
    if (rv < this.oldestRv) throw errors.gone(`too old resource version: ${rv} (${this.oldestRv + 1})`);
    return this.history.filter((e) => e.rv > rv && (gr === undefined || e.gr === gr));
  }

  /** Copies of the objects of `gr` as they were at `rv` (that `match` accepts), rebuilt by undoing later events; 410 if compacted away. */
  snapshot(gr: string, rv: number, match: (o: KubeObject) => boolean = () => true): KubeObject[] {
    return this.select(gr, rv, match).map(clone);
  }

  /** Drops history up to `rv` (default: everything), like etcd compaction: older watches/lists get 410. */
  compact(rv = this.rvCounter): void {
    this.history = this.history.filter((e) => e.rv > rv);
    this.oldestRv = Math.max(this.oldestRv, Math.min(rv, this.rvCounter));
  }
}
