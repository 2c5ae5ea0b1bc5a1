// A ClusterRole evaluator with the RBAC authorizer's matching rules (verbs, apiGroups, resources incl.
// "resource/subresource", resourceNames, "*"), so tests can prove the shipped role is enough and no more.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[] | undefined;
  resources?: string[] | undefined;
  resourceNames?: string[] | undefined;
  nonResourceURLs?: string[] | undefined;
}
export interface ClusterRole {
  kind?: string | undefined;
  metadata?: { name?: string } | undefined;
  rules?: PolicyRule[] | undefined;
}

export interface Attributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string | undefined;
  name?: string | undefined;
  namespace?: string | undefined;
}

/**
 * Accepts a parsed ClusterRole, an array of them, or a path to a YAML file (multi-document files are fine:
 * every `kind: ClusterRole` in it counts, other kinds are ignored).
 */
export function loadClusterRoles(src: object | string | Array<object | string>): ClusterRole[] {
  if (Array.isArray(src)) return src.flatMap(loadClusterRoles);
  if (typeof src === 'string') {
    const docs = parseAllDocuments(readFileSync(src, 'utf8'))
      .map((d) => d.toJS() as ClusterRole | null)
      .filter(Boolean) as ClusterRole[];
    const roles = docs.filter((d) => d.kind === 'ClusterRole');
    if (roles.length === 0) throw new Error(`${src}: no ClusterRole document found`);
    return roles;
  }
  return [src];
}

const matches = (list: string[] | undefined, v: string) => !!list && (list.includes('*') || list.includes(v));

export function ruleAllows(rule: PolicyRule, a: Attributes): boolean {
  if (!matches(rule.verbs, a.verb)) return false;
  if (!matches(rule.apiGroups, a.group)) return false;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resOk =
    !!rule.resources && (rule.resources.includes('*') || rule.resources.includes(res) || (!!a.subresource && rule.resources.includes(`*/${a.subresource}`)));
  if (!resOk) return false;
  // resourceNames restricts requests that name an object; list/watch/create (no name) never match a named rule.
  if (rule.resourceNames && rule.resourceNames.length > 0) return !!a.name && rule.resourceNames.includes(a.name);
  return true;
}

export function allowed(roles: ClusterRole[], a: Attributes): boolean {
  return roles.some((r) => (r.rules ?? []).some((rule) => ruleAllows(rule, a)));
}
