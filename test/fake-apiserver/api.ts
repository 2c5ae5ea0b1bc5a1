// The REST verbs with kube-apiserver's generic-registry semantics: preconditions and 409s, create-on-update
// and unconditional-update rules per type, no-op writes that keep the resourceVersion, generation, finalizers,
// dryRun, field validation (Strict/Warn/Ignore), managedFields, and hand-off to the garbage collector.
import { randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { canonical, managerFromUserAgent, recordUpdate, requireFieldManager, serverSideApply } from './apply.ts';
import { GarbageCollector } from './gc.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { groupResource, groupVersion, type Registry, type ResourceType } from './resources.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiError, errors, failure } from './status.ts';
import { clone, type KubeObject, type Store } from './store.ts';
import { admit } from './validation.ts';

export interface Ctx {
  user: string;
  userAgent?: string | undefined;
  query: URLSearchParams;
  warnings: string[];
}
export interface Result {
  code: number;
  body: unknown;
}

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

const GENERATE_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'; // the real name generator's alphabet (no vowels)
const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ApiOptions {
  /** false: ignore `limit` and answer every list whole, as a server without paging support (default true). */
  paging?: boolean | undefined;
  calicoRules: boolean;
  gcDelayMs: number;
}

export class Api {
  readonly store: Store;
  readonly registry: Registry;
  readonly gc: GarbageCollector;
  private readonly opts: ApiOptions;

  constructor(store: Store, registry: Registry, opts: ApiOptions) {
    this.store = store;
    this.registry = registry;
    this.opts = opts;
    this.gc = new GarbageCollector(
      store,
      registry,
      {
        deleteObject: (gr, o) => {
          const t = this.registry.byGroupResource(gr);
          if (t) this.tryInternal(() => this.remove(t, o, 'Background', false));
        },
        updateObject: (gr, o) => {
          const t = this.registry.byGroupResource(gr);
          const cur = t && this.store.get(gr, o.metadata.name!, o.metadata.namespace);
          if (t && cur) this.tryInternal(() => this.persist(t, cur, o, { manager: 'generic-garbage-collector', dryRun: false, skipAdmission: true }));
        },
      },
      opts.gcDelayMs,
    );
  }

  private tryInternal(fn: () => unknown): void {
    try {
      fn();
    } catch {
      /* the object changed under the GC; the real one retries, we drop it */
    }
  }

  // ---- reads ----

  get(t: ResourceType, ns: string | undefined, name: string): Result {
    const o = this.store.get(groupResource(t), name, ns);
    if (!o) throw errors.notFound(t.group, t.resource, name);
    return { code: 200, body: this.withType(t, o) };
  }

