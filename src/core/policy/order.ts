// Calico's evaluation order (felix/calc/policy_sorter.go, read at v3.31.6 and v3.32.1):
//   - tiers (TierLess): tiers with a Tier object ("valid") before those without, then by `order` with
//     "no order" last, then by name;
//   - policies in a tier (PolKVLess): by `order`, "no order" as +infinity (ExtractPolicyMetadata), and
//     on equal order
//       3.31: by name;
//       3.32: by the string "name/namespace/kind" (a GNP has namespace ''), so `a-b` (`a-b//Global...`)
//       sorts before `a` (`a//Global...`): '-' and '.' sort before '/'.
// The model targets Calico 3.32 (CALICO_MODEL_VERSION); pass '3.31' for the older tie-break.
import { compareCodePoints } from '../selector/ast.ts';
import { BUILTIN_TIERS, type Policy, type Tier } from './model.ts';

export type CalicoVersion = '3.31' | '3.32';
/** The Calico version whose behaviour the model encodes by default. */
export const CALICO_MODEL_VERSION: CalicoVersion = '3.32';

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

/** The tie-break key Felix compares for equal orders (3.32: "name/namespace/kind"; 3.31: name). */
export function policyTieKey(p: Policy, version: CalicoVersion = CALICO_MODEL_VERSION): string {
  return version === '3.31' ? p.name : `${p.name}//${p.kind}`;
}

export function comparePoliciesInTier(a: Policy, b: Policy, version: CalicoVersion = CALICO_MODEL_VERSION): number {
  const ao = a.order ?? Infinity;
  const bo = b.order ?? Infinity;
  if (ao !== bo) return ao < bo ? -1 : 1;
  // Go compares strings bytewise (UTF-8), which is code point order.
  return compareCodePoints(policyTieKey(a, version), policyTieKey(b, version));
}

/** Policies in Calico's evaluation order. */
export function sortPolicies(policies: readonly Policy[], tiers: ReadonlyMap<string, Tier>, version: CalicoVersion = CALICO_MODEL_VERSION): Policy[] {
  const tierOf = (p: Policy): Tier => tiers.get(p.tier) ?? { name: p.tier, order: undefined, defaultAction: 'Deny', known: false };
  return [...policies].sort((a, b) => compareTiers(tierOf(a), tierOf(b)) || comparePoliciesInTier(a, b, version));
}
