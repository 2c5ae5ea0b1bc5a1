// The three non-apply patch formats: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and a strategic merge
// patch good enough for core objects (kubectl label/annotate/patch on Nodes). Server-side apply is in apply.ts.
import { errors } from './status.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function unescape(tok: string): string {
  return tok.replace(/~1/g, '/').replace(/~0/g, '~');
}
function splitPointer(p: string): string[] {
  if (p === '') return [];
  if (!p.startsWith('/')) throw errors.badRequest(`json patch: invalid pointer "${p}"`);
  return p.slice(1).split('/').map(unescape);
}
function getAt(doc: unknown, toks: string[]): unknown {
  let cur: unknown = doc;
  for (const t of toks) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isObj(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

/** RFC 6902. Like the real server: an undecodable patch is 400, a patch that does not apply is 422. */
export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw errors.badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let root = structuredClone(doc);
  for (const op of ops) {
    if (!isObj(op) || typeof op.op !== 'string' || typeof op.path !== 'string') throw errors.badRequest('json patch: malformed operation');
    const toks = splitPointer(op.path);
    const fail = (why: string): never => {
      throw errors.unprocessable(`jsonpatch ${String(op.op)} operation does not apply: ${why}`);
    };
    const parentOf = (t: string[]) => {
      const parent = getAt(root, t.slice(0, -1));
      if (!isObj(parent) && !Array.isArray(parent)) fail(`doc is missing path: "${String(op.path)}"`);
      return parent as Record<string, unknown> | unknown[];
    };
    const put = (t: string[], value: unknown, insert: boolean) => {
      if (t.length === 0) {
        root = value;
        return;
      }
      const parent = parentOf(t);
      const last = t.at(-1)!;
      if (Array.isArray(parent)) {
        const i = last === '-' ? parent.length : Number(last);
        if (!Number.isInteger(i) || i < 0 || i > parent.length) fail(`index out of bounds: ${last}`);
        if (insert) parent.splice(i, 0, value);
        else parent[i] = value;
      } else parent[last] = value;
    };
    const remove = (t: string[]) => {
      const parent = parentOf(t);
      const last = t.at(-1)!;
      if (Array.isArray(parent)) {
        const i = Number(last);
        if (!(i >= 0 && i < parent.length)) fail(`index out of bounds: ${last}`);
        return parent.splice(i, 1)[0];
      }
      if (!Object.hasOwn(parent, last)) fail(`doc is missing key: ${String(op.path)}`);
      const v = parent[last];
      delete parent[last];
      return v;
    };
    switch (op.op) {
      case 'add':
        put(toks, structuredClone(op.value), true);
        break;
      case 'remove':
        remove(toks);
        break;
      case 'replace':
        if (getAt(root, toks) === undefined) fail(`doc is missing key: ${String(op.path)}`);
        put(toks, structuredClone(op.value), false);
        break;
      case 'move': {
        const v = remove(splitPointer(String(op.from)));
        put(toks, v, true);
        break;
      }
      case 'copy':
        put(toks, structuredClone(getAt(root, splitPointer(String(op.from)))), true);
        break;
      case 'test':
        if (JSON.stringify(getAt(root, toks)) !== JSON.stringify(op.value)) throw errors.unprocessable(`testing value ${op.path} failed: test failed`);
        break;
      default:
        throw errors.badRequest(`json patch: unknown operation "${op.op}"`);
    }
  }
  return root;
}

/** Merge keys from the core API's Go struct tags, for the lists a strategic merge patch on a Node touches. */
const SMP_MERGE_KEYS: Record<string, string> = {
  'metadata.ownerReferences': 'uid',
  'status.conditions': 'type',
  'status.addresses': 'type',
  'status.images': 'names', // really atomic-ish; kept as replace below
};
const SMP_SET_LISTS = new Set(['metadata.finalizers']);

/**
 * Strategic merge patch: a merge patch, plus per-list merge keys and the `$patch` / `$setElementOrder` /
 * `$deleteFromPrimitiveList` / `$retainKeys` directives kubectl may send. Lists without a known merge key are replaced.
 */
export function strategicMergePatch(target: unknown, patch: unknown, path = ''): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  if (patch.$patch === 'replace') {
    const p = { ...patch };
    delete p.$patch;
    return p;
  }
  if (patch.$patch === 'delete') return undefined;
  const out: Record<string, unknown> = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (k.startsWith('$setElementOrder/') || k === '$retainKeys' || k === '$patch') continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const f = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[f]) && Array.isArray(v)) out[f] = (out[f] as unknown[]).filter((x) => !v.includes(x as Json));
      continue;
    }
    const p = path ? `${path}.${k}` : k;
    if (v === null) {
      delete out[k];
      continue;
    }
    const mergeKey = SMP_MERGE_KEYS[p];
    if (Array.isArray(v) && mergeKey && p !== 'status.images') {
      const cur = Array.isArray(out[k]) ? [...(out[k] as unknown[])] : [];
      for (const item of v) {
        if (!isObj(item)) continue;
        const i = cur.findIndex((c) => isObj(c) && c[mergeKey] === item[mergeKey]);
        if (item.$patch === 'delete') {
          if (i >= 0) cur.splice(i, 1);
          continue;
        }
        if (i >= 0) cur[i] = strategicMergePatch(cur[i], item, p);
        else cur.push(strategicMergePatch(undefined, item, p));
      }
      out[k] = cur;
    } else if (Array.isArray(v) && SMP_SET_LISTS.has(p)) {
      const cur = Array.isArray(out[k]) ? [...(out[k] as unknown[])] : [];
      for (const x of v) if (!cur.includes(x)) cur.push(x);
      out[k] = cur;
    } else {
      const merged = strategicMergePatch(out[k], v, p);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    }
  }
  return out;
}