  list(t: ResourceType, ns: string | undefined, q: URLSearchParams): Result {
    const labels = parseLabelSelector(q.get('labelSelector'));
    const fields = parseFieldSelector(q.get('fieldSelector'), t.fieldLabels);
    const gr = groupResource(t);
    let rv = this.store.resourceVersion;
    let snapshotRv: number | undefined; // undefined: the current state
    let after = '';
    const cont = q.get('continue');
    if (cont) {
      let tok: { rv: number; start: string };
      try {
        tok = JSON.parse(Buffer.from(cont, 'base64url').toString()) as { rv: number; start: string };
      } catch {
        throw errors.badRequest('continue key is not valid: illegal base64 data');
      }
      if (tok.rv < this.store.oldestResourceVersion) {
        throw errors.gone(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      }
      rv = tok.rv;
      after = tok.start;
      snapshotRv = rv;
    } else {
      const want = q.get('resourceVersion');
      const match = q.get('resourceVersionMatch');
      if (match && !want) throw errors.unprocessable('resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided');
      if (want && want !== '0') {
        const n = Number(want);
        if (!Number.isInteger(n)) throw errors.badRequest(`invalid resource version: ${want}`);
        if (n > this.store.resourceVersion) throw errors.tooLargeRV(want);
        if (match === 'Exact') {
          if (n < this.store.oldestResourceVersion) throw errors.gone(`The resourceVersion for the provided list is too old.`);
          rv = n;
          snapshotRv = n;
        }
      }
    }
    const key = (o: KubeObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    // Filter first, on the stored objects, as kube-apiserver's watch cache does: objects that do not
    // match are neither copied nor serialised; only the page handed out is copied.
    let items = this.store.select(
      gr,
      snapshotRv,
      (o) =>
        (ns === undefined || o.metadata.namespace === ns) &&
        matchesLabels(labels, o.metadata.labels) &&
        matchesFields(fields, o) &&
        (after === '' || key(o) > after),
    );
    const limit = this.opts.paging === false ? 0 : Number(q.get('limit') ?? 0);
    const metadata: Record<string, unknown> = { resourceVersion: String(rv) };
    if (limit > 0 && items.length > limit) {
      metadata.continue = Buffer.from(JSON.stringify({ rv, start: key(items[limit - 1]!) })).toString('base64url');
      metadata.remainingItemCount = items.length - limit;
      items = items.slice(0, limit);
    }
    items = items.map(clone);
    // Built-in lists omit each item's apiVersion/kind on the wire; custom resource lists carry them.
    const out = items.map((o) => (t.custom ? this.withType(t, o) : stripType(o)));
    return { code: 200, body: { apiVersion: groupVersion(t), kind: `${t.kind}List`, metadata, items: out } };
  }

  // ---- writes ----

  create(t: ResourceType, ns: string | undefined, body: unknown, ctx: Ctx): Result {
    const obj = this.decode(t, body, ns);
    if (obj.metadata.resourceVersion) throw errors.internal('resourceVersion should not be set on objects to be created');
    if (!obj.metadata.name && obj.metadata.generateName) {
      // 5 random characters, as the real generator; on a clash the real server answers AlreadyExists too.
      let suffix = '';
      for (let i = 0; i < 5; i++) suffix += GENERATE_ALPHABET[Math.floor(Math.random() * GENERATE_ALPHABET.length)];
      obj.metadata.name = obj.metadata.generateName + suffix;
    }
    return this.createObject(t, obj, ctx, this.manager(ctx));
  }

  private createObject(t: ResourceType, obj: KubeObject, ctx: Ctx, manager: string, applied = false): Result {
    const gr = groupResource(t);
    this.checkNamespace(t, obj.metadata.namespace);
    const dryRun = isDryRun(ctx.query);
    const m = obj.metadata;
    m.uid = randomUUID();
    m.creationTimestamp = now();
    delete m.deletionTimestamp;
    delete m.deletionGracePeriodSeconds;
    delete m.resourceVersion;
    if (t.generation) m.generation = 1;
    else delete m.generation;
    this.admitOrThrow(t, obj, ctx, { create: true });
    if (m.name && this.store.get(gr, m.name, m.namespace)) throw errors.alreadyExists(t.group, t.resource, m.name);
    if (!applied) {
      delete m.managedFields;
      recordUpdate(undefined, obj, manager, groupVersion(t));
    }
    if (dryRun) return { code: 201, body: this.withType(t, obj) };
    const stored = this.store.commit('ADDED', gr, obj);
    this.gc.checkDangling(gr, stored);
    return { code: 201, body: this.withType(t, stored) };
  }

  update(t: ResourceType, ns: string | undefined, name: string, body: unknown, ctx: Ctx): Result {
    const obj = this.decode(t, body, ns);
    if (obj.metadata.name && obj.metadata.name !== name) {
      throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
    }
    obj.metadata.name = name;
    const gr = groupResource(t);
    const cur = this.store.get(gr, name, ns);
    if (!cur) {
      if (!t.allowCreateOnUpdate) throw errors.notFound(t.group, t.resource, name);
      delete obj.metadata.resourceVersion;
      return this.createObject(t, obj, ctx, this.manager(ctx));
    }
    if (!obj.metadata.resourceVersion && !t.allowUnconditionalUpdate) {
      throw errors.invalid(t.group, t.kind, name, [
        { reason: 'FieldValueInvalid', field: 'metadata.resourceVersion', message: 'Invalid value: 0x0: must be specified for an update' },
      ]);
    }
    return this.updateExisting(t, cur, obj, ctx, this.manager(ctx));
  }

  private updateExisting(t: ResourceType, cur: KubeObject, next: KubeObject, ctx: Ctx, manager: string, applied = false): Result {
    const rv = next.metadata.resourceVersion;
    if (rv && rv !== cur.metadata.resourceVersion) throw errors.conflict(t.group, t.resource, cur.metadata.name!);
    const out = this.persist(t, cur, next, { manager, dryRun: isDryRun(ctx.query), ctx, applied });
    return { code: 200, body: this.withType(t, out) };
  }

  /** The common tail of every update: admission, server-owned fields, generation, managedFields, no-op detection, finalizers. */
  private persist(
    t: ResourceType,
    cur: KubeObject,
    next: KubeObject,
    o: { manager: string; dryRun: boolean; ctx?: Ctx; applied?: boolean; skipAdmission?: boolean },
  ): KubeObject {
    const gr = groupResource(t);
    const m = next.metadata;
    m.name = cur.metadata.name;
    m.namespace = cur.metadata.namespace;
    m.uid = cur.metadata.uid;
    m.creationTimestamp = cur.metadata.creationTimestamp;
    if (cur.metadata.deletionTimestamp) {
      m.deletionTimestamp = cur.metadata.deletionTimestamp;
      m.deletionGracePeriodSeconds = cur.metadata.deletionGracePeriodSeconds;
    } else {
      delete m.deletionTimestamp;
      delete m.deletionGracePeriodSeconds;
    }
    m.resourceVersion = cur.metadata.resourceVersion;
    if (!o.skipAdmission) this.admitOrThrow(t, next, o.ctx ?? { user: '', query: new URLSearchParams(), warnings: [] }, { create: false, old: cur });
    if (cur.metadata.deletionTimestamp) {
      // While terminating, only removing finalizers is allowed (the real server forbids adding new ones).
      const added = (m.finalizers ?? []).filter((f) => !(cur.metadata.finalizers ?? []).includes(f));
      if (added.length)
        throw errors.invalid(t.group, t.kind, m.name!, [
          {
            reason: 'FieldValueForbidden',
            field: 'metadata.finalizers',
            message: `Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{${added.map((f) => JSON.stringify(f)).join(', ')}}`,
          },
        ]);
    }
    if (t.generation) {
      const body = (x: KubeObject) => canonical({ ...x, metadata: undefined, status: undefined });
      m.generation = (cur.metadata.generation ?? 1) + (body(cur) !== body(next) ? 1 : 0);
    }
    if (!o.applied) {
      m.managedFields = cur.metadata.managedFields;
      recordUpdate(cur, next, o.manager, groupVersion(t));
    }
    // A write that changes nothing is not a write: same resourceVersion, no watch event (etcd GuaranteedUpdate).
    const strip = (x: KubeObject) => canonical({ ...x, metadata: { ...x.metadata, managedFields: undefined } });
    if (strip(cur) === strip(next)) return cur;
    if (o.dryRun) return next;
    if (m.deletionTimestamp && (m.finalizers ?? []).length === 0) {
      return this.store.commit('DELETED', gr, next);
    }
    const stored = this.store.commit('MODIFIED', gr, next);
    if (canonical(cur.metadata.ownerReferences) !== canonical(stored.metadata.ownerReferences)) this.gc.checkDangling(gr, stored);
    return stored;
  }

  patch(t: ResourceType, ns: string | undefined, name: string, raw: Buffer, contentType: string, ctx: Ctx): Result {
    const gr = groupResource(t);
    const ct = contentType.split(';')[0]!.trim().toLowerCase();
    const accepted = t.custom
      ? [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.apply]
      : [PATCH_TYPES.json, PATCH_TYPES.merge, PATCH_TYPES.strategic, PATCH_TYPES.apply];
    if (!(accepted as string[]).includes(ct)) throw errors.unsupportedMediaType(accepted);
    const cur = this.store.get(gr, name, ns);
    if (ct === PATCH_TYPES.apply) {
      const manager = requireFieldManager(ctx.query.get('fieldManager'));
      let applied: KubeObject;
      try {
        applied = parseYaml(raw.toString('utf8')) as KubeObject;
      } catch (e) {
        throw errors.badRequest(`error decoding YAML: ${(e as Error).message}`);
      }
      if (!isObj(applied)) throw errors.badRequest('error decoding patch: expected an object');
      if (!applied.apiVersion || !applied.kind) throw errors.badRequest(`Object 'Kind' is missing in '${raw.toString('utf8').slice(0, 200)}'`);
      const obj = this.decode(t, applied, ns);
      if (obj.metadata.name && obj.metadata.name !== name)
        throw errors.badRequest(`the name of the object (${obj.metadata.name}) does not match the name on the URL (${name})`);
      obj.metadata.name = name;
      const force = ctx.query.get('force') === 'true';
      if (!cur) {
        const created = serverSideApply(undefined, obj, manager, force, groupVersion(t));
        return this.createObject(t, created, ctx, manager, true);
      }
      const merged = serverSideApply(cur, obj, manager, force, groupVersion(t));
      if (!obj.metadata.resourceVersion) merged.metadata.resourceVersion = cur.metadata.resourceVersion;
      return this.updateExisting(t, cur, merged, ctx, manager, true);
    }
    if (!cur) throw errors.notFound(t.group, t.resource, name);
    let patchBody: unknown;
    try {
      patchBody = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw errors.badRequest(`error decoding patch: ${(e as Error).message}`);
    }
    const base = this.withType(t, cur);
    let next: unknown;
    if (ct === PATCH_TYPES.json) next = jsonPatch(base, patchBody);
    else if (ct === PATCH_TYPES.merge) {
      if (!isObj(patchBody)) throw errors.badRequest('error decoding patch: expected an object');
      next = mergePatch(base, patchBody);
    } else next = strategicMergePatch(base, patchBody);
    if (!isObj(next) || !isObj(next.metadata)) throw errors.badRequest('patched object is not a valid object');
    const obj = next as KubeObject;
    if (obj.metadata.name !== name)
      throw errors.badRequest(`the name of the object (${String(obj.metadata.name)}) does not match the name on the URL (${name})`);
    return this.updateExisting(t, cur, obj, ctx, this.manager(ctx));
  }

  delete(t: ResourceType, ns: string | undefined, name: string, body: unknown, ctx: Ctx): Result {
    const gr = groupResource(t);
    const cur = this.store.get(gr, name, ns);
    if (!cur) throw errors.notFound(t.group, t.resource, name);
    // DeleteOptions as read here (client input: declared, not checked).
    const opts = (isObj(body) ? body : {}) as { preconditions?: { uid?: string; resourceVersion?: string }; propagationPolicy?: string; dryRun?: unknown };
    const pre = isObj(opts.preconditions) ? opts.preconditions : {};
    if (pre.uid && pre.uid !== cur.metadata.uid) {
      throw errors.conflict(t.group, t.resource, name, `Precondition failed: UID in precondition: ${String(pre.uid)}, UID in object meta: ${cur.metadata.uid}`);
    }
    if (pre.resourceVersion && pre.resourceVersion !== cur.metadata.resourceVersion) {
      throw errors.conflict(
        t.group,
        t.resource,
        name,
        `Precondition failed: ResourceVersion in precondition: ${String(pre.resourceVersion)}, ResourceVersion in object meta: ${cur.metadata.resourceVersion}`,
      );
    }
    const policy = String(opts.propagationPolicy ?? ctx.query.get('propagationPolicy') ?? 'Background');
    if (!['Background', 'Foreground', 'Orphan'].includes(policy)) {
      throw errors.unprocessable(
        `DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: "${policy}": supported values: "Foreground", "Background", "Orphan", "nil"`,
      );
    }
    const dryRun = isDryRun(ctx.query) || (Array.isArray(opts.dryRun) && opts.dryRun.includes('All'));
    const out = this.remove(t, cur, policy as 'Background' | 'Foreground' | 'Orphan', dryRun);
    // Like handlers/delete.go: 202 Accepted while finalizers keep the object around, 200 once it is gone.
    const pending = !!out.metadata.deletionTimestamp && !dryRun && !!this.store.get(gr, name, ns);
    if (t.returnDeletedObject || pending) return { code: pending ? 202 : 200, body: this.withType(t, out) };
    return {
      code: 200,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, group: t.group || undefined, kind: t.resource, uid: cur.metadata.uid },
      },
    };
  }

