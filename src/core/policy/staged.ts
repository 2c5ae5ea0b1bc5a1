// StagedGlobalNetworkPolicies: what each would change if enforced. Felix never enforces a staged
// policy (felix/rules/endpoints.go skips model.KindIsStaged); enforcing one replaces the
// GlobalNetworkPolicy of the same name with its spec (api/pkg/apis/projectcalico/v3/
// stagedglobalnetworkpolicy.go ConvertStagedGlobalPolicyToEnforced), or deletes that policy when its
// stagedAction is Delete. So the effect of enforcing staged policy S is the difference, per
// HostEndpoint, direction and path, between the Felix model (felix.ts) of today's enforced policies
// and the model where S has taken the place of its namesake. Pure.
import type { HostEndpoint } from '../model.ts';
import { hostEndpointPipeline } from './explain.ts';
import type { Failsafe } from './failsafe.ts';
import {
  buildPolicyModel,
  causeKey,
  describeCause,
  describeFlow,
  DIRECTIONS,
  PATHS,
  refKey,
  walkEndpoint,
  type Outcome,
  type PolicyModel,
  type TrafficPath,
} from './felix.ts';
import { lockoutFindings, policyRejections, type Finding, type ValidationProblem } from './lint.ts';
import { selectsLabels, type Direction, type Policy, type Tier } from './model.ts';

export interface StagedChange {
  readonly hostEndpoint: string;
  readonly path: TrafficPath;
  readonly direction: Direction;
  readonly change: 'newly-dropped' | 'newly-allowed';
  readonly text: string;
}

export interface StagedEffect {
  readonly name: string;
  /** `Set` (default), `Delete`, or what was written (`Learn`, `Ignore` change nothing). */
  readonly stagedAction: string;
  /** The enforced GlobalNetworkPolicy it would replace (or delete), if one exists. */
  readonly replaces: string | undefined;
  /** HostEndpoints examined that the staged policy selects. */
  readonly selects: readonly string[];
  /** Why Calico would refuse it (then enforcing it fails and changes nothing). */
  readonly rejections: readonly ValidationProblem[];
  readonly changes: readonly StagedChange[];
  /** Lockout findings enforcing it would add (a port of a HostEndpoint not closed today). */
  readonly lockouts: readonly Finding[];
  /** Lockouts of today it would end or soften: `kubelet-closed on n1-eth0: error -> warning`, `... -> open`. */
  readonly resolves: readonly string[];
}

function stagedActionOf(p: Policy): string {
  const spec = (p.raw as { spec?: { stagedAction?: unknown } } | undefined)?.spec;
  return typeof spec?.stagedAction === 'string' && spec.stagedAction !== '' ? spec.stagedAction : 'Set';
}

/**
 * Outcomes of `verdict` in `after` whose traffic did not get that verdict today: not when today has
 * the same cause with no more exemptions, nor when today's walk ends with that verdict and everything
 * it let out earlier is among the new outcome's exemptions (then the same traffic met it anyway).
 */
function changed(before: readonly Outcome[], after: readonly Outcome[], verdict: 'drop' | 'allow'): Outcome[] {
  const last = before[before.length - 1];
  return after.filter((o) => {
    if (o.verdict !== verdict) return false;
    const key = causeKey(o.cause);
    const exempt = new Set(o.exemptions.map(refKey));
    if (before.some((b) => b.verdict === verdict && causeKey(b.cause) === key && b.exemptions.every((e) => exempt.has(refKey(e))))) return false;
    if (last !== undefined && last.verdict === verdict) {
      const earlier = before.slice(0, -1).filter((b) => b.verdict !== verdict);
      if (earlier.every((b) => b.cause.kind === 'rule' && exempt.has(refKey(b.cause.ref)))) return false;
    }
    return true;
  });
}

