// GlobalNetworkPolicies, Tiers and failsafe ports as the explain/lint/guard code sees them: parsed once
// from projectcalico.org/v3 objects (from YAML files or the cluster). Pure: no I/O.
// How Felix reads each field is in felix.ts (selector prefixing, types defaulting, order ties).
import { parseSelector, SelectorError, type Selector } from '../selector/index.ts';
import { felixSelectorText } from './felix-selector.ts';

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
  /** `GlobalNetworkPolicy` (enforced) or `StagedGlobalNetworkPolicy` (never enforced); part of 3.32's order tie key. */
  readonly kind: string;
  /** metadata.annotations (the policy guard's opt-in annotation lives here). */
  readonly annotations: Readonly<Record<string, string>>;
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
  /**
   * The selector Felix evaluates: `selectorText` with the namespaceSelector / serviceAccountSelector
   * prefixed and appended, and `all()` rewritten (felix-selector.ts). Equal to `selectorText` when
   * neither is set.
   */
  readonly felixSelectorText: string;
  /** `felixSelectorText` parsed; `undefined` when it does not parse (selects nothing). */
  readonly felixSelector: Selector | undefined;
  /** GNP-level namespaceSelector / serviceAccountSelector: they restrict the policy to workloads. */
  readonly namespaceSelector: string;
  readonly serviceAccountSelector: string;
  readonly preDNAT: boolean;
  readonly applyOnForward: boolean;
  readonly doNotTrack: boolean;
  /**
   * The directions the policy applies to: as written; when absent, per ParsePolicyOptions.types:
   * Felix reads a stored object without types as Ingress+Egress (felix/calc/policy_sorter.go
   * ExtractPolicyMetadata: "no Types means Ingress and Egress"), while the Calico API server fills
   * them in from the rules present when it creates the object.
   */
  readonly types: readonly PolicyType[];
  /** `types` as written (empty when absent). */
  readonly typesWritten: readonly PolicyType[];
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

/**
 * The types the Calico API server (or the v3 CRDs' mutating admission policy, Kubernetes >= 1.36)
 * fills in when a policy is created without them. Felix itself never does this: a stored policy
 * without types is Ingress+Egress (FELIX-FACTS.md, felix/calc/policy_sorter.go).
 */
export function defaultTypes(ingress: readonly Rule[], egress: readonly Rule[]): PolicyType[] {
  if (egress.length > 0 && ingress.length > 0) return ['Ingress', 'Egress'];
  if (egress.length > 0) return ['Egress'];
  return ['Ingress'];
}

export interface ParsePolicyOptions {
  /**
   * How to read a policy without `types`: `felix` as Felix reads a stored object (Ingress+Egress: use
   * it for objects read from the cluster, as the policy guard does); `apiserver` (default, for files
   * that will be created through the Calico API server) as its create-time defaulting fills them in.
   */
  readonly types?: 'felix' | 'apiserver';
  /** Default `GlobalNetworkPolicy`; used for objects without `kind`. */
  readonly kind?: string;
}

function stringMap(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object') return {};
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** A v3 GlobalNetworkPolicy object to a Policy. Never throws: a bad selector is recorded on the result. */
export function parsePolicy(
  obj: { kind?: unknown; metadata?: { name?: unknown; annotations?: unknown }; spec?: unknown },
  source: string,
  options: ParsePolicyOptions = {},
): Policy {
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
  // Felix compares types case-insensitively (strings.EqualFold in ExtractPolicyMetadata).
  const typesIn = Array.isArray(spec['types'])
    ? (spec['types'] as unknown[]).flatMap((t): PolicyType[] =>
        typeof t !== 'string' ? [] : t.toLowerCase() === 'ingress' ? ['Ingress'] : t.toLowerCase() === 'egress' ? ['Egress'] : [],
      )
    : [];
  const order = typeof spec['order'] === 'number' && Number.isFinite(spec['order']) ? spec['order'] : undefined;
  const namespaceSelector = str(spec['namespaceSelector']);
  const serviceAccountSelector = str(spec['serviceAccountSelector']);
  const felixText = felixSelectorText(selectorText, namespaceSelector, serviceAccountSelector);
  let felixSelector: Selector | undefined;
  if (felixText === selectorText) felixSelector = selector;
  else {
    try {
      felixSelector = parseSelector(felixText);
    } catch (err) {
      if (!(err instanceof SelectorError)) throw err;
    }
  }
  const written = [...new Set(typesIn)];
  const types = written.length > 0 ? written : options.types === 'felix' ? (['Ingress', 'Egress'] as PolicyType[]) : defaultTypes(ingress, egress);
  return {
    name: str(obj.metadata?.name),
    kind: typeof obj.kind === 'string' && obj.kind !== '' ? obj.kind : (options.kind ?? 'GlobalNetworkPolicy'),
    annotations: stringMap(obj.metadata?.annotations),
    source,
    tier: str(spec['tier']) || 'default',
    order,
    selectorText,
    selector,
    selectorError,
    felixSelectorText: felixText,
    felixSelector,
    namespaceSelector,
    serviceAccountSelector,
    preDNAT: bool(spec['preDNAT']),
    applyOnForward: bool(spec['applyOnForward']),
    doNotTrack: bool(spec['doNotTrack']),
    types,
    typesWritten: written,
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

/**
 * True when Felix's selector for the policy (felixSelectorText: namespaceSelector and
 * serviceAccountSelector prefixed in, `all()` rewritten) matches an endpoint with these labels. A
 * HostEndpoint has no `projectcalico.org/namespace` or `pcns.*` labels, so a GNP with
 * `namespaceSelector: all()` (or any selector needing a namespace label) never selects one.
 */
export function selectsLabels(policy: Policy, labels: Readonly<Record<string, string>>): boolean {
  return policy.felixSelector !== undefined && policy.felixSelector.matches(labels);
}

/** True when the policy's rules apply in this direction (its types include it). */
export function governs(policy: Policy, direction: Direction): boolean {
  return policy.types.includes(direction === 'ingress' ? 'Ingress' : 'Egress');
}

export function rulesFor(policy: Policy, direction: Direction): readonly Rule[] {
  if (!governs(policy, direction)) return [];
  return direction === 'ingress' ? policy.ingress : policy.egress;
}