  deleteCollection(t: ResourceType, ns: string | undefined, body: unknown, ctx: Ctx): Result {
    const listed = this.list(t, ns, ctx.query).body as { items: KubeObject[] };
    for (const o of listed.items) this.delete(t, o.metadata.namespace, o.metadata.name!, body, ctx);
    return { code: 200, body: { ...(listed as object), items: listed.items.map((o) => this.withType(t, o)) } };
  }

  /** Deletes now, or marks for deletion when finalizers (or foreground GC) must run first. */
  private remove(t: ResourceType, cur: KubeObject, policy: 'Background' | 'Foreground' | 'Orphan', dryRun: boolean): KubeObject {
    const gr = groupResource(t);
    const finalizers = [...(cur.metadata.finalizers ?? [])];
    if (policy === 'Foreground' && this.gc.dependentsOf(cur.metadata.uid!).length > 0 && !finalizers.includes('foregroundDeletion'))
      finalizers.push('foregroundDeletion');
    if (finalizers.length > 0) {
      if (cur.metadata.deletionTimestamp) return cur;
      const next = clone(cur);
      next.metadata.deletionTimestamp = now();
      next.metadata.deletionGracePeriodSeconds = 0;
      next.metadata.finalizers = finalizers;
      if (t.generation) next.metadata.generation = (cur.metadata.generation ?? 1) + 1;
      if (dryRun) return next;
      const stored = this.store.commit('MODIFIED', gr, next);
      if (finalizers.includes('foregroundDeletion')) {
        this.gc.ownerDeleted(stored, 'Foreground', () => {
          const now2 = this.store.get(gr, cur.metadata.name!, cur.metadata.namespace);
          if (!now2 || now2.metadata.uid !== cur.metadata.uid) return;
          now2.metadata.finalizers = (now2.metadata.finalizers ?? []).filter((f) => f !== 'foregroundDeletion');
          this.tryInternal(() =>
            this.persist(t, this.store.get(gr, cur.metadata.name!, cur.metadata.namespace)!, now2, {
              manager: 'generic-garbage-collector',
              dryRun: false,
              skipAdmission: true,
            }),
          );
        });
      }
      return stored;
    }
    if (dryRun) return cur;
    if (policy === 'Orphan') this.gc.ownerDeleted(cur, 'Orphan');
    const deleted = this.store.commit('DELETED', gr, cur);
    if (policy !== 'Orphan') this.gc.ownerDeleted(deleted, 'Background');
    return deleted;
  }

