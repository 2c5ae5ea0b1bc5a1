// Which policies apply to a HostEndpoint, in the order Felix evaluates them, and what happens to a
// packet that no rule matches. Follows Felix's host endpoint chains (felix/rules/endpoints.go,
// felix/rules/static.go, felix/dataplane/linux/endpoint_mgr.go):
//   1. doNotTrack policies (raw table): Allow = accept untracked and skip everything below; Deny =
//      drop; no match = continue. Ignored on an all-interfaces (`*`) HostEndpoint.
//   2. preDNAT policies (mangle table, ingress only): Allow = accept, skipping normal policy; Deny =
//      drop; no match = continue (no default drop).
//   3. normal policies (filter table), tier by tier: Allow/Deny decide; Pass jumps to the next tier;
//      a tier in which some policy selected the endpoint but no rule matched ends with the tier's
//      default action (Deny, or Pass for kube-admin/kube-baseline). After the tiers (or when no
//      policy applies at all), the endpoint's profiles: `projectcalico-default-allow` allows; with
//      no profile that accepts, the packet is dropped.
// Failsafe ports are accepted before all of this. applyOnForward policies also police forwarded
// traffic; with none, forwarded traffic through the endpoint is allowed.
import type { HostEndpoint } from '../model.ts';
import { DEFAULT_ALLOW_PROFILE, governs, rulesFor, selectsLabels, type Direction, type Policy, type Tier } from './model.ts';
import { isCatchAll, ruleSummary, type RuleSummary } from './rules.ts';

export type Stage = 'doNotTrack' | 'preDNAT' | 'normal';

export interface AppliedPolicy {
  readonly name: string;
  readonly tier: string;
  readonly order: number | null;
  readonly stage: Stage;
  readonly applyOnForward: boolean;
  /** This direction's rules, in order. */
  readonly rules: readonly RuleSummary[];
}

export type VerdictCode =
  /** A rule without match criteria decides every packet that reaches it. */
  | 'catch-all-rule'
  /** A tier in which a policy selected the endpoint ended without a matching rule. */
  | 'end-of-tier'
  | 'default-allow-profile'
  /** Profiles other than default-allow decide; not evaluated here. */
  | 'other-profiles'
  /** No normal policy applies in this direction and no profile: Calico's default deny. */
  | 'no-policy'
  /** Every applicable tier passed and no profile allows. */
  | 'all-tiers-passed';

/** What happens to a packet in this direction that no earlier rule with match criteria took. */
export interface Verdict {
  readonly action: 'allow' | 'deny' | 'profiles';
  readonly code: VerdictCode;
  readonly reason: string;
  readonly policy?: string;
  readonly tier?: string;
}

export interface DirectionExplanation {
  /** In evaluation order: doNotTrack, then preDNAT (ingress only), then normal, each by tier/order/name. */
  readonly policies: readonly AppliedPolicy[];
  /** Policies that select the endpoint but that Felix ignores for it. */
  readonly ignored: readonly { readonly name: string; readonly reason: string }[];
  readonly unmatched: Verdict;
  /** Traffic forwarded through the interface (routed, or to/from local workloads). */
  readonly forward: { readonly policies: readonly string[]; readonly unmatched: 'allow' | 'deny' | 'no verdict'; readonly reason: string };
}

export interface HostEndpointExplanation {
  readonly name: string;
  readonly node: string;
  readonly interfaceName: string;
  readonly expectedIPs: readonly string[];
  readonly profiles: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
  readonly defaultAllow: boolean;
  readonly ingress: DirectionExplanation;
  readonly egress: DirectionExplanation;
}

export function stageOf(p: Policy): Stage {
  return p.doNotTrack ? 'doNotTrack' : p.preDNAT ? 'preDNAT' : 'normal';
}

export function hasDefaultAllow(hep: HostEndpoint): boolean {
  return (hep.spec.profiles ?? []).includes(DEFAULT_ALLOW_PROFILE);
}

/** The policies (any stage, any direction) whose selector picks this HEP, in evaluation order. */
export function policiesSelecting(hep: HostEndpoint, sorted: readonly Policy[]): Policy[] {
  const labels = hep.metadata.labels ?? {};
  return sorted.filter((p) => selectsLabels(p, labels));
}

type Walk = { decided: Verdict } | { passedAll: boolean; anyTier: boolean };

