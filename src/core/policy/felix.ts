// One model of how Felix (Calico's per-node agent, iptables/nftables dataplane) evaluates a packet on a
// HostEndpoint, shared by the agent's policy guard (guard.ts) and by `explain`/lint. Pure: no I/O.
// Target: Calico 3.32 (order.ts CALICO_MODEL_VERSION); 3.31 differs only in the order tie-break.
//
// Facts, each read in projectcalico/calico at v3.31.6 and v3.32.1 (see /work/shared/calico/FELIX-FACTS.md):
// - Which policies apply: Felix's selector for a GNP (felix-selector.ts; namespaceSelector /
//   serviceAccountSelector prefixed, `all()` rewritten) matched against the HEP's labels; types absent
//   = Ingress+Egress (felix/calc/policy_sorter.go ExtractPolicyMetadata). Staged policies never
//   enforce (felix/rules/endpoints.go skips model.KindIsStaged).
// - Stages (felix/calc/event_sequencer.go tierInfoToProtoTierInfo): a doNotTrack policy goes to the
//   untracked tiers (ingress and egress), a preDNAT policy to the preDNAT tiers (ingress only:
//   egressAllowed=false), any other policy to the normal tiers and, with applyOnForward, also to the
//   forward tiers. Untracked and preDNAT tiers get DefaultAction Pass ("to make sure policies in the
//   normal tier are also checked"); normal and forward tiers keep the Tier's default action.
// - A chain (felix/rules/endpoints.go endpointIptablesChain): tiers in order; a tier is rendered for a
//   direction only when some policy in it governs that direction; policies in order, rules in order;
//   Allow sets the accept mark and returns, Deny drops, Pass skips the rest of the tier; at the end of
//   a normal or forward tier, a packet nothing passed is dropped unless the tier's default action is
//   Pass ("End of tier ... if no policies passed packet"). Normal chains then jump to each profile in
//   order and return on the first accept, then drop ("if no profiles matched"). Forward chains have no
//   profiles; when the endpoint has no forward tiers at all, forwarded traffic is allowed ("Allow
//   forwarded traffic by default"); when every forward tier passed, the chain returns with no verdict
//   and the packet continues through the rest of the FORWARD chain.
// - Across tables (felix/rules/static.go): raw PREROUTING/OUTPUT run the untracked chains and accept a
//   packet they allowed (NOTRACK); mangle PREROUTING runs the preDNAT chains; filter INPUT accepts a
//   packet already accepted in raw or mangle before the normal HEP chain (acceptAlreadyAccepted);
//   filter FORWARD skips the incoming HEP's forward chain when the accept mark is set (allowed by an
//   untracked or preDNAT policy) but always runs the outgoing HEP's forward chain.
// - An interface without any HostEndpoint is not policed by Felix at all: everything passes.
// - Failsafe ports (failsafe.ts) are accepted before any of this in the host chains; the caller decides
//   whether to model them (the walk takes an optional failsafe oracle).
import type { HostEndpoint } from '../model.ts';
import { DEFAULT_ALLOW_PROFILE, governs, rulesFor, selectsLabels, type Direction, type Policy, type Rule, type Tier } from './model.ts';
import { CALICO_MODEL_VERSION, sortPolicies, tierTable, type CalicoVersion } from './order.ts';
import { isCatchAll, summarizeRule } from './rules.ts';

export type FelixStage = 'untracked' | 'preDNAT' | 'normal' | 'forward';
/** `host`: traffic to or from the node itself; `forward`: traffic routed through the interface. */
export type TrafficPath = 'host' | 'forward';

export const DIRECTIONS: readonly Direction[] = ['ingress', 'egress'];
export const PATHS: readonly TrafficPath[] = ['host', 'forward'];

/** The cluster's enforced policies and tiers, ready to evaluate any HostEndpoint against. */
export interface PolicyModel {
  readonly version: CalicoVersion;
  readonly tiers: ReadonlyMap<string, Tier>;
  /** Enforced policies (staged ones left out) in Felix's evaluation order. */
  readonly policies: readonly Policy[];
}

/** True for kinds Felix never enforces (StagedGlobalNetworkPolicy, ...): model.KindIsStaged. */
export function isStagedKind(kind: string): boolean {
  return kind.startsWith('Staged');
}

export function buildPolicyModel(policies: readonly Policy[], tiers: readonly Tier[], version: CalicoVersion = CALICO_MODEL_VERSION): PolicyModel {
  const enforced = policies.filter((p) => !isStagedKind(p.kind));
  const table = tierTable(tiers, enforced);
  return { version, tiers: table, policies: sortPolicies(enforced, table, version) };
}

