// Policy input files: YAML (or JSON) holding GlobalNetworkPolicies, in any of the shapes people write:
// several `---` documents, a `kind: List` (or `GlobalNetworkPolicyList`) with `items`, or a bare
// sequence of objects (as in the Calico guide). Tier and FelixConfiguration objects are used too;
// anything else is skipped with a note.
import { parseAllDocuments } from 'yaml';
import { parsePolicy, parseTier, type ParsePolicyOptions, type Policy, type Tier } from './model.ts';

export interface PolicyDocuments {
  readonly policies: Policy[];
  readonly tiers: Tier[];
  /** Raw FelixConfiguration objects (their failsafe ports matter). */
  readonly felixConfigurations: { metadata?: { name?: unknown }; spec?: unknown }[];
  readonly notes: string[];
}

export class PolicyFileError extends Error {
  override readonly name = 'PolicyFileError';
}

type Obj = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown }; spec?: unknown; items?: unknown };

/**
 * Sorts parsed objects into policies (StagedGlobalNetworkPolicies too: `kind` tells them apart and the
 * Felix model never enforces them), tiers and Felix configs. `source` names them in notes; `options`
 * says how to read policies without `types` (objects read from the cluster: `{ types: 'felix' }`).
 */
export function collectObjects(objects: readonly unknown[], source: string, into?: PolicyDocuments, options: ParsePolicyOptions = {}): PolicyDocuments {
  const out: PolicyDocuments = into ?? { policies: [], tiers: [], felixConfigurations: [], notes: [] };
  const visit = (o: unknown, where: string): void => {
    if (o === null || o === undefined) return;
    if (Array.isArray(o)) {
      o.forEach((item, i) => visit(item, `${where}[${i}]`));
      return;
    }
    if (typeof o !== 'object') {
      out.notes.push(`${where}: not an object; skipped`);
      return;
    }
    const obj = o as Obj;
    const kind = typeof obj.kind === 'string' ? obj.kind : '';
    if ((kind === 'List' || kind.endsWith('List')) && Array.isArray(obj.items)) {
      obj.items.forEach((item, i) => visit(item, `${where}.items[${i}]`));
      return;
    }
    const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : '';
    if (kind === 'GlobalNetworkPolicy' || kind === 'StagedGlobalNetworkPolicy') {
      if (name === '') out.notes.push(`${where}: ${kind} without metadata.name; skipped`);
      else out.policies.push(parsePolicy(obj, source, { ...options, kind }));
    } else if (kind === 'Tier' && name !== '') out.tiers.push(parseTier(obj));
    else if (kind === 'FelixConfiguration' && name !== '') out.felixConfigurations.push(obj);
    else out.notes.push(`${where}: ${kind || 'object without kind'}${name ? ` ${name}` : ''} is not a GlobalNetworkPolicy; ignored`);
  };
  objects.forEach((o, i) => visit(o, objects.length > 1 ? `${source} document ${i + 1}` : source));
  return out;
}

/** Parses one file's text. Throws PolicyFileError for text that is not YAML. */
export function parsePolicyText(text: string, source: string, into?: PolicyDocuments): PolicyDocuments {
  const docs = parseAllDocuments(text, { uniqueKeys: true });
  const objects: unknown[] = [];
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    if (doc.errors.length > 0) throw new PolicyFileError(`${source}: not valid YAML: ${doc.errors[0]!.message}`);
    objects.push(doc.toJS());
  }
  return collectObjects(objects, source, into);
}
