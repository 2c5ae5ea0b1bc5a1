// Lint: the ways a set of GlobalNetworkPolicies and HostEndpoints locks a node out, fails open, or is
// rejected or ignored by Calico. Errors make `explain` exit 1; warnings do not.
import { labelKeyError, labelValueError } from '../k8s-names.ts';
import type { HostEndpoint } from '../model.ts';
import { parseSelector } from '../selector/index.ts';
import { CALICO_SOURCES, validatePolicyObject, type ValidationCode, type ValidationProblem } from './calico-validation.ts';
import type { HostEndpointExplanation } from './explain.ts';
import { formatPort, type Failsafe } from './failsafe.ts';
import { DEFAULT_ALLOW_PROFILE, governs, rulesFor, selectsLabels, type Policy, type Rule } from './model.ts';
import { describeCause, type PolicyModel } from './felix.ts';
import { summarizeRule } from './rules.ts';
import { hostEndpointPipeline } from './explain.ts';
import { packetVerdict } from './packet.ts';

export type Severity = 'error' | 'warning';

export { CALICO_SOURCES, MAX_SELECTOR_LENGTH, validatePolicyObject, type ValidationCode, type ValidationProblem } from './calico-validation.ts';

export type FindingCode =
  /** What Calico's API rejects (calico-validation.ts): the policy is never enforced. */
  | ValidationCode
  | 'no-policy'
  | 'deny-all-endpoints'
  /** A selector-less normal policy with only Allow rules: the end of its tier drops the rest everywhere. */
  | 'allow-only-select-all'
  /** `types` not written: Felix reads a stored policy without them as Ingress+Egress. */
  | 'types-missing'
  /** Lockouts: a port the cluster needs, dropped on a HostEndpoint (for every peer: error; for some: warning). */
  | 'kubelet-closed'
  | 'agent-port-closed'
  | 'apiserver-closed'
  | 'ssh-closed'
  | 'donottrack-all-interfaces'
  | 'selects-nothing'
  | 'failsafe-disabled'
  | 'peer-without-ips';

export interface Finding {
  readonly severity: Severity;
  readonly code: FindingCode;
  readonly message: string;
  readonly policy?: string;
  readonly hostEndpoint?: string;
  /** For what Calico rejects: the Calico source that rejects it. */
  readonly calicoSource?: string;
}

export interface LintInput {
  readonly policies: readonly Policy[];
  readonly hostEndpoints: readonly HostEndpoint[];
  readonly explanations: readonly HostEndpointExplanation[];
  readonly failsafe: Failsafe;
  /** The enforced model (felix.ts): with it, lint also checks the lockout ports packet by packet. */
  readonly model?: PolicyModel;
  /** The agent's metrics/health port (config server.port); default 9808. */
  readonly agentPort?: number;
  /**
   * HostEndpoints whose interface carries the cluster's own traffic (the default-route interface, a
   * node's only interface, an all-interfaces HEP): a lockout port closed for every peer there is an
   * error; elsewhere a warning (the cluster may reach the node through another interface).
   */
  readonly clusterFacing?: ReadonlySet<string>;
}

/** The ports whose loss cuts a node off from its cluster, checked on every HostEndpoint examined. */
export interface LockoutPort {
  readonly code: 'kubelet-closed' | 'agent-port-closed' | 'apiserver-closed' | 'ssh-closed';
  readonly direction: 'ingress' | 'egress';
  readonly port: number;
  readonly what: string;
  /** What breaks when it is dropped. */
  readonly consequence: string;
  /** Dropped for every peer: error (true) or warning. */
  readonly errorWhenClosed: boolean;
}

export function lockoutPorts(agentPort: number = DEFAULT_AGENT_PORT): LockoutPort[] {
  return [
    {
      code: 'kubelet-closed',
      direction: 'ingress',
      port: 10250,
      what: 'the kubelet',
      consequence: 'the API server loses logs, exec, port-forward and metrics from this node',
      errorWhenClosed: true,
    },
    {
      code: 'agent-port-closed',
      direction: 'ingress',
      port: agentPort,
      what: "this agent's metrics and health port (server.port)",
      consequence: 'Prometheus and the readiness checks of other tools lose the agent',
      errorWhenClosed: true,
    },
    {
      code: 'apiserver-closed',
      direction: 'ingress',
      port: 6443,
      what: 'the Kubernetes API server',
      consequence: 'if this node runs the API server, the cluster loses it',
      errorWhenClosed: false,
    },
    {
      code: 'apiserver-closed',
      direction: 'egress',
      port: 6443,
      what: 'the Kubernetes API server (egress)',
      consequence: 'the kubelet, kube-proxy and calico-node on this node lose the API server: the node goes NotReady',
      errorWhenClosed: true,
    },
    { code: 'ssh-closed', direction: 'ingress', port: 22, what: 'SSH', consequence: 'nobody can log in to repair the node', errorWhenClosed: true },
  ];
}