/** One tier as rendered into one chain: the policies that govern the chain's direction, in order. */
export interface TierGroup {
  readonly tier: string;
  /** What a packet no policy decided meets at the end of the tier in this chain. */
  readonly endOfTier: 'drop' | 'pass';
  readonly policies: readonly Policy[];
}

export interface DirectionPipeline {
  readonly untracked: readonly TierGroup[];
  /** Always empty for egress: preDNAT policies are ingress only. */
  readonly preDNAT: readonly TierGroup[];
  readonly normal: readonly TierGroup[];
  readonly forward: readonly TierGroup[];
}

/** Everything Felix renders for one HostEndpoint (or for an interface without one). */
export interface EndpointPipeline {
  /** `undefined`: no HostEndpoint; Felix does not police the interface. */
  readonly hostEndpoint: HostEndpoint | undefined;
  readonly profiles: readonly string[];
  readonly ingress: DirectionPipeline;
  readonly egress: DirectionPipeline;
  /** Some forward tier exists (either direction); without one, forwarded traffic is allowed both ways. */
  readonly hasForwardTiers: boolean;
  /** Policies whose selector matches the endpoint, any stage or direction, in evaluation order. */
  readonly selecting: readonly Policy[];
}

const EMPTY: DirectionPipeline = { untracked: [], preDNAT: [], normal: [], forward: [] };

function stageOfPolicy(p: Policy): 'untracked' | 'preDNAT' | 'normal' {
  // tierInfoToProtoTierInfo: DoNotTrack first, then PreDNAT, else normal.
  return p.doNotTrack ? 'untracked' : p.preDNAT ? 'preDNAT' : 'normal';
}

/** The chains Felix renders for `hep` (undefined: an interface without a HostEndpoint). */
export function endpointPipeline(hep: HostEndpoint | undefined, model: PolicyModel): EndpointPipeline {
  if (hep === undefined) return { hostEndpoint: undefined, profiles: [], ingress: EMPTY, egress: EMPTY, hasForwardTiers: false, selecting: [] };
  const labels = hep.metadata.labels ?? {};
  const selecting = model.policies.filter((p) => selectsLabels(p, labels));
  const build = (direction: Direction): DirectionPipeline => {
    const groups: Record<FelixStage, TierGroup[]> = { untracked: [], preDNAT: [], normal: [], forward: [] };
    const add = (stage: FelixStage, p: Policy): void => {
      const list = groups[stage];
      let last = list[list.length - 1];
      if (last === undefined || last.tier !== p.tier) {
        const tier = model.tiers.get(p.tier);
        const passes = stage === 'untracked' || stage === 'preDNAT' || tier?.defaultAction === 'Pass';
        last = { tier: p.tier, endOfTier: passes ? 'pass' : 'drop', policies: [] };
        list.push(last);
      }
      (last.policies as Policy[]).push(p);
    };
    for (const p of selecting) {
      if (!governs(p, direction)) continue;
      const stage = stageOfPolicy(p);
      if (stage === 'preDNAT' && direction === 'egress') continue;
      add(stage, p);
      if (stage === 'normal' && p.applyOnForward) add('forward', p);
    }
    return groups;
  };
  const ingress = build('ingress');
  const egress = build('egress');
  return {
    hostEndpoint: hep,
    profiles: hep.spec.profiles ?? [],
    ingress,
    egress,
    hasForwardTiers: ingress.forward.length > 0 || egress.forward.length > 0,
    selecting,
  };
}

/** One rule of one policy in one chain. */
export interface RuleRef {
  readonly policy: string;
  readonly tier: string;
  readonly stage: FelixStage;
  readonly direction: Direction;
  /** 0-based index in the policy's rules for this direction. */
  readonly index: number;
  readonly rule: Rule;
}

/** What decided (or may decide) a packet. */
export type Cause =
  | { readonly kind: 'rule'; readonly ref: RuleRef }
  | { readonly kind: 'end-of-tier'; readonly stage: FelixStage; readonly tier: string; readonly policies: readonly string[] }
  | { readonly kind: 'profile'; readonly profile: string }
  | { readonly kind: 'no-profile-allowed'; readonly profiles: readonly string[] }
  | { readonly kind: 'failsafe' }
  | { readonly kind: 'no-host-endpoint' }
  | { readonly kind: 'forward-default' }
  | { readonly kind: 'forward-undecided' };

