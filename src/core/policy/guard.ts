// The policy guard: before the agent writes a HostEndpoint in a way that changes which policies apply to
// it (a create, a label change, a profile change), it evaluates the cluster's tiers and
// GlobalNetworkPolicies for the interface before and after the write with Felix's model (felix.ts), per
// direction, per path (to/from the node, forwarded) and per stage. A write that would turn traffic
// Felix allows today into dropped traffic is held, with the policy (or profile) and the traffic named,
// unless the operator opted in to what drops it. Pure: the agent calls decidePolicyGuard once per
// pass and hands the held set to planReconcile.
//
// How "allowed today" is judged (sound for holding, not exact):
// - Today is the HEP the cluster has for the interface, or none: without a HostEndpoint Felix polices
//   nothing and every packet passes (felix.ts). A `*` HostEndpoint of the node is not consulted, so
//   the guard may hold a create that a `*` HEP already made restrictive: it errs towards holding.
// - For each possible drop after the write (a Deny rule, an end-of-tier drop, a profile that may deny,
//   "no profile allowed"), the same drop must exist today with no more traffic exempted before it
//   (every Allow/Pass rule that took traffic away from it today still does); otherwise it is new.
//   When nothing at all is allowed today on a path, nothing can be lost there.
// - Profiles other than projectcalico-default-allow are not read: they may deny.
import type { HostEndpoint } from '../model.ts';
import { anyGlob } from '../globs.ts';
import { failsafeFrom, formatPort, type FailsafeNode } from './failsafe.ts';
import {
  buildPolicyModel,
  causeKey,
  causePolicies,
  describeCause,
  describeFlow,
  DIRECTIONS,
  endpointPipeline,
  PATHS,
  refKey,
  walkEndpoint,
  type Cause,
  type FelixStage,
  type Outcome,
  type PolicyModel,
  type TrafficPath,
} from './felix.ts';
import { parsePolicy, parseTier, type Direction, type Policy } from './model.ts';
import { type CalicoVersion } from './order.ts';
import { summarizeRule } from './rules.ts';

/**
 * - `enforce-safe` (default): hold every write that would drop traffic allowed today, except drops owed
 *   to a policy the operator opted in (trustedPolicies globs, or the annotation
 *   `calico-hep-agent.io/policy-guard: trusted` on the GlobalNetworkPolicy).
 * - `require-policy`: every policy counts as opted in (global opt-in); still hold what no policy
 *   decides: a HEP left with no profile that allows and no policy for a direction. What the former
 *   `requirePolicy: true` promised, done the way Felix evaluates.
 * - `off`: no guard; writes as desired.
 */
export type PolicyGuardMode = 'enforce-safe' | 'require-policy' | 'off';
export const POLICY_GUARD_MODES: readonly PolicyGuardMode[] = ['enforce-safe', 'require-policy', 'off'];

export interface PolicyGuardConfig {
  readonly mode: PolicyGuardMode;
  /** Globs over GlobalNetworkPolicy names whose drops the operator accepts. */
  readonly trustedPolicies: readonly string[];
}

export const DEFAULT_POLICY_GUARD: PolicyGuardConfig = { mode: 'enforce-safe', trustedPolicies: [] };

/** Annotation on a GlobalNetworkPolicy opting it in: the guard lets it drop traffic on our HEPs. */
export const TRUST_ANNOTATION = 'calico-hep-agent.io/policy-guard';
export const TRUST_ANNOTATION_VALUE = 'trusted';

/**
 * The Calico objects the guard reads, as listed from the cluster (plain v3 objects). A field is
 * `undefined` until its first list has completed; the guard holds every write until GNPs and Tiers
 * are known (FelixConfigurations only name the failsafe ports in messages).
 */
export interface PolicySnapshot {
  readonly globalNetworkPolicies: readonly unknown[] | undefined;
  /** `[]` when the cluster serves no Tier resource (Calico < 3.30): the built-in tiers apply. */
  readonly tiers: readonly unknown[] | undefined;
  readonly felixConfigurations: readonly unknown[] | undefined;
}

export interface GuardInput {
  /** The HEPs the agent wants (this node's). */
  readonly desired: readonly HostEndpoint[];
  /** The HEPs the cluster has for this node: managed ones and any others found for its interfaces. */
  readonly current: readonly HostEndpoint[];
  /** `undefined` while not yet listed. */
  readonly snapshot: PolicySnapshot | undefined;
  readonly config: PolicyGuardConfig;
  /** The node (labels for selector-scoped FelixConfigurations), for the failsafe ports in messages. */
  readonly node?: FailsafeNode | undefined;
  readonly calicoVersion?: CalicoVersion | undefined;
}