const DEFAULT_AGENT_PORT = 9808;

const err = (code: FindingCode, message: string, extra: { policy?: string; hostEndpoint?: string; calicoSource?: string } = {}): Finding => ({
  severity: 'error',
  code,
  message,
  ...extra,
});
const warn = (code: FindingCode, message: string, extra: { policy?: string; hostEndpoint?: string } = {}): Finding => ({
  severity: 'warning',
  code,
  message,
  ...extra,
});

/** The object to validate: as written when we have it, else rebuilt from the parsed fields. */
function objectOf(p: Policy): unknown {
  if (p.raw !== undefined) return p.raw;
  return {
    metadata: { name: p.name },
    spec: {
      selector: p.selectorText,
      namespaceSelector: p.namespaceSelector,
      serviceAccountSelector: p.serviceAccountSelector,
      preDNAT: p.preDNAT,
      doNotTrack: p.doNotTrack,
      applyOnForward: p.applyOnForward,
      types: p.types,
      ingress: p.ingress,
      egress: p.egress,
    },
  };
}

/** Why Calico's API would refuse this policy (empty: accepted). A refused policy is never enforced. */
export function policyRejections(p: Policy): ValidationProblem[] {
  return validatePolicyObject(objectOf(p));
}

/** The policies Calico would store and Felix enforce: those without a rejection. */
export function acceptedPolicies<P extends Policy>(policies: readonly P[]): P[] {
  return policies.filter((p) => policyRejections(p).length === 0);
}

function rejectionFinding(p: Policy, r: ValidationProblem): Finding {
  return err(
    r.code,
    `policy ${p.name}: ${r.message}; Calico rejects the policy, so it is not enforced and is left out of the evaluation above (${r.calicoSource})`,
    {
      policy: p.name,
      calicoSource: r.calicoSource,
    },
  );
}

function hasPassOrDeny(p: Policy): boolean {
  return (['ingress', 'egress'] as const).some((d) => rulesFor(p, d).some((r) => r.action === 'Deny' || r.action === 'Pass'));
}

function hasDeny(p: Policy): boolean {
  return [...p.ingress, ...p.egress].some((r) => r.action === 'Deny');
}

function peerSelectors(rule: Rule): string[] {
  const out: string[] = [];
  for (const e of [rule.source, rule.destination]) {
    // With a namespaceSelector the peers are workloads in namespaces; a HostEndpoint is in none.
    if (e === undefined || (e.namespaceSelector ?? '').trim() !== '') continue;
    if ((e.selector ?? '').trim() !== '') out.push(e.selector!.trim());
  }
  return out;
}

