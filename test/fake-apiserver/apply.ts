// Server-side apply and managedFields bookkeeping, simplified: field ownership is tracked per leaf path, lists are
// atomic (the real server merges `listType: set/map` lists per element). Enough for ownership, conflicts
// (409 with FieldManagerConflict causes), `force`, and removal of fields a manager stops applying.
import { errors, ApiError, failure } from './status.ts';
import type { KubeObject, ManagedFieldsEntry } from './store.ts';

type Path = string[];
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
/** Server-owned or identity fields that never appear in managedFields. */
const IGNORED_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'managedFields',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generateName',
  'selfLink',
]);

const enc = (p: Path) => JSON.stringify(p);
const dec = (s: string) => JSON.parse(s) as Path;

/** Canonical JSON (sorted keys) so equality does not depend on key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObj(v))
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/** Leaf paths of an object: maps recurse, lists and scalars (and empty maps) are leaves. */
export function leafPaths(obj: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, p: Path) => {
    if (isObj(v) && Object.keys(v).length > 0) {
      for (const [k, c] of Object.entries(v)) {
        if (p.length === 0 && (k === 'apiVersion' || k === 'kind')) continue;
        if (p.length === 1 && p[0] === 'metadata' && IGNORED_META.has(k)) continue;
        walk(c, [...p, k]);
      }
    } else if (p.length > 0) out.add(enc(p));
  };
  walk(obj, []);
  return out;
}

export function valueAt(obj: unknown, p: Path): unknown {
  let cur = obj;
  for (const k of p) {
    if (!isObj(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}
function deleteAt(obj: Record<string, unknown>, p: Path): void {
  let cur: unknown = obj;
  for (const k of p.slice(0, -1)) {
    if (!isObj(cur)) return;
    cur = cur[k];
  }
  if (isObj(cur)) delete cur[p.at(-1)!];
}

export function toFieldsV1(paths: Iterable<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const s of paths) {
    let cur = root;
    for (const k of dec(s)) cur = (cur[`f:${k}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}
export function fromFieldsV1(f: Record<string, unknown> | undefined): Set<string> {
  const out = new Set<string>();
  const walk = (node: Record<string, unknown>, p: Path) => {
    const kids = Object.keys(node).filter((k) => k.startsWith('f:'));
    if (kids.length === 0 && p.length > 0) out.add(enc(p));
    for (const k of kids) walk(node[k] as Record<string, unknown>, [...p, k.slice(2)]);
  };
  if (f) walk(f, []);
  return out;
}

function deepMerge(base: unknown, over: unknown): unknown {
  if (!isObj(over) || !isObj(base)) return structuredClone(over);
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = deepMerge(out[k], v);
  return out;
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

interface Owned {
  entry: ManagedFieldsEntry;
  paths: Set<string>;
}
function ownership(obj: KubeObject | undefined): Owned[] {
  return (obj?.metadata.managedFields ?? []).map((entry) => ({ entry, paths: fromFieldsV1(entry.fieldsV1) }));
}
function writeOwnership(obj: KubeObject, owned: Owned[]): void {
  const entries = owned.filter((o) => o.paths.size > 0).map((o) => ({ ...o.entry, fieldsType: 'FieldsV1', fieldsV1: toFieldsV1([...o.paths].sort()) }));
  if (entries.length) obj.metadata.managedFields = entries;
  else delete obj.metadata.managedFields;
}

/** The manager name the real server derives when a request names none: the User-Agent up to its first "/". */
export function managerFromUserAgent(ua: string | undefined): string {
  return (ua ?? '').split('/')[0]!.slice(0, 128) || 'unknown';
}

/** Records an Update-operation write by `manager`: it takes over every leaf it changed; removed leaves lose owners. */
export function recordUpdate(oldObj: KubeObject | undefined, newObj: KubeObject, manager: string, apiVersion: string): void {
  const owned = ownership(oldObj);
  const newLeaves = leafPaths(newObj);
  const changed = [...newLeaves].filter((p) => canonical(valueAt(oldObj, dec(p))) !== canonical(valueAt(newObj, dec(p))));
  for (const o of owned) {
    for (const p of [...o.paths]) if (!newLeaves.has(p) || changed.includes(p)) o.paths.delete(p);
  }
  if (changed.length) {
    let mine = owned.find((o) => o.entry.manager === manager && o.entry.operation === 'Update' && !o.entry.subresource);
    if (!mine) {
      mine = { entry: { manager, operation: 'Update', apiVersion }, paths: new Set() };
      owned.push(mine);
    }
    for (const p of changed) mine.paths.add(p);
    mine.entry.time = now();
  }
  writeOwnership(newObj, owned);
}

/**
 * Applies `applied` (the request body) for `manager` on top of `current` (undefined: create).
 * Throws 409 with FieldManagerConflict causes when another manager owns a field with a different value and !force.
 */
export function serverSideApply(current: KubeObject | undefined, applied: KubeObject, manager: string, force: boolean, apiVersion: string): KubeObject {
  const owned = ownership(current);
  const appliedPaths = leafPaths(applied);
  const conflicts: Array<{ manager: string; apiVersion: string; path: string }> = [];
  for (const o of owned) {
    if (o.entry.manager === manager && o.entry.operation === 'Apply') continue;
    for (const p of appliedPaths) {
      if (o.paths.has(p) && canonical(valueAt(current, dec(p))) !== canonical(valueAt(applied, dec(p)))) {
        conflicts.push({ manager: o.entry.manager ?? '', apiVersion: o.entry.apiVersion ?? '', path: p });
      }
    }
  }
  if (conflicts.length && !force) {
    const causes = conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}" using ${c.apiVersion}`,
      field: '.' + dec(c.path).join('.'),
    }));
    const head = conflicts.length === 1 ? 'Apply failed with 1 conflict' : `Apply failed with ${conflicts.length} conflicts`;
    throw new ApiError(failure(409, 'Conflict', `${head}: ${causes.map((c) => `${c.message}: ${c.field}`).join('\n')}`, { causes }));
  }
  // Forced: the other managers lose the contested fields.
  for (const c of conflicts) owned.find((o) => o.entry.manager === c.manager)?.paths.delete(c.path);

  let mine = owned.find((o) => o.entry.manager === manager && o.entry.operation === 'Apply');
  const before = mine ? new Set(mine.paths) : new Set<string>();
  const result = deepMerge(current ?? {}, applied) as KubeObject;
  // Fields this manager applied before, no longer applies, and nobody else owns are removed (SSA's core promise).
  for (const p of before) {
    if (appliedPaths.has(p)) continue;
    if (owned.some((o) => o !== mine && o.paths.has(p))) continue;
    deleteAt(result, dec(p));
  }
  if (!mine) {
    mine = { entry: { manager, operation: 'Apply', apiVersion }, paths: new Set() };
    owned.push(mine);
  }
  const changed =
    canonical([...before].sort()) !== canonical([...appliedPaths].sort()) ||
    [...appliedPaths].some((p) => canonical(valueAt(current, dec(p))) !== canonical(valueAt(applied, dec(p))));
  mine.paths = appliedPaths;
  if (changed || !mine.entry.time) mine.entry.time = now();
  writeOwnership(result, owned);
  return result;
}

export function requireFieldManager(fm: string | null): string {
  if (!fm) {
    throw errors.unprocessable('PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
  }
  if (fm.length > 128) throw errors.unprocessable(`PatchOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more than 128 bytes`);
  return fm;
}
