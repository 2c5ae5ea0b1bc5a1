// What Calico's API refuses in a GlobalNetworkPolicy (or StagedGlobalNetworkPolicy): the checks of
// libcalico-go's validator and of the v3 CRDs' schema and CEL rules, each with the place it comes
// from (projectcalico/calico at 87c15906, read for 3.31/3.32). A policy with any of these problems is
// never stored, so Felix never enforces it: `explain` leaves it out of the evaluation and says so.
// Pure: works on the object as written (JSON/YAML), before our own parsing normalises anything.
import ipaddr from 'ipaddr.js';
import { labelKeyError, labelValueError } from '../k8s-names.ts';
import { parseSelector, SelectorError } from '../selector/index.ts';

export type ValidationCode =
  | 'invalid-name'
  | 'invalid-label'
  | 'duplicate-types'
  | 'invalid-selector'
  | 'global-selector'
  | 'selector-too-long'
  | 'ports-without-protocol'
  | 'icmp-code-without-type'
  | 'icmp-without-icmp-protocol'
  | 'icmp-ip-version'
  | 'catch-all-notnets'
  | 'mixed-ip-versions'
  | 'ip-version-mismatch'
  | 'invalid-cidr'
  | 'http-non-tcp'
  | 'http-not-allow'
  | 'http-in-egress'
  | 'prednat-donottrack'
  | 'prednat-without-applyonforward'
  | 'donottrack-without-applyonforward'
  | 'prednat-egress';

export interface ValidationProblem {
  readonly code: ValidationCode;
  /** Where in the object, e.g. `spec.ingress[0].destination.ports`. */
  readonly field: string;
  readonly message: string;
  /** The Calico source that rejects it: file, and function or CRD marker. */
  readonly calicoSource: string;
}

/** Sources, cited in findings and docs/policies.md. */
export const CALICO_SOURCES = {
  validator: 'libcalico-go/lib/validator/v3/validator.go',
  gnpName: 'libcalico-go/lib/validator/v3/validator.go validateGlobalNetworkPolicy (globalNetworkPolicyNameRegex, DNS1123SubdomainMaxLength)',
  labels: 'libcalico-go/lib/validator/v3/validator.go validateObjectMetaLabels (k8s IsQualifiedName, IsValidLabelValue)',
  types: 'libcalico-go/lib/validator/v3/validator.go validateGlobalNetworkPolicySpec ("type specified more than once")',
  selector: 'libcalico-go/lib/validator/v3/validator.go validateSelector (libcalico-go/lib/selector parser)',
  gnpGlobal: 'api/pkg/apis/projectcalico/v3/globalnetworkpolicy.go CEL "global() can only be used in an EntityRule namespaceSelector"',
  entityGlobal: 'api/pkg/apis/projectcalico/v3/policy_common.go EntityRule CEL (selector), validator.go validateEntityRule (namespaceSelector: global() alone)',
  selectorLength: 'api/pkg/apis/projectcalico/v3 +kubebuilder:validation:MaxLength=1024 on every selector field',
  ports: 'libcalico-go/lib/validator/v3/validator.go validateRule (protocolSingleOrRangePortsMsg, protocolPortsMsg; numorstring.Protocol.SupportsPorts)',
  icmpCode: 'api/pkg/apis/projectcalico/v3/policy_common.go ICMPFields CEL "ICMP code specified without an ICMP type"',
  icmpProtocol:
    'api/pkg/apis/projectcalico/v3/policy_common.go Rule CEL "ICMP fields require protocol to be ICMP or ICMPv6" / "protocol ICMP requires ipVersion 4"',
  nets: 'libcalico-go/lib/validator/v3/validator.go validateRule scanNets',
  http: 'api/pkg/apis/projectcalico/v3/policy_common.go Rule CEL "rules with HTTP match must have protocol TCP or unset", "HTTP match is only valid on Allow rules"',
  httpEgress: 'libcalico-go/lib/validator/v3/validator.go validateGlobalNetworkPolicySpec (ruleUsesAppLayerPolicy: "not allowed in egress rules")',
  stages: 'api/pkg/apis/projectcalico/v3/globalnetworkpolicy.go GlobalNetworkPolicySpec CEL (preDNAT/doNotTrack/applyOnForward/egress)',
} as const;

