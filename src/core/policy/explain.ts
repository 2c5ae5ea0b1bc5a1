// Which policies apply to a HostEndpoint, in the order Felix evaluates them, and what happens to a
// packet that no rule with match criteria takes: a presentation of the one Felix model in felix.ts
// (endpointPipeline + walkEndpoint), never a second evaluator. Per direction:
//   1. doNotTrack policies (raw table), 2. preDNAT policies (mangle, ingress only), 3. normal policies
//      tier by tier with the end-of-tier drop, then the profiles in order;
//   forwarded traffic: doNotTrack and preDNAT decide first (an Allow there skips the forward policy),
//   then the applyOnForward policies; with none, forwarded traffic is allowed.
// Failsafe ports are accepted before all of this (failsafe.ts); rules with match criteria are listed
// but, for "unmatched" traffic, do not match (explain --packet answers for one concrete packet).
import type { HostEndpoint } from '../model.ts';
import {
  endpointPipeline,
  walkEndpoint,
  type Cause,
  type EndpointPipeline,
  type FelixStage,
  type Oracle,
  type Outcome,
  type PolicyModel,
  type TierGroup,
} from './felix.ts';
import { DEFAULT_ALLOW_PROFILE, governs, rulesFor, type Direction, type Policy } from './model.ts';
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

export interface ForwardVerdict {
  /** Policies that can decide forwarded traffic, in order: doNotTrack and preDNAT (ingress) first, then applyOnForward ones. */
  readonly policies: readonly string[];
  readonly unmatched: 'allow' | 'deny' | 'no verdict';
  readonly reason: string;
  /** The stage that decides unmatched forwarded traffic: a preDNAT or doNotTrack catch-all comes before the forward policy. */
  readonly decidedBy: FelixStage | 'default';
}

