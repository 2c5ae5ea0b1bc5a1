// GlobalNetworkPolicies, Tiers and failsafe ports as the explain/lint/guard code sees them: parsed once
// from projectcalico.org/v3 objects (from YAML files or the cluster). Pure: no I/O.
import { parseSelector, SelectorError, type Selector } from '../selector/index.ts';

export type RuleAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type Direction = 'ingress' | 'egress';
export type PolicyType = 'Ingress' | 'Egress';

/** `source` / `destination` of a rule, as in the v3 API (only what we summarise or reason about). */
export interface EntityRule {
  readonly nets?: readonly string[];
  readonly notNets?: readonly string[];
  readonly selector?: string;
  readonly notSelector?: string;
  readonly namespaceSelector?: string;
  readonly ports?: readonly (number | string)[];
  readonly notPorts?: readonly (number | string)[];
  readonly serviceAccounts?: { readonly names?: readonly string[]; readonly selector?: string };
  readonly services?: { readonly name?: string; readonly namespace?: string };
}

export interface Rule {
  readonly action: RuleAction;
  readonly protocol?: string | number;
  readonly notProtocol?: string | number;
  readonly ipVersion?: number;
  readonly icmp?: { readonly type?: number; readonly code?: number };
  readonly notICMP?: { readonly type?: number; readonly code?: number };
  readonly source?: EntityRule;
  readonly destination?: EntityRule;
  readonly http?: unknown;
}

/** One GlobalNetworkPolicy, parsed. */
export interface Policy {
  readonly name: string;
  /** Where it came from: a file name, or `cluster`. */
  readonly source: string;
  readonly tier: string;
  /** `undefined`: no order, which Calico sorts as +infinity (last in its tier). */
  readonly order: number | undefined;
  /** The selector text as written ('' when absent). */
  readonly selectorText: string;
  /** `undefined` when the selector does not parse (the policy then selects nothing; lint reports it). */
  readonly selector: Selector | undefined;
  readonly selectorError: string | undefined;
  /** GNP-level namespaceSelector / serviceAccountSelector: they restrict the policy to workloads. */
  readonly namespaceSelector: string;
  readonly serviceAccountSelector: string;
  readonly preDNAT: boolean;
  readonly applyOnForward: boolean;
  readonly doNotTrack: boolean;
  /** As written, or defaulted the way the Calico API server does on create. */
  readonly types: readonly PolicyType[];
  readonly ingress: readonly Rule[];
  readonly egress: readonly Rule[];
  /** The object as written, for the checks of what Calico's API rejects (lint's validatePolicyObject). */
  readonly raw?: unknown;
}

export interface Tier {
  readonly name: string;
  readonly order: number | undefined;
  /** What happens at the end of the tier when a policy in it selected the endpoint but no rule matched. */
  readonly defaultAction: 'Deny' | 'Pass';
  /** False when no Tier object was seen for it (Felix sorts such tiers after every known one). */
  readonly known: boolean;
}

/** Calico's built-in tiers (v3.30+: the default tier has order 1,000,000; kube-admin and kube-baseline exist). */
export const BUILTIN_TIERS: readonly Tier[] = [
  { name: 'kube-admin', order: 1_000, defaultAction: 'Pass', known: true },
  { name: 'default', order: 1_000_000, defaultAction: 'Deny', known: true },
  { name: 'kube-baseline', order: 10_000_000, defaultAction: 'Pass', known: true },
];

export const DEFAULT_ALLOW_PROFILE = 'projectcalico-default-allow';

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function bool(v: unknown): boolean {
  return v === true;
}

function rules(v: unknown): Rule[] {
  return Array.isArray(v) ? (v.filter((r) => r !== null && typeof r === 'object') as Rule[]) : [];
}

/** The types the API server fills in when a policy is created without them. */
export function defaultTypes(ingress: readonly Rule[], egress: readonly Rule[]): PolicyType[] {
  if (egress.length > 0 && ingress.length > 0) return ['Ingress', 'Egress'];
  if (egress.length > 0) return ['Egress'];
  return ['Ingress'];
}

/** A v3 GlobalNetworkPolicy object to a Policy. Never throws: a bad selector is recorded on the result. */
export function parsePolicy(obj: { metadata?: { name?: unknown }; spec?: unknown }, source: string): Policy {
  const spec = (obj.spec !== null && typeof obj.spec === 'object' ? obj.spec : {}) as Record<string, unknown>;
  const ingress = rules(spec['ingress']);
  const egress = rules(spec['egress']);
  const selectorText = str(spec['selector']);
  let selector: Selector | undefined;
  let selectorError: string | undefined;
  try {
    selector = parseSelector(selectorText);
  } catch (err) {
    if (!(err instanceof SelectorError)) throw err;
    selectorError = err.message;
  }
  const typesIn = Array.isArray(spec['types']) ? (spec['types'] as unknown[]).filter((t): t is PolicyType => t === 'Ingress' || t === 'Egress') : [];
  const order = typeof spec['order'] === 'number' && Number.isFinite(spec['order']) ? spec['order'] : undefined;
  return {
    name: str(obj.metadata?.name),
    source,
    tier: str(spec['tier']) || 'default',
    order,
    selectorText,
    selector,
    selectorError,
    namespaceSelector: str(spec['namespaceSelector']),
    serviceAccountSelector: str(spec['serviceAccountSelector']),
    preDNAT: bool(spec['preDNAT']),
    applyOnForward: bool(spec['applyOnForward']),
    doNotTrack: bool(spec['doNotTrack']),
    types: typesIn.length > 0 ? [...new Set(typesIn)] : defaultTypes(ingress, egress),
    ingress,
    egress,
    raw: obj,
  };
}

export function parseTier(obj: { metadata?: { name?: unknown }; spec?: unknown }): Tier {
  const spec = (obj.spec !== null && typeof obj.spec === 'object' ? obj.spec : {}) as Record<string, unknown>;
  const order = typeof spec['order'] === 'number' && Number.isFinite(spec['order']) ? spec['order'] : undefined;
  return { name: str(obj.metadata?.name), order, defaultAction: spec['defaultAction'] === 'Pass' ? 'Pass' : 'Deny', known: true };
}

/** True when the policy's top-level selection can include a HostEndpoint with these labels. */
export function selectsLabels(policy: Policy, labels: Readonly<Record<string, string>>): boolean {
  if (policy.selector === undefined || !policy.selector.matches(labels)) return false;
  // A GNP's namespaceSelector / serviceAccountSelector are ANDed with its selector over the
  // endpoint's namespace / service-account labels. A HostEndpoint has neither, so they are judged
  // against an empty label set (all() passes, has(x) does not).
  for (const extra of [policy.namespaceSelector, policy.serviceAccountSelector]) {
    if (extra.trim() === '') continue;
    try {
      if (!parseSelector(extra).matches({})) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** True when the policy's rules apply in this direction (its types include it). */
export function governs(policy: Policy, direction: Direction): boolean {
  return policy.types.includes(direction === 'ingress' ? 'Ingress' : 'Egress');
}

export function rulesFor(policy: Policy, direction: Direction): readonly Rule[] {
  if (!governs(policy, direction)) return [];
  return direction === 'ingress' ? policy.ingress : policy.egress;
}