/** GlobalNetworkPolicy names: a DNS-1123 label, optionally one dot-separated label before it. */
const GNP_NAME_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const NAME_MAX = 253;
export const MAX_SELECTOR_LENGTH = 1024;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Protocols that have ports (numorstring.Protocol.SupportsPorts): TCP, UDP, SCTP by name or number. */
/** A field's value as it appears in a message: strings and numbers as they are, anything else as JSON. */
function shown(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

function supportsPorts(p: unknown): boolean {
  if (typeof p === 'number') return p === 6 || p === 17 || p === 132;
  return ['TCP', 'UDP', 'SCTP', 'tcp', 'udp', 'sctp'].includes(str(p));
}

/** A port written as a name (not digits, not `min:max`) is allowed without a protocol. */
function isNamedPort(p: unknown): boolean {
  if (typeof p === 'number') return false;
  const s = str(p);
  return !/^\d+$/.test(s) && !/^\d+:\d+$/.test(s);
}

function isIcmpProtocol(p: unknown): 'v4' | 'v6' | undefined {
  if (p === 'ICMP' || p === 1) return 'v4';
  if (p === 'ICMPv6' || p === 58) return 'v6';
  return undefined;
}

/** The IP version of a CIDR (or plain address), or undefined when it is neither. */
function cidrVersion(text: string): { version: 4 | 6; all: boolean } | undefined {
  try {
    const [ip, len] = ipaddr.parseCIDR(text);
    const v6 = ip.kind() === 'ipv6';
    return { version: v6 ? 6 : 4, all: len === 0 && ip.toByteArray().every((b) => b === 0) };
  } catch {
    if (!ipaddr.isValid(text)) return undefined;
    return { version: ipaddr.parse(text).kind() === 'ipv6' ? 6 : 4, all: false };
  }
}

function checkSelectorText(text: string, field: string, out: ValidationProblem[], globalAllowed: 'never' | 'alone' | 'unchecked'): void {
  if (text === '') return;
  if (text.length > MAX_SELECTOR_LENGTH) {
    out.push({
      code: 'selector-too-long',
      field,
      message: `${field} is ${text.length} characters; Calico allows at most ${MAX_SELECTOR_LENGTH}`,
      calicoSource: CALICO_SOURCES.selectorLength,
    });
  }
  if (text.includes('global(') && globalAllowed !== 'unchecked') {
    if (globalAllowed === 'never') {
      out.push({
        code: 'global-selector',
        field,
        message: `${field} uses global(), which Calico allows only in a rule's namespaceSelector`,
        calicoSource: field.startsWith('spec.') && !field.includes('[') ? CALICO_SOURCES.gnpGlobal : CALICO_SOURCES.entityGlobal,
      });
    } else if (text.trim() !== 'global()') {
      // validateEntityRule: a namespaceSelector with global() must be exactly global().
      let alone: boolean;
      try {
        alone = parseSelector(text).ast.kind === 'global';
      } catch {
        alone = false;
      }
      if (!alone)
        out.push({
          code: 'global-selector',
          field,
          message: `${field}: global() cannot be combined with other selectors`,
          calicoSource: CALICO_SOURCES.entityGlobal,
        });
    }
  }
  try {
    parseSelector(text);
  } catch (err) {
    if (!(err instanceof SelectorError)) throw err;
    out.push({
      code: 'invalid-selector',
      field,
      message: `${field} "${text.length > 80 ? `${text.slice(0, 77)}...` : text}" is invalid (${err.message})`,
      calicoSource: CALICO_SOURCES.selector,
    });
  }
}

function checkEntity(e: Obj, field: string, protocol: unknown, out: ValidationProblem[]): void {
  checkSelectorText(str(e['selector']), `${field}.selector`, out, 'never');
  // The CEL rule on EntityRule checks `selector` only; notSelector has no global() rule.
  checkSelectorText(str(e['notSelector']), `${field}.notSelector`, out, 'unchecked');
  checkSelectorText(str(e['namespaceSelector']), `${field}.namespaceSelector`, out, 'alone');
  for (const key of ['ports', 'notPorts'] as const) {
    const ports = arr(e[key]);
    if (ports.length === 0) continue;
    if (protocol === undefined) {
      if (!ports.every(isNamedPort)) {
        out.push({
          code: 'ports-without-protocol',
          field: `${field}.${key}`,
          message: `${field}.${key}: rules with numeric port or port range must set protocol to TCP or UDP or SCTP`,
          calicoSource: CALICO_SOURCES.ports,
        });
      }
    } else if (!supportsPorts(protocol)) {
      out.push({
        code: 'ports-without-protocol',
        field: `${field}.${key}`,
        message: `${field}.${key}: protocol ${shown(protocol)} has no ports; rules that specify ports must set protocol to TCP or UDP or SCTP`,
        calicoSource: CALICO_SOURCES.ports,
      });
    }
  }
}

function checkRule(rule: Obj, field: string, direction: 'ingress' | 'egress', out: ValidationProblem[]): void {
  const protocol = rule['protocol'];
  const source = isObj(rule['source']) ? rule['source'] : {};
  const destination = isObj(rule['destination']) ? rule['destination'] : {};
  checkEntity(source, `${field}.source`, protocol, out);
  checkEntity(destination, `${field}.destination`, protocol, out);

  for (const key of ['icmp', 'notICMP'] as const) {
    const icmp = rule[key];
    if (!isObj(icmp)) continue;
    if (icmp['code'] !== undefined && icmp['type'] === undefined) {
      out.push({
        code: 'icmp-code-without-type',
        field: `${field}.${key}`,
        message: `${field}.${key}: ICMP code specified without an ICMP type`,
        calicoSource: CALICO_SOURCES.icmpCode,
      });
    }
  }
  if (rule['icmp'] !== undefined && isIcmpProtocol(protocol) === undefined) {
    out.push({
      code: 'icmp-without-icmp-protocol',
      field: `${field}.icmp`,
      message: `${field}.icmp: ICMP fields require protocol to be ICMP or ICMPv6`,
      calicoSource: CALICO_SOURCES.icmpProtocol,
    });
  }
  const ipVersion = rule['ipVersion'];
  for (const key of ['protocol', 'notProtocol'] as const) {
    const v = isIcmpProtocol(rule[key]);
    if (v !== undefined && ipVersion !== undefined && ipVersion !== (v === 'v4' ? 4 : 6)) {
      out.push({
        code: 'icmp-ip-version',
        field: `${field}.${key}`,
        message: `${field}: protocol ${String(rule[key])} requires ipVersion ${v === 'v4' ? 4 : 6}`,
        calicoSource: CALICO_SOURCES.icmpProtocol,
      });
    }
  }

  // scanNets: each CIDR valid; no 0.0.0.0/0 or ::/0 in notNets; one IP version per rule, equal to ipVersion.
  let seen4 = false;
  let seen6 = false;
  for (const [entity, name] of [
    [source, 'source'],
    [destination, 'destination'],
  ] as const) {
    for (const key of ['nets', 'notNets'] as const) {
      const f = `${field}.${name}.${key}`;
      let v4 = false;
      let v6 = false;
      for (const n of arr(entity[key])) {
        const text = str(n);
        const c = cidrVersion(text);
        if (c === undefined) {
          out.push({ code: 'invalid-cidr', field: f, message: `${f}: "${text}" is not a CIDR`, calicoSource: CALICO_SOURCES.nets });
          continue;
        }
        if (c.version === 4) v4 = true;
        else v6 = true;
        // IPv4: the exact text 0.0.0.0/0; IPv6: any spelling of ::/0.
        if (key === 'notNets' && ((c.version === 4 && text === '0.0.0.0/0') || (c.version === 6 && c.all))) {
          out.push({
            code: 'catch-all-notnets',
            field: f,
            message: `${f}: ${text} in a negation matches no traffic; Calico rejects it (catch-all CIDR in negation creates logical contradiction)`,
            calicoSource: CALICO_SOURCES.nets,
          });
        }
      }
      if (ipVersion !== undefined && ((v4 && ipVersion !== 4) || (v6 && ipVersion !== 6))) {
        out.push({
          code: 'ip-version-mismatch',
          field: f,
          message: `${f}: rule IP version doesn't match CIDR version (ipVersion ${shown(ipVersion)})`,
          calicoSource: CALICO_SOURCES.nets,
        });
      }
      if ((v4 && seen6) || (v6 && seen4) || (v4 && v6)) {
        out.push({
          code: 'mixed-ip-versions',
          field: f,
          message: `${f}: the rule contains both IPv4 and IPv6 CIDRs; split it into one rule per IP version`,
          calicoSource: CALICO_SOURCES.nets,
        });
      }
      seen4 ||= v4;
      seen6 ||= v6;
    }
  }

  if (rule['http'] !== undefined && rule['http'] !== null) {
    if (protocol !== undefined && protocol !== 'TCP' && protocol !== 6) {
      out.push({
        code: 'http-non-tcp',
        field: `${field}.http`,
        message: `${field}: rules with HTTP match must have protocol TCP or unset (protocol is ${shown(protocol)})`,
        calicoSource: CALICO_SOURCES.http,
      });
    }
    if (rule['action'] !== 'Allow') {
      out.push({
        code: 'http-not-allow',
        field: `${field}.http`,
        message: `${field}: HTTP match is only valid on Allow rules`,
        calicoSource: CALICO_SOURCES.http,
      });
    }
    if (direction === 'egress') {
      out.push({
        code: 'http-in-egress',
        field: `${field}.http`,
        message: `${field}: HTTP match is not allowed in egress rules`,
        calicoSource: CALICO_SOURCES.httpEgress,
      });
    }
  }
}

/**
 * Every reason Calico's API would refuse this GlobalNetworkPolicy (or StagedGlobalNetworkPolicy: same
 * spec checks, and a stagedAction Delete carries no spec to check). Empty when it would be accepted
 * as far as these checks go.
 */
export function validatePolicyObject(obj: unknown): ValidationProblem[] {
  const out: ValidationProblem[] = [];
  const o = isObj(obj) ? obj : {};
  const metadata = isObj(o['metadata']) ? o['metadata'] : {};
  const spec = isObj(o['spec']) ? o['spec'] : {};
  const name = str(metadata['name']);
  if (name.length > NAME_MAX) {
    out.push({
      code: 'invalid-name',
      field: 'metadata.name',
      message: `name is too long by ${name.length - NAME_MAX} bytes`,
      calicoSource: CALICO_SOURCES.gnpName,
    });
  }
  if (!GNP_NAME_RE.test(name)) {
    out.push({
      code: 'invalid-name',
      field: 'metadata.name',
      message: `name "${name}" must be lower case alphanumeric characters or '-', with at most one '.'`,
      calicoSource: CALICO_SOURCES.gnpName,
    });
  }
  if (isObj(metadata['labels'])) {
    for (const [k, v] of Object.entries(metadata['labels'])) {
      const e = labelKeyError(k) ?? labelValueError(str(v));
      if (e !== undefined) out.push({ code: 'invalid-label', field: 'metadata.labels', message: e, calicoSource: CALICO_SOURCES.labels });
    }
  }
  if (spec['stagedAction'] === 'Delete') return out;

  const seen = new Set<string>();
  for (const t of arr(spec['types'])) {
    const s = str(t);
    if (seen.has(s))
      out.push({
        code: 'duplicate-types',
        field: 'spec.types',
        message: `spec.types: '${s}' type specified more than once`,
        calicoSource: CALICO_SOURCES.types,
      });
    seen.add(s);
  }
  checkSelectorText(str(spec['selector']), 'spec.selector', out, 'never');
  checkSelectorText(str(spec['namespaceSelector']), 'spec.namespaceSelector', out, 'never');
  checkSelectorText(str(spec['serviceAccountSelector']), 'spec.serviceAccountSelector', out, 'never');

  const preDNAT = spec['preDNAT'] === true;
  const doNotTrack = spec['doNotTrack'] === true;
  const applyOnForward = spec['applyOnForward'] === true;
  const stage = (code: ValidationCode, message: string): void => void out.push({ code, field: 'spec', message, calicoSource: CALICO_SOURCES.stages });
  if (preDNAT && doNotTrack) stage('prednat-donottrack', 'preDNAT and doNotTrack cannot both be true');
  if (preDNAT && !applyOnForward) stage('prednat-without-applyonforward', 'applyOnForward must be true if preDNAT is true');
  if (doNotTrack && !applyOnForward) stage('donottrack-without-applyonforward', 'applyOnForward must be true if doNotTrack is true');
  if (preDNAT && arr(spec['egress']).length > 0) stage('prednat-egress', 'preDNAT policy cannot have any egress rules');
  if (preDNAT && arr(spec['types']).includes('Egress')) stage('prednat-egress', "preDNAT policy cannot have 'Egress' type");

  for (const direction of ['ingress', 'egress'] as const) {
    arr(spec[direction]).forEach((r, i) => {
      if (isObj(r)) checkRule(r, `spec.${direction}[${i}]`, direction, out);
    });
  }
  return out;
}