/** One flow that would go from allowed to dropped. */
export interface Regression {
  readonly path: TrafficPath;
  readonly direction: Direction;
  readonly stage: FelixStage | 'profiles';
  readonly cause: Cause;
  /** The policies the drop is owed to ([] for profiles and "no profile allowed"). */
  readonly policies: readonly string[];
  /** The flow in words: which direction, which traffic, what still gets through. */
  readonly traffic: string;
  /** `<traffic>: dropped by <cause>`. */
  readonly text: string;
}

export type HoldReason = 'policies-unknown' | 'would-drop';

export interface HeldWrite {
  /** The desired HEP's name. */
  readonly name: string;
  readonly interfaceName: string;
  readonly write: 'create' | 'update';
  readonly reason: HoldReason;
  readonly regressions: readonly Regression[];
  /** The policies named in the regressions, each once, in order. */
  readonly policies: readonly string[];
  /** One line for logs, drift and the Node Event: the HEP, the write, the first policy and traffic. */
  readonly message: string;
}

export interface GuardDecision {
  /** Held writes by desired HEP name. */
  readonly held: ReadonlyMap<string, HeldWrite>;
  /** The model the decision used; `undefined` while policies are unknown or with mode off. */
  readonly model: PolicyModel | undefined;
}

const NO_HOLDS: GuardDecision = { held: new Map(), model: undefined };

function labelsEqual(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  const x = a ?? {};
  const y = b ?? {};
  const kx = Object.keys(x);
  if (kx.length !== Object.keys(y).length) return false;
  return kx.every((k) => Object.hasOwn(y, k) && x[k] === y[k]);
}