function diff(hep: HostEndpoint, m0: PolicyModel, m1: PolicyModel): StagedChange[] {
  const p0 = hostEndpointPipeline(hep, m0);
  const p1 = hostEndpointPipeline(hep, m1);
  const iface = hep.spec.interfaceName ?? '';
  const out: StagedChange[] = [];
  for (const path of PATHS) {
    for (const direction of DIRECTIONS) {
      const was = walkEndpoint(p0, direction, path);
      const will = walkEndpoint(p1, direction, path);
      const flow = describeFlow(path, direction, iface);
      for (const o of changed(was, will, 'drop')) {
        const what = o.cause.kind === 'rule' ? 'traffic that rule matches' : 'all traffic';
        const exempt = o.exemptions.length > 0 ? ` (except what ${o.exemptions.map((e) => `${e.policy} rule ${e.index + 1}`).join(', ')} take first)` : '';
        out.push({
          hostEndpoint: hep.metadata.name,
          path,
          direction,
          change: 'newly-dropped',
          text: `${flow}: ${what}${exempt} would be dropped by ${describeCause(o.cause)}`,
        });
      }
      if (!was.some((o) => o.verdict === 'drop')) continue; // nothing dropped today: nothing to open
      for (const o of changed(was, will, 'allow')) {
        out.push({
          hostEndpoint: hep.metadata.name,
          path,
          direction,
          change: 'newly-allowed',
          text: `${flow}: would be allowed by ${describeCause(o.cause)}${o.certain ? '' : ' (for the traffic it matches)'}`,
        });
      }
    }
  }
  return out;
}

export interface StagedInput {
  /** Every policy read (enforced and staged); the staged ones are analysed. */
  readonly policies: readonly Policy[];
  readonly tiers: readonly Tier[];
  readonly hostEndpoints: readonly HostEndpoint[];
  readonly failsafe: Failsafe;
  readonly agentPort?: number;
  readonly clusterFacing?: ReadonlySet<string>;
}

/** What enforcing each staged policy would change, one at a time, against today's enforced policies. */
export function stagedEffects(input: StagedInput): StagedEffect[] {
  const accepted = (p: Policy) => policyRejections(p).length === 0;
  const enforced = input.policies.filter((p) => !p.kind.startsWith('Staged') && accepted(p));
  const staged = input.policies.filter((p) => p.kind === 'StagedGlobalNetworkPolicy');
  const m0 = buildPolicyModel(enforced, input.tiers);
  const lockKey = (f: Finding) => `${f.code} on ${f.hostEndpoint ?? ''}`;
  const today = lockoutFindings(m0, input.hostEndpoints, input.failsafe, input.agentPort, input.clusterFacing);
  const before = new Map(today.map((f) => [lockKey(f), f.severity]));
  return staged.map((s) => {
    const action = stagedActionOf(s);
    const rejections = action === 'Delete' ? [] : policyRejections(s);
    const namesake = enforced.find((p) => p.name === s.name);
    // A Delete carries no spec: what it touches is what the policy it deletes selects.
    const selector = action === 'Delete' ? namesake : s;
    const selects =
      selector === undefined ? [] : input.hostEndpoints.filter((h) => selectsLabels(selector, h.metadata.labels ?? {})).map((h) => h.metadata.name);
    const base = { name: s.name, stagedAction: action, replaces: namesake?.name, selects, rejections };
    if (rejections.length > 0 || action === 'Learn' || action === 'Ignore') return { ...base, changes: [], lockouts: [], resolves: [] };
    const rest = enforced.filter((p) => p.name !== s.name);
    const next = action === 'Delete' ? rest : [...rest, { ...s, kind: 'GlobalNetworkPolicy' }];
    const m1 = buildPolicyModel(next, input.tiers);
    const changes = input.hostEndpoints.flatMap((h) => diff(h, m0, m1));
    const next1 = lockoutFindings(m1, input.hostEndpoints, input.failsafe, input.agentPort, input.clusterFacing);
    const after = new Map(next1.map((f) => [lockKey(f), f.severity]));
    const lockouts = next1.filter((f) => !before.has(lockKey(f)) || (before.get(lockKey(f)) === 'warning' && f.severity === 'error'));
    const resolves = [...before.entries()]
      .filter(([k, sev]) => after.get(k) !== sev && !(sev === 'warning' && after.get(k) === 'error'))
      .map(([k, sev]) => `${k}: ${sev} -> ${after.get(k) ?? 'open'}`);
    return { ...base, changes, lockouts, resolves };
  });
}
