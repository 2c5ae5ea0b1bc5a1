// Lint: the ways a set of GlobalNetworkPolicies and HostEndpoints locks a node out, fails open, or is
// rejected or ignored by Calico. Errors make `explain` exit 1; warnings do not.
import type { HostEndpoint } from '../model.ts';
import { parseSelector } from '../selector/index.ts';
import type { HostEndpointExplanation } from './explain.ts';
import { formatPort, type Failsafe } from './failsafe.ts';
import { DEFAULT_ALLOW_PROFILE, selectsLabels, type Policy, type Rule } from './model.ts';

export type Severity = 'error' | 'warning';

export type FindingCode =
  | 'invalid-selector'
  | 'no-policy'
  | 'deny-all-endpoints'
  | 'prednat-without-applyonforward'
  | 'donottrack-without-applyonforward'
  | 'prednat-egress'
  | 'prednat-donottrack'
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
}

export interface LintInput {
  readonly policies: readonly Policy[];
  readonly hostEndpoints: readonly HostEndpoint[];
  readonly explanations: readonly HostEndpointExplanation[];
  readonly failsafe: Failsafe;
}

const err = (code: FindingCode, message: string, extra: { policy?: string; hostEndpoint?: string } = {}): Finding => ({ severity: 'error', code, message, ...extra });
const warn = (code: FindingCode, message: string, extra: { policy?: string; hostEndpoint?: string } = {}): Finding => ({ severity: 'warning', code, message, ...extra });

/** What Calico's validator (libcalico-go validator.go, and the v3 CRD's CEL rules) rejects. */
function validatorFindings(p: Policy): Finding[] {
  const out: Finding[] = [];
  const at = { policy: p.name };
  if (p.preDNAT && p.doNotTrack) out.push(err('prednat-donottrack', `policy ${p.name}: preDNAT and doNotTrack cannot both be true; Calico rejects the policy`, at));
  if (p.preDNAT && !p.applyOnForward) out.push(err('prednat-without-applyonforward', `policy ${p.name}: preDNAT requires applyOnForward: true; Calico rejects the policy`, at));
  if (p.doNotTrack && !p.applyOnForward) out.push(err('donottrack-without-applyonforward', `policy ${p.name}: doNotTrack requires applyOnForward: true; Calico rejects the policy`, at));
  if (p.preDNAT && (p.egress.length > 0 || p.types.includes('Egress'))) {
    out.push(err('prednat-egress', `policy ${p.name}: a preDNAT policy cannot have egress rules or the Egress type; Calico rejects the policy (pre-DNAT policy is ingress only)`, at));
  }
  return out;
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

  for (const p of policies) {
    if (p.selector === undefined) {
      findings.push(err('invalid-selector', `policy ${p.name}: selector "${p.selectorText}" is invalid (${p.selectorError}); Calico rejects the policy`, { policy: p.name }));
      continue;
    }
    findings.push(...validatorFindings(p));
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
          findings.push(err('invalid-selector', `policy ${p.name}: rule selector "${text}" is invalid; Calico rejects the policy`, { policy: p.name }));
          continue;
        }
        const empty = hostEndpoints.filter((h) => peerSel.matches(h.metadata.labels ?? {}) && (h.spec.expectedIPs?.length ?? 0) === 0);
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