  // ---- helpers ----

  /** Direct store write used by tests (`store.put`): fills server-owned metadata and emits a watch event, no admission. */
  put(t: ResourceType, obj: KubeObject): KubeObject {
    const gr = groupResource(t);
    const o = this.decode(t, clone(obj), obj.metadata.namespace);
    const cur = this.store.get(gr, o.metadata.name!, o.metadata.namespace);
    if (!cur) {
      o.metadata.uid ??= randomUUID();
      o.metadata.creationTimestamp ??= now();
      if (t.generation) o.metadata.generation ??= 1;
      delete o.metadata.resourceVersion;
      const stored = this.store.commit('ADDED', gr, o);
      this.gc.checkDangling(gr, stored);
      return this.withType(t, stored);
    }
    return this.withType(t, this.persist(t, cur, o, { manager: 'fake-apiserver-seed', dryRun: false, skipAdmission: true }));
  }

  /** Direct delete used by tests: runs finalizer and GC semantics like an API delete. */
  removeDirect(t: ResourceType, name: string, ns?: string, policy: 'Background' | 'Foreground' | 'Orphan' = 'Background'): boolean {
    const cur = this.store.get(groupResource(t), name, ns);
    if (!cur) return false;
    this.remove(t, cur, policy, false);
    return true;
  }