export interface Outcome {
  /** `undecided`: Calico returns the packet to the rest of the FORWARD chain without a verdict. */
  readonly verdict: 'allow' | 'drop' | 'undecided';
  readonly path: TrafficPath;
  readonly direction: Direction;
  readonly cause: Cause;
  /** True when every packet reaching this point gets this verdict and nothing uncertain came before. */
  readonly certain: boolean;
  /** Allow and Pass rules before this point that may take some traffic away from it. */
  readonly exemptions: readonly RuleRef[];
}

export type RuleMatch = 'yes' | 'no' | 'maybe';

/**
 * Answers "does the packet match?" for the walk. For one packet (explain --packet) every answer is
 * yes or no; for all traffic at once (the guard) `symbolicOracle` answers yes for rules without
 * match criteria and maybe for the rest.
 */
export interface Oracle {
  rule(ref: RuleRef): RuleMatch;
  /** A profile's verdict; default: projectcalico-default-allow allows, any other is `unknown`. */
  profile?(name: string, direction: Direction): 'allow' | 'deny' | 'none' | 'unknown';
  /** Does the packet hit a failsafe port? Default: not modelled ('no'). */
  failsafe?(direction: Direction): RuleMatch;
}

export const symbolicOracle: Oracle = {
  rule: (ref) => (isCatchAll(ref.rule) ? 'yes' : 'maybe'),
};

function profileVerdict(oracle: Oracle, name: string, direction: Direction): 'allow' | 'deny' | 'none' | 'unknown' {
  const v = oracle.profile?.(name, direction);
  if (v !== undefined) return v;
  return name === DEFAULT_ALLOW_PROFILE ? 'allow' : 'unknown';
}

/**
 * Every way a packet in `direction` on `path` can end, in evaluation order. With a yes/no oracle the
 * list ends with the one verdict the packet gets (earlier entries never exist then: the walk stops at
 * the first certain outcome); with maybes it lists each possible verdict and what may take traffic
 * away before it.
 */
export function walkEndpoint(pipeline: EndpointPipeline, direction: Direction, path: TrafficPath, oracle: Oracle = symbolicOracle): Outcome[] {
  const out: Outcome[] = [];
  const exemptions: RuleRef[] = [];
  let uncertain = false;
  const push = (verdict: Outcome['verdict'], cause: Cause, certainHere: boolean): void => {
    out.push({ verdict, path, direction, cause, certain: certainHere && !uncertain, exemptions: [...exemptions] });
  };
  if (pipeline.hostEndpoint === undefined) {
    push('allow', { kind: 'no-host-endpoint' }, true);
    return out;
  }
  if (path === 'host' && oracle.failsafe !== undefined) {
    const m = oracle.failsafe(direction);
    if (m !== 'no') {
      push('allow', { kind: 'failsafe' }, m === 'yes');
      if (m === 'yes') return out;
      uncertain = true;
    }
  }
  const d = pipeline[direction];
  const stages: [FelixStage, readonly TierGroup[]][] =
    path === 'host'
      ? [
          ['untracked', d.untracked],
          ['preDNAT', d.preDNAT],
          ['normal', d.normal],
        ]
      : direction === 'ingress'
        ? [
            ['untracked', d.untracked],
            ['preDNAT', d.preDNAT],
            ['forward', d.forward],
          ]
        : [['forward', d.forward]];

  for (const [stage, groups] of stages) {
    for (const group of groups) {
      let passedAll = false;
      let mayPass = false;
      /** A rule decided what no earlier Pass may have taken: only the passed traffic goes on. */
      let decidedRest = false;
      policies: for (const policy of group.policies) {
        const rules = rulesFor(policy, direction);
        for (let index = 0; index < rules.length; index++) {
          const rule = rules[index]!;
          if (rule.action !== 'Allow' && rule.action !== 'Deny' && rule.action !== 'Pass') continue; // Log decides nothing
          const ref: RuleRef = { policy: policy.name, tier: group.tier, stage, direction, index, rule };
          const m = oracle.rule(ref);
          if (m === 'no') continue;
          if (rule.action === 'Allow') push('allow', { kind: 'rule', ref }, m === 'yes');
          else if (rule.action === 'Deny') push('drop', { kind: 'rule', ref }, m === 'yes');
          if (m === 'yes') {
            if (rule.action === 'Pass') {
              passedAll = true;
              break policies;
            }
            if (!mayPass) return out;
            // Traffic an earlier rule may have passed skipped the rest of this tier, this rule included:
            // it goes on to the next tier (and the profiles), so the walk does too.
            decidedRest = true;
            break policies;
          }
          if (rule.action !== 'Deny') exemptions.push(ref);
          if (rule.action === 'Pass') mayPass = true;
          uncertain = true;
        }
      }
      if (passedAll || decidedRest || group.endOfTier === 'pass') continue;
      push('drop', { kind: 'end-of-tier', stage, tier: group.tier, policies: group.policies.map((p) => p.name) }, true);
      if (!mayPass) return out;
      uncertain = true;
    }
  }

  if (path === 'forward') {
    if (!pipeline.hasForwardTiers) push('allow', { kind: 'forward-default' }, true);
    else push('undecided', { kind: 'forward-undecided' }, true);
    return out;
  }
  for (const profile of pipeline.profiles) {
    const v = profileVerdict(oracle, profile, direction);
    if (v === 'none') continue;
    if (v === 'allow' || v === 'deny') {
      push(v === 'allow' ? 'allow' : 'drop', { kind: 'profile', profile }, true);
      return out;
    }
    push('allow', { kind: 'profile', profile }, false);
    push('drop', { kind: 'profile', profile }, false);
    uncertain = true;
  }
  push('drop', { kind: 'no-profile-allowed', profiles: pipeline.profiles }, true);
  return out;
}

