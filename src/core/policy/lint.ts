// Lint: the ways a set of GlobalNetworkPolicies and HostEndpoints locks a node out, fails open, or is
// rejected or ignored by Calico. Errors make `explain` exit 1; warnings do not.
import { labelKeyError, labelValueError } from '../k8s-names.ts';
import type { HostEndpoint } from '../model.ts';
import { parseSelector } from '../selector/index.ts';
import { CALICO_SOURCES, validatePolicyObject, type ValidationCode, type ValidationProblem } from './calico-validation.ts';
import type { HostEndpointExplanation } from './explain.ts';
import { formatPort, type Failsafe } from './failsafe.ts';
import { DEFAULT_ALLOW_PROFILE, selectsLabels, type Policy, type Rule } from './model.ts';

export type Severity = 'error' | 'warning';

export { CALICO_SOURCES, MAX_SELECTOR_LENGTH, validatePolicyObject, type ValidationCode, type ValidationProblem } from './calico-validation.ts';

export type FindingCode =
  /** What Calico's API rejects (calico-validation.ts): the policy is never enforced. */
  | ValidationCode
  | 'no-policy'
  | 'deny-all-endpoints'
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
}

const err = (code: FindingCode, message: string, extra: { policy?: string; hostEndpoint?: string; calicoSource?: string } = {}): Finding => ({ severity: 'error', code, message, ...extra });
const warn = (code: FindingCode, message: string, extra: { policy?: string; hostEndpoint?: string } = {}): Finding => ({ severity: 'warning', code, message, ...extra });

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
  return err(r.code, `policy ${p.name}: ${r.message}; Calico rejects the policy, so it is not enforced and is left out of the evaluation above (${r.calicoSource})`, {
    policy: p.name,
    calicoSource: r.calicoSource,
  });
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
        findings.push(err('invalid-label', `HostEndpoint ${h.metadata.name}: ${e}; Calico rejects the HostEndpoint (${CALICO_SOURCES.labels})`, { hostEndpoint: h.metadata.name, calicoSource: CALICO_SOURCES.labels }));
      }
    }
  }

  for (const p of policies) {
    const rejections = policyRejections(p);
    if (rejections.length > 0 || p.selector === undefined) {
      findings.push(...rejections.map((r) => rejectionFinding(p, r)));
      continue;
    }
    const workloadOnly = p.namespaceSelector.trim() !== '' || p.serviceAccountSelector.trim() !== '';
    if (p.selector.isAll() && !workloadOnly && hasDeny(p)) {
      const scope = p.preDNAT || p.doNotTrack ? 'every HostEndpoint in the cluster' : 'every HostEndpoint and every workload endpoint (every pod) in the cluster';
      findings.push(
        err('deny-all-endpoints', `policy ${p.name}: has Deny rules and no selector, so it selects ${scope}; give it a selector (e.g. the one of the policy it backs up)`, { policy: p.name }),
      );
    }
    const selected = hostEndpoints.filter((h) => selectsLabels(p, h.metadata.labels ?? {}));
    if (!workloadOnly && selected.length === 0 && hostEndpoints.length > 0) {
      findings.push(
        warn('selects-nothing', `policy ${p.name}: selector ${p.selector.toString()} selects none of the ${hostEndpoints.length} HostEndpoint(s) examined; if it is meant for them, they are unprotected by it (fail-open)`, { policy: p.name }),
      );
    }
    if (p.doNotTrack) {
      for (const h of selected.filter((h) => h.spec.interfaceName === '*')) {
        findings.push(
          err('donottrack-all-interfaces', `policy ${p.name}: doNotTrack policy selects all-interfaces HostEndpoint ${h.metadata.name}; Felix does not support that and ignores the policy there`, { policy: p.name, hostEndpoint: h.metadata.name }),
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
            warn('peer-without-ips', `policy ${p.name}: rule peer selector ${text} selects HostEndpoint ${h.metadata.name}, which has no expectedIPs: the rule can never match its traffic`, { policy: p.name, hostEndpoint: h.metadata.name }),
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
        err('no-policy', `HostEndpoint ${x.name} ${what} and has no ${DEFAULT_ALLOW_PROFILE} profile: only failsafe ports are open (${open})`, { hostEndpoint: x.name }),
      );
    }
  }

  for (const [dir, ports, field] of [
    ['ingress', failsafe.inbound, 'failsafeInboundHostPorts'],
    ['egress', failsafe.outbound, 'failsafeOutboundHostPorts'],
  ] as const) {
    if (ports.length > 0) continue;
    const denying = explanations.filter((x) => x[dir].unmatched.action !== 'allow');
    if (denying.length === 0) continue;
    findings.push(
      err('failsafe-disabled', `${field} is empty (${failsafe.source}) while ${denying.map((x) => x.name).join(', ')} deny unmatched ${dir}: one policy mistake cuts the node off, SSH included`),
    );
  }
  return findings;
}