  withType(t: ResourceType, o: KubeObject): KubeObject {
    return { apiVersion: groupVersion(t), kind: t.kind, ...o };
  }

  private manager(ctx: Ctx): string {
    const fm = ctx.query.get('fieldManager');
    if (fm && fm.length > 128) throw errors.unprocessable('fieldManager: Too long: may not be more than 128 bytes');
    return fm || managerFromUserAgent(ctx.userAgent);
  }

  private decode(t: ResourceType, body: unknown, ns: string | undefined): KubeObject {
    if (!isObj(body)) throw errors.badRequest('the body of the request was not a JSON object');
    const obj = clone(body) as KubeObject;
    const gv = groupVersion(t);
    if (obj.apiVersion !== undefined && obj.apiVersion !== gv) {
      throw errors.badRequest(`the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${gv})`);
    }
    if (obj.kind !== undefined && obj.kind !== t.kind) {
      throw errors.badRequest(
        `${String(obj.kind)} in version "${t.version}" cannot be handled as a ${t.kind}: no kind "${String(obj.kind)}" is registered for version "${gv}" in scheme`,
      );
    }
    obj.apiVersion = gv;
    obj.kind = t.kind;
    if (!isObj(obj.metadata)) obj.metadata = {};
    if (t.namespaced) {
      if (obj.metadata.namespace && ns && obj.metadata.namespace !== ns) {
        throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
      }
      obj.metadata.namespace = obj.metadata.namespace || ns;
    } else if (obj.metadata.namespace === '') delete obj.metadata.namespace;
    return obj;
  }