export interface DirectionExplanation {
  /** In evaluation order: doNotTrack, then preDNAT (ingress only), then normal, each by tier/order/name. */
  readonly policies: readonly AppliedPolicy[];
  /** Policies that select the endpoint but that Felix ignores for it. */
  readonly ignored: readonly { readonly name: string; readonly reason: string }[];
  readonly unmatched: Verdict;
  /** Traffic forwarded through the interface (routed, or to/from local workloads). */
  readonly forward: ForwardVerdict;
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

/** Traffic no rule with match criteria takes: catch-all rules match, every other rule does not. */
export const unmatchedOracle: Oracle = { rule: (ref) => (isCatchAll(ref.rule) ? 'yes' : 'no') };

const STAGE_WORD: Record<FelixStage, string> = { untracked: 'doNotTrack', preDNAT: 'preDNAT', normal: 'normal', forward: 'applyOnForward' };

/** The certain end of a walk with a yes/no oracle, mapped to a Verdict. */
function verdictOf(outcomes: readonly Outcome[], pipeline: EndpointPipeline, direction: Direction): Verdict {
  const last = outcomes[outcomes.length - 1]!;
  const c: Cause = last.cause;
  // A profile other than default-allow: its rules are not evaluated here.
  const unknownProfile = outcomes.find((o) => o.cause.kind === 'profile' && !o.certain);
  if (unknownProfile !== undefined) {
    return { action: 'profiles', code: 'other-profiles', reason: `profiles ${pipeline.profiles.join(', ')} decide (not evaluated here), then deny` };
  }
  switch (c.kind) {
    case 'rule':
      return {
        action: last.verdict === 'allow' ? 'allow' : 'deny',
        code: 'catch-all-rule',
        reason: `${STAGE_WORD[c.ref.stage]} policy ${c.ref.policy} (tier ${c.ref.tier}) ${last.verdict === 'allow' ? 'allows' : 'denies'} everything that reaches it`,
        policy: c.ref.policy,
        tier: c.ref.tier,
      };
    case 'end-of-tier':
      return {
        action: 'deny',
        code: 'end-of-tier',
        reason: `end of tier ${c.tier}: its policies (${c.policies.join(', ')}) select this endpoint but no rule matched (tier default action Deny)`,
        tier: c.tier,
      };
    case 'profile': {
      const anyTier = pipeline[direction].normal.length > 0;
      return {
        action: 'allow',
        code: 'default-allow-profile',
        reason: `${anyTier ? 'every tier passed; ' : 'no normal policy applies; '}profile ${c.profile} allows`,
      };
    }
    default: {
      if (pipeline[direction].normal.length > 0) return { action: 'deny', code: 'all-tiers-passed', reason: 'every tier passed and no profile allows: deny' };
      return {
        action: 'deny',
        code: 'no-policy',
        reason: `no normal policy applies to ${direction} and the HostEndpoint has no profile that allows: Calico's default deny`,
      };
    }
  }
}

function forwardVerdict(pipeline: EndpointPipeline, direction: Direction): ForwardVerdict {
  const d = pipeline[direction];
  const names = (groups: readonly TierGroup[]) => groups.flatMap((g) => g.policies.map((p) => p.name));
  const policies = [...new Set(direction === 'ingress' ? [...names(d.untracked), ...names(d.preDNAT), ...names(d.forward)] : names(d.forward))];
  const outcomes = walkEndpoint(pipeline, direction, 'forward', unmatchedOracle);
  const last = outcomes[outcomes.length - 1]!;
  const c = last.cause;
  const unmatched = last.verdict === 'allow' ? 'allow' : last.verdict === 'drop' ? 'deny' : 'no verdict';
  switch (c.kind) {
    case 'rule':
      return {
        policies,
        unmatched,
        decidedBy: c.ref.stage,
        reason: `${STAGE_WORD[c.ref.stage]} policy ${c.ref.policy} (tier ${c.ref.tier}) ${last.verdict === 'allow' ? 'allows' : 'denies'} everything that reaches it${c.ref.stage === 'preDNAT' || c.ref.stage === 'untracked' ? `, before any applyOnForward policy` : ''}`,
      };
    case 'end-of-tier':
      return {
        policies,
        unmatched,
        decidedBy: c.stage,
        reason: `end of tier ${c.tier} (forwarded traffic): ${c.policies.join(', ')} select this endpoint but no rule matched`,
      };
    case 'forward-default':
      return { policies, unmatched, decidedBy: 'default', reason: 'no applyOnForward policy applies: forwarded traffic is allowed' };
    default:
      return { policies, unmatched, decidedBy: 'forward', reason: 'every tier passed; profiles do not apply to forwarded traffic' };
  }
}

function explainDirection(hep: HostEndpoint, pipeline: EndpointPipeline, direction: Direction): DirectionExplanation {
  const allInterfaces = hep.spec.interfaceName === '*';
  const ignored: { name: string; reason: string }[] = [];
  for (const p of pipeline.selecting) {
    if (!governs(p, direction)) continue;
    if (p.doNotTrack && allInterfaces) ignored.push({ name: p.name, reason: 'doNotTrack policy on an all-interfaces (*) HostEndpoint: Felix ignores it' });
  }
  const d = pipeline[direction];
  const ordered = [...d.untracked, ...d.preDNAT, ...d.normal].flatMap((g) => g.policies);
  const policies: AppliedPolicy[] = ordered
    .filter((p) => !(p.doNotTrack && allInterfaces))
    .map((p) => ({
      name: p.name,
      tier: p.tier,
      order: p.order ?? null,
      stage: stageOf(p),
      applyOnForward: p.applyOnForward,
      rules: rulesFor(p, direction).map(ruleSummary),
    }));
  const unmatched = verdictOf(walkEndpoint(pipeline, direction, 'host', unmatchedOracle), pipeline, direction);
  return { policies, ignored, unmatched, forward: forwardVerdict(pipeline, direction) };
}

/**
 * The pipeline Felix renders for the HEP. An all-interfaces (*) HEP gets no untracked chains
 * (doNotTrack policies are ignored there: endpoint_mgr.go renders raw chains per interface only).
 */
export function hostEndpointPipeline(hep: HostEndpoint, model: PolicyModel): EndpointPipeline {
  const pipeline = endpointPipeline(hep, model);
  if (hep.spec.interfaceName !== '*') return pipeline;
  const strip = (d: EndpointPipeline['ingress']) => ({ ...d, untracked: [] });
  return { ...pipeline, ingress: strip(pipeline.ingress), egress: strip(pipeline.egress) };
}

/** The explanation for one HEP against the model (enforced policies only). */
export function explainHostEndpoint(hep: HostEndpoint, model: PolicyModel): HostEndpointExplanation {
  const pipeline = hostEndpointPipeline(hep, model);
  return {
    name: hep.metadata.name,
    node: hep.spec.node,
    interfaceName: hep.spec.interfaceName ?? '',
    expectedIPs: hep.spec.expectedIPs ?? [],
    profiles: hep.spec.profiles ?? [],
    labels: hep.metadata.labels ?? {},
    defaultAllow: hasDefaultAllow(hep),
    ingress: explainDirection(hep, pipeline, 'ingress'),
    egress: explainDirection(hep, pipeline, 'egress'),
  };
}