export function lint(input: LintInput): Finding[] {
  const findings: Finding[] = [];
  const { policies, hostEndpoints, explanations, failsafe } = input;

  for (const h of hostEndpoints) {
    for (const [k, v] of Object.entries(h.metadata.labels ?? {})) {
      const e = labelKeyError(k) ?? labelValueError(v);
      if (e !== undefined) {
        findings.push(
          err('invalid-label', `HostEndpoint ${h.metadata.name}: ${e}; Calico rejects the HostEndpoint (${CALICO_SOURCES.labels})`, {
            hostEndpoint: h.metadata.name,
            calicoSource: CALICO_SOURCES.labels,
          }),
        );
      }
    }
  }

  for (const p of policies) {
    const rejections = policyRejections(p);
    if (rejections.length > 0 || p.selector === undefined) {
      findings.push(...rejections.map((r) => rejectionFinding(p, r)));
      continue;
    }
    // A staged policy enforces nothing; what it would change if enforced is staged.ts's report.
    if (p.kind.startsWith('Staged')) continue;
    // What Felix selects (felix-selector.ts): a namespaceSelector/serviceAccountSelector true on absent
    // labels (`!has(x)`, `x != "v"`) still selects every HEP; `all()` in them (or in the selector, once
    // they are set) restricts the policy to workloads.
    const selectsEveryHep = p.selector.isAll() && (p.felixSelector?.matches({}) ?? false);
    const hasWorkloadScope = p.namespaceSelector.trim() !== '' || p.serviceAccountSelector.trim() !== '';
    const workloadOnly = hasWorkloadScope && !(p.felixSelector?.matches({}) ?? false);
    const scope =
      p.preDNAT || p.doNotTrack
        ? 'every HostEndpoint in the cluster'
        : hasWorkloadScope
          ? `every HostEndpoint in the cluster (its namespaceSelector/serviceAccountSelector "${p.felixSelectorText}" is true for endpoints without namespace labels) and the workloads it lets through`
          : 'every HostEndpoint and every workload endpoint (every pod) in the cluster';
    if (selectsEveryHep && hasDeny(p)) {
      findings.push(
        err(
          'deny-all-endpoints',
          `policy ${p.name}: has Deny rules and no selector, so it selects ${scope}; give it a selector (e.g. the one of the policy it backs up)`,
          { policy: p.name },
        ),
      );
    } else if (selectsEveryHep && !p.preDNAT && !p.doNotTrack && !hasPassOrDeny(p) && (input.model?.tiers.get(p.tier)?.defaultAction ?? 'Deny') === 'Deny') {
      const dirs = (['ingress', 'egress'] as const).filter((d) => governs(p, d));
      findings.push(
        err(
          'allow-only-select-all',
          `policy ${p.name}: no selector and only Allow rules, so it selects ${scope} and, at the end of tier ${p.tier}, drops all other ${dirs.join(' and ')} on every one of them; give it a selector`,
          { policy: p.name },
        ),
      );
    }
    // Only a normal policy without rules for one direction differs: preDNAT is ingress-only anyway and
    // doNotTrack tiers end with Pass.
    if (p.typesWritten.length === 0 && !p.preDNAT && !p.doNotTrack && (p.ingress.length === 0 || p.egress.length === 0)) {
      const apiserver = p.egress.length > 0 ? 'Egress' : 'Ingress';
      const missing = p.egress.length > 0 ? 'ingress' : 'egress';
      findings.push(
        warn(
          'types-missing',
          `policy ${p.name}: spec.types is not set: the Calico API server would store [${apiserver}], but stored without types (native v3 CRDs on Kubernetes < 1.36) Felix applies it to Ingress AND Egress, so all ${missing} of the HostEndpoints it selects meets the end of tier ${p.tier}; write types explicitly (felix/calc/policy_sorter.go)`,
          { policy: p.name },
        ),
      );
    }
    const selected = hostEndpoints.filter((h) => selectsLabels(p, h.metadata.labels ?? {}));
    if (!workloadOnly && selected.length === 0 && hostEndpoints.length > 0) {
      findings.push(
        warn(
          'selects-nothing',
          `policy ${p.name}: selector ${p.selector.toString()} selects none of the ${hostEndpoints.length} HostEndpoint(s) examined; if it is meant for them, they are unprotected by it (fail-open)`,
          { policy: p.name },
        ),
      );
    }
    if (p.doNotTrack) {
      for (const h of selected.filter((h) => h.spec.interfaceName === '*')) {
        findings.push(
          err(
            'donottrack-all-interfaces',
            `policy ${p.name}: doNotTrack policy selects all-interfaces HostEndpoint ${h.metadata.name}; Felix does not support that and ignores the policy there`,
            { policy: p.name, hostEndpoint: h.metadata.name },
          ),
        );
      }
    }
    // Peers chosen by label are matched by their endpoints' IPs: a HEP without expectedIPs has none.
    const seen = new Set<string>();
    for (const rule of [...p.ingress, ...p.egress]) {
      for (const text of peerSelectors(rule)) {
        if (seen.has(text)) continue;
        seen.add(text);
        let peerSel;
        try {
          peerSel = parseSelector(text);
        } catch {
          continue; // unreachable: policyRejections above already refused a rule selector that does not parse
        }
        // Only when every HEP the peer selector picks lacks IPs: then the rule matches none of them.
        // (A selector that also picks HEPs with IPs, or pods, still matches those.)
        const picked = hostEndpoints.filter((h) => peerSel.matches(h.metadata.labels ?? {}));
        const empty = picked.filter((h) => (h.spec.expectedIPs?.length ?? 0) === 0);
        if (empty.length < picked.length) continue;
        for (const h of empty) {
          findings.push(
            warn(
              'peer-without-ips',
              `policy ${p.name}: rule peer selector ${text} selects HostEndpoint ${h.metadata.name}, which has no expectedIPs: the rule can never match its traffic`,
              { policy: p.name, hostEndpoint: h.metadata.name },
            ),
          );
        }
      }
    }
  }

  for (const x of explanations) {
    const dirs = (['ingress', 'egress'] as const).filter((d) => x[d].unmatched.code === 'no-policy');
    if (dirs.length > 0 && !x.defaultAllow) {
      const open = dirs.map((d) => `${d}: ${(d === 'ingress' ? failsafe.inbound : failsafe.outbound).map(formatPort).join(', ') || 'none'}`).join('; ');
      const what = dirs.length === 2 ? 'is selected by no policy' : `is selected by no normal (non-preDNAT, non-doNotTrack) policy for ${dirs[0]}`;
      findings.push(
        err('no-policy', `HostEndpoint ${x.name} ${what} and has no ${DEFAULT_ALLOW_PROFILE} profile: only failsafe ports are open (${open})`, {
          hostEndpoint: x.name,
        }),
      );
    }
  }

  if (input.model !== undefined) findings.push(...lockoutFindings(input.model, hostEndpoints, failsafe, input.agentPort, input.clusterFacing));

  for (const [dir, ports, field] of [
    ['ingress', failsafe.inbound, 'failsafeInboundHostPorts'],
    ['egress', failsafe.outbound, 'failsafeOutboundHostPorts'],
  ] as const) {
    if (ports.length > 0) continue;
    const denying = explanations.filter((x) => x[dir].unmatched.action !== 'allow');
    if (denying.length === 0) continue;
    findings.push(
      err(
        'failsafe-disabled',
        `${field} is empty (${failsafe.source}) while ${denying.map((x) => x.name).join(', ')} deny unmatched ${dir}: one policy mistake cuts the node off, SSH included`,
      ),
    );
  }
  return findings;
}