/** The policies a drop is owed to: the denying policy, or every policy of the tier that ended with a drop. */
export function causePolicies(cause: Cause): readonly string[] {
  if (cause.kind === 'rule') return [cause.ref.policy];
  if (cause.kind === 'end-of-tier') return cause.policies;
  return [];
}

/** A stable identity for a cause, equal for the same rule / tier end / profile across two HEP states. */
export function causeKey(cause: Cause): string {
  switch (cause.kind) {
    case 'rule':
      return `rule/${refKey(cause.ref)}`;
    case 'end-of-tier':
      return `end-of-tier/${cause.stage}/${cause.tier}`;
    case 'profile':
      return `profile/${cause.profile}`;
    default:
      return cause.kind;
  }
}

export function refKey(ref: RuleRef): string {
  return `${ref.stage}/${ref.direction}/${ref.tier}/${ref.policy}/${ref.index}`;
}

/** The cause in words: `policy deny-all (tier default) ingress rule 1 (Deny tcp to ports 22)`. */
export function describeCause(cause: Cause): string {
  switch (cause.kind) {
    case 'rule': {
      const r = cause.ref;
      const stage = r.stage === 'normal' ? '' : `${r.stage === 'untracked' ? 'doNotTrack' : r.stage === 'forward' ? 'applyOnForward' : 'preDNAT'} `;
      return `${stage}policy ${r.policy} (tier ${r.tier}) ${r.direction} rule ${r.index + 1} (${summarizeRule(r.rule)})`;
    }
    case 'end-of-tier':
      return `the end of tier ${cause.tier}${cause.stage === 'forward' ? ' (forwarded traffic)' : ''}: ${cause.policies.length === 1 ? 'policy' : 'policies'} ${cause.policies.join(', ')} select${cause.policies.length === 1 ? 's' : ''} the HostEndpoint and no rule matched`;
    case 'profile':
      return `profile ${cause.profile}${cause.profile === DEFAULT_ALLOW_PROFILE ? '' : ' (its rules are not evaluated here: it may deny)'}`;
    case 'no-profile-allowed':
      return cause.profiles.length === 0
        ? `no policy decided and the HostEndpoint has no profile (Calico's default deny)`
        : `no policy decided and no profile (${cause.profiles.join(', ')}) allowed`;
    case 'failsafe':
      return 'a failsafe port';
    case 'no-host-endpoint':
      return 'no HostEndpoint: Felix does not police the interface';
    case 'forward-default':
      return 'no applyOnForward policy applies: forwarded traffic is allowed';
    case 'forward-undecided':
      return 'every forward tier passed: Calico leaves the packet to the rest of the FORWARD chain';
  }
}

/** Which traffic a path and direction is, on an interface: `ingress to the node on eth0`. */
export function describeFlow(path: TrafficPath, direction: Direction, interfaceName: string): string {
  if (path === 'host') return direction === 'ingress' ? `ingress to the node on ${interfaceName}` : `egress from the node via ${interfaceName}`;
  return direction === 'ingress' ? `traffic forwarded in from ${interfaceName}` : `traffic forwarded out via ${interfaceName}`;
}