function profilesEqual(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  // Order matters: Felix evaluates profiles in order.
  const x = a ?? [];
  const y = b ?? [];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** True when a write from `current` to `desired` can change what Felix applies to the interface. */
export function changesPolicy(current: HostEndpoint | undefined, desired: HostEndpoint): boolean {
  if (current === undefined) return true;
  return !labelsEqual(current.metadata.labels, desired.metadata.labels) || !profilesEqual(current.spec?.profiles, desired.spec.profiles);
}

/** The HEP the cluster has for the desired one: same name, else the first by name for the same node and interface. */
export function currentFor(desired: HostEndpoint, current: readonly HostEndpoint[]): HostEndpoint | undefined {
  const same = current.find((h) => h.metadata.name === desired.metadata.name);
  if (same !== undefined) return same;
  const iface = current
    .filter((h) => h.spec?.node === desired.spec.node && h.spec?.interfaceName === desired.spec.interfaceName)
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  return iface[0];
}

/** Parses the snapshot into the model; `undefined` while GNPs or Tiers are not yet listed. */
export function modelFromSnapshot(snapshot: PolicySnapshot | undefined, version?: CalicoVersion): { model: PolicyModel; policies: Policy[] } | undefined {
  if (snapshot === undefined || snapshot.globalNetworkPolicies === undefined || snapshot.tiers === undefined) return undefined;
  const policies = snapshot.globalNetworkPolicies.map((o) => parsePolicy(o as never, 'cluster', { types: 'felix' }));
  const tiers = snapshot.tiers.filter((t) => typeof (t as { metadata?: { name?: unknown } }).metadata?.name === 'string').map((t) => parseTier(t as never));
  return { model: buildPolicyModel(policies, tiers, version), policies };
}

/** True when the drop `after` already happens today to at least the same traffic (see the file comment). */
function covered(after: Outcome, before: readonly Outcome[]): boolean {
  const key = causeKey(after.cause);
  const exempt = new Set(after.exemptions.map(refKey));
  return before.some((b) => b.verdict === 'drop' && causeKey(b.cause) === key && b.exemptions.every((e) => exempt.has(refKey(e))));
}

function stageOf(cause: Cause): FelixStage | 'profiles' {
  if (cause.kind === 'rule') return cause.ref.stage;
  if (cause.kind === 'end-of-tier') return cause.stage;
  return 'profiles';
}

function trafficText(o: Outcome, interfaceName: string, failsafe: string | undefined): string {
  const flow = describeFlow(o.path, o.direction, interfaceName);
  const what = o.cause.kind === 'rule' ? `traffic matching "${summarizeRule(o.cause.ref.rule)}"` : 'all traffic';
  const exempt =
    o.exemptions.length > 0
      ? ` except what ${o.exemptions.map((e) => `${e.policy} rule ${e.index + 1} (${summarizeRule(e.rule)})`).join(', ')} take${o.exemptions.length === 1 ? 's' : ''} first`
      : '';
  const open = o.path === 'host' && failsafe !== undefined ? `; failsafe ports stay open (${failsafe})` : '';
  return `${flow}: ${what}${exempt}${open}`;
}

/**
 * The flows a write from `current` (undefined: no HEP) to `desired` would turn from allowed to
 * dropped, in evaluation order, each with what drops it.
 */
export function regressions(
  current: HostEndpoint | undefined,
  desired: HostEndpoint,
  model: PolicyModel,
  failsafe?: { inbound: string; outbound: string },
): Regression[] {
  const before = endpointPipeline(current, model);
  const after = endpointPipeline(desired, model);
  const iface = desired.spec.interfaceName ?? '';
  const out: Regression[] = [];
  for (const path of PATHS) {
    for (const direction of DIRECTIONS) {
      const was = walkEndpoint(before, direction, path);
      if (!was.some((o) => o.verdict !== 'drop')) continue; // nothing allowed today: nothing to lose
      for (const o of walkEndpoint(after, direction, path)) {
        if (o.verdict !== 'drop' || covered(o, was)) continue;
        const traffic = trafficText(o, iface, failsafe === undefined ? undefined : direction === 'ingress' ? failsafe.inbound : failsafe.outbound);
        out.push({
          path,
          direction,
          stage: stageOf(o.cause),
          cause: o.cause,
          policies: causePolicies(o.cause),
          traffic,
          text: `${traffic}: dropped by ${describeCause(o.cause)}`,
        });
      }
    }
  }
  return out;
}

/** A regression the operator opted in to: owed to a trusted policy (any one of a tier's, for an end-of-tier drop). */
function accepted(r: Regression, config: PolicyGuardConfig, trusted: (name: string) => boolean): boolean {
  if (r.policies.length === 0) return false; // profiles and "no profile allowed": no policy to opt in
  if (config.mode === 'require-policy') return true;
  return r.policies.some(trusted);
}

/**
 * Decides which desired writes are held. Deletes are never held (a deleted HEP polices nothing); nor
 * are updates that change neither labels nor profiles.
 */
export function decidePolicyGuard(input: GuardInput): GuardDecision {
  const { config } = input;
  if (config.mode === 'off') return NO_HOLDS;
  const writes = input.desired.map((want) => ({ want, have: currentFor(want, input.current) })).filter(({ want, have }) => changesPolicy(have, want));
  if (writes.length === 0) return NO_HOLDS;

  const parsed = modelFromSnapshot(input.snapshot, input.calicoVersion);
  const held = new Map<string, HeldWrite>();
  if (parsed === undefined) {
    for (const { want, have } of writes) {
      const write = have === undefined ? 'create' : 'update';
      held.set(want.metadata.name, {
        name: want.metadata.name,
        interfaceName: want.spec.interfaceName ?? '',
        write,
        reason: 'policies-unknown',
        regressions: [],
        policies: [],
        message: `HostEndpoint ${want.metadata.name} not ${write}d yet: the policy guard holds writes until GlobalNetworkPolicies and Tiers have been listed`,
      });
    }
    return { held, model: undefined };
  }

  const { model, policies } = parsed;
  const globs = anyGlob(config.trustedPolicies);
  const annotated = new Set(policies.filter((p) => p.annotations[TRUST_ANNOTATION] === TRUST_ANNOTATION_VALUE).map((p) => p.name));
  const trusted = (name: string): boolean => annotated.has(name) || globs(name);
  let failsafe: { inbound: string; outbound: string } | undefined;
  if (input.snapshot?.felixConfigurations !== undefined) {
    const fs = failsafeFrom(input.snapshot.felixConfigurations as never, input.node);
    failsafe = { inbound: fs.inbound.map(formatPort).join(', ') || 'none', outbound: fs.outbound.map(formatPort).join(', ') || 'none' };
  }

  for (const { want, have } of writes) {
    const found = regressions(have, want, model, failsafe).filter((r) => !accepted(r, config, trusted));
    if (found.length === 0) continue;
    const write = have === undefined ? 'create' : 'update';
    const named = [...new Set(found.flatMap((r) => r.policies))];
    const first = found[0]!;
    const more = found.length > 1 ? ` (and ${found.length - 1} more)` : '';
    held.set(want.metadata.name, {
      name: want.metadata.name,
      interfaceName: want.spec.interfaceName ?? '',
      write,
      reason: 'would-drop',
      regressions: found,
      policies: named,
      message: `HostEndpoint ${want.metadata.name} not ${write}d: ${first.text}${more}; ${
        named.length > 0
          ? `opt in to ${named.join(', ')} (policyGuard) or change the policies`
          : 'no policy to opt in: write policies for it or keep a profile that allows'
      }`,
    });
  }
  return { held, model };
}