/**
 * The lockout ports, packet by packet through the Felix model (packet.ts), from any peer: closed for
 * every peer is an error (a warning for the API server's ingress port, which only matters where it
 * runs); open only to some peers (rules with source criteria) is a warning naming what closes it and
 * what still lets traffic through.
 */
export function lockoutFindings(
  model: PolicyModel,
  heps: readonly HostEndpoint[],
  failsafe: Failsafe,
  agentPort?: number,
  clusterFacing?: ReadonlySet<string>,
): Finding[] {
  const out: Finding[] = [];
  for (const h of heps) {
    const pipeline = hostEndpointPipeline(h, model);
    for (const lp of lockoutPorts(agentPort)) {
      const v = packetVerdict(pipeline, { direction: lp.direction, path: 'host', protocol: 'tcp', port: lp.port }, heps, failsafe);
      if (v.verdict === 'allow' || v.verdict === 'undecided') continue;
      const drops = v.outcomes.filter((o) => o.verdict === 'drop');
      // No policy at all in this direction: the no-policy finding already says only failsafe ports stay open.
      if (pipeline[lp.direction].normal.length === 0 && drops.every((o) => o.cause.kind === 'no-profile-allowed')) continue;
      const allows = v.outcomes.filter((o) => o.verdict === 'allow');
      const closer = drops.map((o) => describeCause(o.cause)).join('; or ');
      const policies = [
        ...new Set(drops.flatMap((o) => (o.cause.kind === 'rule' ? [o.cause.ref.policy] : o.cause.kind === 'end-of-tier' ? o.cause.policies : []))),
      ];
      const at = { hostEndpoint: h.metadata.name, ...(policies.length === 1 ? { policy: policies[0]! } : {}) };
      const what = `HostEndpoint ${h.metadata.name}: TCP ${lp.port} ${lp.direction} (${lp.what})`;
      if (v.verdict === 'drop') {
        const facing = clusterFacing?.has(h.metadata.name) ?? false;
        const where = facing ? '' : ` If the cluster reaches the node through another interface, that is intended here; otherwise`;
        const text = `${what} is dropped for every peer by ${closer}.${where} ${facing ? lp.consequence[0]!.toUpperCase() + lp.consequence.slice(1) : lp.consequence}; it is not a failsafe port here (${failsafe.source})`;
        out.push(lp.errorWhenClosed && facing ? err(lp.code, text, at) : warn(lp.code, text, at));
      } else {
        const open = [
          ...new Set(
            allows.map((o) =>
              o.cause.kind === 'rule'
                ? `${o.cause.ref.policy} ${o.cause.ref.direction} rule ${o.cause.ref.index + 1} (${summarizeRule(o.cause.ref.rule)})`
                : describeCause(o.cause),
            ),
          ),
        ];
        out.push(
          warn(
            lp.code,
            `${what} is closed by ${closer}, except for the peers these rules allow: ${open.join(', ')}; make sure everything that needs it is among them (otherwise ${lp.consequence})`,
            at,
          ),
        );
      }
    }
  }
  return out;
}
