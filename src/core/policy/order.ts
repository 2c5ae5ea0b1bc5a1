// Calico's evaluation order (felix/calc/policy_sorter.go): tiers by (known first, order with "none"
// last, name); within a tier, policies by (order with "none" as +infinity, name).
import { compareCodePoints } from '../selector/ast.ts';
import { BUILTIN_TIERS, type Policy, type Tier } from './model.ts';

/** The tiers by name: Calico's built-ins, overridden by any Tier objects given, plus unknown ones. */
export function tierTable(tiers: readonly Tier[], policies: readonly Policy[]): Map<string, Tier> {
  const table = new Map<string, Tier>(BUILTIN_TIERS.map((t) => [t.name, t]));
  for (const t of tiers) table.set(t.name, t);
  for (const p of policies) {
    if (!table.has(p.tier)) table.set(p.tier, { name: p.tier, order: undefined, defaultAction: 'Deny', known: false });
  }
  return table;
}

export function compareTiers(a: Tier, b: Tier): number {
  if (a.known !== b.known) return a.known ? -1 : 1;
  if (a.order === undefined && b.order !== undefined) return 1;
  if (a.order !== undefined && b.order === undefined) return -1;
  if (a.order !== undefined && b.order !== undefined && a.order !== b.order) return a.order - b.order;
  return compareCodePoints(a.name, b.name);
}

export function comparePoliciesInTier(a: Policy, b: Policy): number {
  const ao = a.order ?? Infinity;
  const bo = b.order ?? Infinity;
  if (ao !== bo) return ao < bo ? -1 : 1;
  return compareCodePoints(a.name, b.name);
}

/** Policies in Calico's evaluation order. */
export function sortPolicies(policies: readonly Policy[], tiers: ReadonlyMap<string, Tier>): Policy[] {
  const tierOf = (p: Policy): Tier => tiers.get(p.tier) ?? { name: p.tier, order: undefined, defaultAction: 'Deny', known: false };
  return [...policies].sort((a, b) => compareTiers(tierOf(a), tierOf(b)) || comparePoliciesInTier(a, b));
}
