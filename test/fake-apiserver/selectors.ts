// Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels and pkg/fields.
// Parse errors become 400 BadRequest, as the real server answers a malformed selector.
import { errors } from './status.ts';

export type LabelRequirement =
  | { op: 'exists' | '!'; key: string }
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'gt' | 'lt'; key: string; value: number };

export type Labels = Record<string, string> | undefined;

const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function bad(sel: string, why: string): never {
  throw errors.badRequest(`unable to parse requirement: ${why} (selector "${sel}")`);
}

/** Splits on commas that are not inside `( )`, so `a in (x,y),b` is two requirements. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0,
    cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
      continue;
    }
    cur += ch;
  }
  out.push(cur);
  return out;
}

function checkKey(sel: string, key: string): string {
  if (key.length === 0 || !KEY_RE.test(key) || key.split('/').at(-1)!.length > 63) bad(sel, `invalid label key "${key}"`);
  return key;
}
function checkValue(sel: string, v: string): string {
  if (v.length > 63 || !VALUE_RE.test(v)) bad(sel, `invalid label value: "${v}"`);
  return v;
}

export function parseLabelSelector(sel: string | undefined | null): LabelRequirement[] {
  if (!sel || sel.trim() === '') return [];
  const reqs: LabelRequirement[] = [];
  for (const raw of splitTop(sel)) {
    const part = raw.trim();
    if (part === '') bad(sel, 'empty requirement');
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^!\s*([^\s=!<>(),]+)$/))) {
      reqs.push({ op: '!', key: checkKey(sel, m[1]!) });
      continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      if (values.length === 1 && values[0] === '') bad(sel, "for 'in', 'notin' operators, values set can't be empty");
      reqs.push({ op: m[2] as 'in' | 'notin', key: checkKey(sel, m[1]!), values: values.map((v) => checkValue(sel, v)) });
      continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)\s*(==|=|!=)\s*([^\s=!<>(),]*)$/))) {
      reqs.push({ op: m[2] === '!=' ? '!=' : '=', key: checkKey(sel, m[1]!), value: checkValue(sel, m[3]!) });
      continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)\s*(<|>)\s*(\S+)$/))) {
      if (!/^-?\d+$/.test(m[3]!)) bad(sel, `for 'Gt', 'Lt' operators, the value must be an integer`);
      reqs.push({ op: m[2] === '>' ? 'gt' : 'lt', key: checkKey(sel, m[1]!), value: Number(m[3]) });
      continue;
    }
    if ((m = part.match(/^([^\s=!<>(),]+)$/))) {
      reqs.push({ op: 'exists', key: checkKey(sel, m[1]!) });
      continue;
    }
    bad(sel, `found '${part}', expected: !, identifier, or 'end of string'`);
  }
  return reqs;
}

export function matchesLabels(reqs: LabelRequirement[], labels: Labels): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.hasOwn(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case 'exists':
        return has;
      case '!':
        return !has;
      case '=':
        return has && v === r.value;
      case '!=':
        return !has || v !== r.value; // the real semantics: a missing label satisfies !=
      case 'in':
        return has && r.values.includes(v!);
      case 'notin':
        return !has || !r.values.includes(v!);
      case 'gt':
        return has && /^-?\d+$/.test(v!) && Number(v) > r.value;
      case 'lt':
        return has && /^-?\d+$/.test(v!) && Number(v) < r.value;
    }
  });
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

/** `supported` is the per-resource list of field labels the real server accepts (metadata.name, metadata.namespace, ...). */
export function parseFieldSelector(sel: string | undefined | null, supported: readonly string[]): FieldRequirement[] {
  if (!sel || sel.trim() === '') return [];
  return sel.split(',').map((raw) => {
    const part = raw.trim();
    const m = part.match(/^([^=!]+?)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw errors.badRequest(`invalid selector: '${sel}'; can't understand '${part}'`);
    const field = m[1]!.trim();
    if (!supported.includes(field)) throw errors.badRequest(`field label not supported: ${field}`);
    return { field, op: m[2] === '!=' ? '!=' : '=', value: m[3]!.trim() };
  });
}

/** Reads a dotted field path (`involvedObject.name`) off an object; missing values compare as "". */
export function fieldValue(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return '';
    cur = (cur as Record<string, unknown>)[p];
  }
  if (cur === undefined || cur === null) return '';
  return typeof cur === 'string' ? cur : JSON.stringify(cur);
}

export function matchesFields(reqs: FieldRequirement[], obj: unknown): boolean {
  return reqs.every((r) => (fieldValue(obj, r.field) === r.value) === (r.op === '='));
}
