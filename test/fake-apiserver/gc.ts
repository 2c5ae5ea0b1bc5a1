// The garbage collector's observable behaviour: after an owner is deleted (background propagation) its dependents
// are deleted shortly afterwards, matched by ownerReference uid; a dependent whose owners are all absent (e.g. an
// ownerReference carrying a stale uid) is deleted too; Orphan strips the references instead.
import type { Registry } from './resources.ts';
import type { KubeObject, Store } from './store.ts';

export interface GcHooks {
  /** deletes through the normal path (finalizers, watch events, further GC) */
  deleteObject(gr: string, obj: KubeObject): void;
  /** rewrites an object through the normal path */
  updateObject(gr: string, obj: KubeObject): void;
}

export class GarbageCollector {
  delayMs: number;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly store: Store;
  private readonly registry: Registry;
  private readonly hooks: GcHooks;
  constructor(store: Store, registry: Registry, hooks: GcHooks, delayMs: number) {
    this.store = store;
    this.registry = registry;
    this.hooks = hooks;
    this.delayMs = delayMs;
  }

  private later(fn: () => void): void {
    // Asynchronous like the real controller: the owner's DELETE returns before dependents go.
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, this.delayMs);
    this.timers.add(t);
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  dependentsOf(uid: string): Array<[string, KubeObject]> {
    return [...this.store.all()].filter(([, o]) => (o.metadata.ownerReferences ?? []).some((r) => r.uid === uid));
  }

  /** Is the owner named by this reference present with the same uid? Unknown kinds count as present (the real GC cannot resolve them and leaves the dependent alone). */
  private ownerPresent(dep: KubeObject, ref: { apiVersion: string; kind: string; name: string; uid: string }): boolean {
    const t = this.registry.byKind(ref.apiVersion, ref.kind);
    if (!t) return true;
    const gr = t.group ? `${t.resource}.${t.group}` : t.resource;
    const owner = this.store.get(gr, ref.name, t.namespaced ? dep.metadata.namespace : undefined);
    return !!owner && owner.metadata.uid === ref.uid;
  }

  /** After a write: a dependent whose owners are all gone is garbage. */
  checkDangling(gr: string, obj: KubeObject): void {
    if (!obj.metadata.ownerReferences?.length) return;
    this.later(() => {
      const cur = this.store.get(gr, obj.metadata.name!, obj.metadata.namespace);
      if (!cur || cur.metadata.uid !== obj.metadata.uid) return;
      const refs = cur.metadata.ownerReferences ?? [];
      if (refs.length && refs.every((r) => !this.ownerPresent(cur, r))) this.hooks.deleteObject(gr, cur);
    });
  }

  /** After an owner is gone (background) or while it waits (foreground): delete or orphan its dependents. */
  ownerDeleted(owner: KubeObject, policy: 'Background' | 'Foreground' | 'Orphan', done?: () => void): void {
    const uid = owner.metadata.uid!;
    if (policy === 'Orphan') {
      for (const [gr, d] of this.dependentsOf(uid)) {
        d.metadata.ownerReferences = d.metadata.ownerReferences!.filter((r) => r.uid !== uid);
        if (d.metadata.ownerReferences.length === 0) delete d.metadata.ownerReferences;
        this.hooks.updateObject(gr, d);
      }
      done?.();
      return;
    }
    this.later(() => {
      for (const [gr, d] of this.dependentsOf(uid)) {
        const others = (d.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
        if (others.some((r) => this.ownerPresent(d, r))) {
          // Still owned by someone else: the real GC only removes the dangling reference.
          d.metadata.ownerReferences = others;
          this.hooks.updateObject(gr, d);
        } else {
          this.hooks.deleteObject(gr, d);
        }
      }
      done?.();
    });
  }
}