  private checkNamespace(t: ResourceType, ns: string | undefined): void {
    if (t.namespaced && ns && !this.store.get('namespaces', ns)) throw errors.notFound('', 'namespaces', ns);
  }

  private admitOrThrow(t: ResourceType, obj: KubeObject, ctx: Ctx, o: { create: boolean; old?: KubeObject }): void {
    const { causes, unknownFields } = admit(obj, t, { ...o, calicoRules: this.opts.calicoRules });
    if (unknownFields.length) {
      const mode = ctx.query.get('fieldValidation') ?? 'Warn';
      if (mode === 'Strict') {
        const msgs = unknownFields.map((f) => `unknown field "${f}"`);
        throw new ApiError(
          failure(400, 'BadRequest', `${t.kind} in version "${t.version}" cannot be handled as a ${t.kind}: strict decoding error: ${msgs.join(', ')}`),
        );
      }
      if (mode === 'Warn') for (const f of unknownFields) ctx.warnings.push(`unknown field "${f}"`);
    }
    if (causes.length) throw errors.invalid(t.group, t.kind, obj.metadata.name ?? obj.metadata.generateName ?? '', causes);
  }
}

export function isDryRun(q: URLSearchParams): boolean {
  const d = q.getAll('dryRun');
  if (d.length === 0) return false;
  if (d.some((x) => x !== 'All')) throw errors.badRequest(`dryRun: Unsupported value: "${d.find((x) => x !== 'All')}": supported values: "All"`);
  return true;
}

function stripType(o: KubeObject): KubeObject {
  const { apiVersion: _a, kind: _k, ...rest } = o;
  return rest;
}