/** Walks policies tier by tier; `endOfTierDrop` is false for the doNotTrack/preDNAT stages. */
function walk(policies: readonly Policy[], direction: Direction, tiers: ReadonlyMap<string, Tier>, stage: string, endOfTierDrop: boolean): Walk {
  let anyTier = false;
  let i = 0;
  while (i < policies.length) {
    const tierName = policies[i]!.tier;
    const group: Policy[] = [];
    while (i < policies.length && policies[i]!.tier === tierName) group.push(policies[i++]!);
    anyTier = true;
    let passed = false;
    outer: for (const p of group) {
      for (const rule of rulesFor(p, direction)) {
        if (!isCatchAll(rule)) continue;
        if (rule.action === 'Allow' || rule.action === 'Deny') {
          return {
            decided: {
              action: rule.action === 'Allow' ? 'allow' : 'deny',
              code: 'catch-all-rule',
              reason: `${stage} policy ${p.name} (tier ${tierName}) ${rule.action === 'Allow' ? 'allows' : 'denies'} everything that reaches it`,
              policy: p.name,
              tier: tierName,
            },
          };
        }
        if (rule.action === 'Pass') {
          passed = true;
          break outer;
        }
      }
    }
    if (!passed && endOfTierDrop) {
      const tier = tiers.get(tierName);
      if ((tier?.defaultAction ?? 'Deny') === 'Deny') {
        return {
          decided: {
            action: 'deny',
            code: 'end-of-tier',
            reason: `end of tier ${tierName}: its policies select this endpoint but no rule matched (tier default action Deny)`,
            tier: tierName,
          },
        };
      }
    }
  }
  return { passedAll: true, anyTier };
}

function explainDirection(hep: HostEndpoint, selecting: readonly Policy[], direction: Direction, tiers: ReadonlyMap<string, Tier>): DirectionExplanation {
  const allInterfaces = hep.spec.interfaceName === '*';
  const ignored: { name: string; reason: string }[] = [];
  const applied: Policy[] = [];
  for (const p of selecting) {
    if (!governs(p, direction)) continue;
    const stage = stageOf(p);
    if (stage === 'doNotTrack' && allInterfaces) {
      ignored.push({ name: p.name, reason: 'doNotTrack policy on an all-interfaces (*) HostEndpoint: Felix ignores it' });
      continue;
    }
    if (stage === 'preDNAT' && direction === 'egress') continue; // pre-DNAT policy is ingress only
    applied.push(p);
  }
  const byStage = (s: Stage) => applied.filter((p) => stageOf(p) === s);
  const policies: AppliedPolicy[] = [...byStage('doNotTrack'), ...byStage('preDNAT'), ...byStage('normal')].map((p) => ({
    name: p.name,
    tier: p.tier,
    order: p.order ?? null,
    stage: stageOf(p),
    applyOnForward: p.applyOnForward,
    rules: rulesFor(p, direction).map(ruleSummary),
  }));

  let unmatched: Verdict | undefined;
  for (const stage of ['doNotTrack', 'preDNAT'] as const) {
    const w = walk(byStage(stage), direction, tiers, stage, false);
    if ('decided' in w) {
      unmatched = w.decided;
      break;
    }
  }
  if (unmatched === undefined) {
    const w = walk(byStage('normal'), direction, tiers, 'normal', true);
    if ('decided' in w) unmatched = w.decided;
    else {
      const profiles = hep.spec.profiles ?? [];
      if (profiles.includes(DEFAULT_ALLOW_PROFILE)) {
        unmatched = { action: 'allow', code: 'default-allow-profile', reason: `${w.anyTier ? 'every tier passed; ' : 'no normal policy applies; '}profile ${DEFAULT_ALLOW_PROFILE} allows` };
      } else if (profiles.length > 0) {
        unmatched = { action: 'profiles', code: 'other-profiles', reason: `profiles ${profiles.join(', ')} decide (not evaluated here), then deny` };
      } else if (w.anyTier) {
        unmatched = { action: 'deny', code: 'all-tiers-passed', reason: 'every tier passed and the HostEndpoint has no profile: deny' };
      } else {
        unmatched = { action: 'deny', code: 'no-policy', reason: `no normal policy applies to ${direction} and the HostEndpoint has no profile: Calico's default deny` };
      }
    }
  }

  const fwd = byStage('normal').filter((p) => p.applyOnForward);
  let forward: DirectionExplanation['forward'];
  if (fwd.length === 0) forward = { policies: [], unmatched: 'allow', reason: 'no applyOnForward policy applies: forwarded traffic is allowed' };
  else {
    const w = walk(fwd, direction, tiers, 'normal', true);
    forward =
      'decided' in w
        ? { policies: fwd.map((p) => p.name), unmatched: w.decided.action === 'allow' ? 'allow' : 'deny', reason: w.decided.reason }
        : { policies: fwd.map((p) => p.name), unmatched: 'no verdict', reason: 'every tier passed; profiles do not apply to forwarded traffic' };
  }
  return { policies, ignored, unmatched, forward };
}

/** The explanation for one HEP. `sorted` must be in evaluation order (sortPolicies). */
export function explainHostEndpoint(hep: HostEndpoint, sorted: readonly Policy[], tiers: ReadonlyMap<string, Tier>): HostEndpointExplanation {
  const selecting = policiesSelecting(hep, sorted);
  return {
    name: hep.metadata.name,
    node: hep.spec.node,
    interfaceName: hep.spec.interfaceName ?? '',
    expectedIPs: hep.spec.expectedIPs ?? [],
    profiles: hep.spec.profiles ?? [],
    labels: hep.metadata.labels ?? {},
    defaultAllow: hasDefaultAllow(hep),
    ingress: explainDirection(hep, selecting, 'ingress', tiers),
    egress: explainDirection(hep, selecting, 'egress', tiers),
  };
}
