// A HEP's labels: from the Node's labels by rules, plus per-interface rules, plus ownership labels.
// Later sources win: copied node labels < derived < static < interface rules < ownership.
import { anyGlob } from './globs.ts';
import { expectedIps, ipInCidr } from './ip.ts';
import type { Labels, NetInterface } from './model.ts';
import { identityLabelValue } from './naming.ts';
import { FORBIDDEN_LABEL_KEYS, INTERFACE_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, NODE_LABEL, isReservedLabelKey } from './ownership.ts';

export interface LabelRulesConfig {
  readonly fromNode: {
    readonly include: readonly string[];
    readonly exclude: readonly string[];
    readonly rename: Readonly<Record<string, string>>;
  };
  readonly derive: readonly {
    readonly name: string;
    readonly whenNodeLabel: { readonly key: string; readonly value?: string | undefined };
    readonly set: Labels;
  }[];
  readonly static: Labels;
}

export interface InterfaceRuleConfig {
  readonly name: string;
  readonly match: {
    readonly names?: readonly string[] | undefined;
    readonly cidrs?: readonly string[] | undefined;
    readonly defaultRoute?: boolean | undefined;
  };
  readonly labels: Labels;
}

/** Labels every HEP of the node shares, computed once per Node label change. */
export function nodeDerivedLabels(nodeLabels: Labels, rules: LabelRulesConfig): Record<string, string> {
  const include = anyGlob(rules.fromNode.include);
  const exclude = anyGlob(rules.fromNode.exclude);
  const out: Record<string, string> = {};
  for (const key of Object.keys(nodeLabels).sort()) {
    if (!include(key) || exclude(key)) continue;
    const target = rules.fromNode.rename[key] ?? key;
    // A Node may carry labels under our prefix or Calico's created-by: copying them would fake ownership.
    if (isReservedLabelKey(target) || FORBIDDEN_LABEL_KEYS.includes(target)) continue;
    out[target] = nodeLabels[key] as string;
  }
  for (const rule of rules.derive) {
    const value = nodeLabels[rule.whenNodeLabel.key];
    if (value === undefined) continue;
    if (rule.whenNodeLabel.value !== undefined && rule.whenNodeLabel.value !== value) continue;
    Object.assign(out, rule.set);
  }
  Object.assign(out, rules.static);
  return out;
}

export type InterfaceRuleMatcher = (iface: NetInterface) => Record<string, string>;

/** Compiles the interface rules once; the result gives the labels the rules add for an interface. */
export function interfaceRuleLabels(rules: readonly InterfaceRuleConfig[]): InterfaceRuleMatcher {
  const compiled = rules.map((rule) => ({
    rule,
    names: rule.match.names !== undefined ? anyGlob(rule.match.names) : undefined,
  }));
  return (iface) => {
    const out: Record<string, string> = {};
    const ips = expectedIps(iface.addresses);
    for (const { rule, names } of compiled) {
      const m = rule.match;
      if (names !== undefined && !names(iface.name)) continue;
      if (m.cidrs !== undefined && !ips.some((ip) => m.cidrs!.some((cidr) => ipInCidr(ip, cidr)))) continue;
      if (m.defaultRoute !== undefined && m.defaultRoute !== iface.hasDefaultRoute) continue;
      Object.assign(out, rule.labels);
    }
    return out;
  };
}

/** The labels that mark a HEP as the agent's own and say which node and interface it is for. */
export function ownershipLabels(nodeName: string, interfaceName: string): Record<string, string> {
  return {
    [MANAGED_BY_LABEL]: MANAGED_BY_VALUE,
    [NODE_LABEL]: identityLabelValue(nodeName),
    [INTERFACE_LABEL]: identityLabelValue(interfaceName),
  };
}

/** The label selector that finds exactly one node's managed HEPs (used to list and watch). */
export function managedSelector(nodeName: string): string {
  return `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE},${NODE_LABEL}=${identityLabelValue(nodeName)}`;
}

/** Returns a copy with keys in sorted order, so output and comparisons are stable. */
export function sortedLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(labels).sort()) out[key] = labels[key] as string;
  return out;
}
