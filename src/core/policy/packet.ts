// One concrete packet against the Felix model: an Oracle (felix.ts) that answers, for each rule,
// whether this packet matches it, from the rule's fields as Felix renders them into match criteria
// (felix/rules/rule_defs.go, libcalico-go/lib/backend/syncersv1/updateprocessors/rules.go):
// protocol / notProtocol (names or numbers), ipVersion, icmp type/code, source / destination nets,
// notNets, ports, notPorts, selectors. The peer is the source of ingress and the destination of
// egress; the node's side is the other. What cannot be known offline answers `maybe` (the walk then
// lists every verdict that may happen): a peer's identity when it is not one of the HostEndpoints
// examined (unless its labels are given), the peer's ephemeral port, HTTP matches, services.
// Failsafe ports (failsafe.ts) are matched as Felix's failsafe chains do: inbound by destination port
// (and source net), outbound by destination port (and destination net).
import ipaddr from 'ipaddr.js';
import type { HostEndpoint } from '../model.ts';
import { parseSelector } from '../selector/index.ts';
import type { Failsafe, FailsafePort } from './failsafe.ts';
import { walkEndpoint, type EndpointPipeline, type Oracle, type Outcome, type RuleMatch, type RuleRef, type TrafficPath } from './felix.ts';
import type { Direction, EntityRule, Rule } from './model.ts';

export interface Packet {
  readonly direction: Direction;
  /** `host`: to or from the node itself; `forward`: routed through the interface. */
  readonly path: TrafficPath;
  /** Lower-case name (`tcp`, `udp`, `sctp`, `icmp`, `icmpv6`, `udplite`) or an IP protocol number as text. */
  readonly protocol: string;
  /** Destination port (ingress: the node's port; egress: the peer's); undefined for port-less protocols. */
  readonly port?: number | undefined;
  /** The other side's address; undefined: any address (answers `maybe` where it matters). */
  readonly peer?: string | undefined;
  /** The node's address the packet is to / from; undefined: unknown. */
  readonly local?: string | undefined;
  /** The peer's labels when it is a Calico endpoint not among the HEPs given. */
  readonly peerLabels?: Readonly<Record<string, string>> | undefined;
  readonly icmp?: { readonly type?: number; readonly code?: number } | undefined;
}

const PROTOCOL_NUMBERS: Record<string, number> = { icmp: 1, tcp: 6, udp: 17, icmpv6: 58, sctp: 132, udplite: 136 };

export function protocolNumber(p: string | number): number | undefined {
  if (typeof p === 'number') return p;
  const lower = p.toLowerCase();
  if (/^\d+$/.test(lower)) return Number(lower);
  return PROTOCOL_NUMBERS[lower];
}

function ipOf(text: string): ipaddr.IPv4 | ipaddr.IPv6 | undefined {
  if (!ipaddr.isValid(text)) return undefined;
  const ip = ipaddr.parse(text);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) return (ip as ipaddr.IPv6).toIPv4Address();
  return ip;
}

function inNet(addr: string, net: string): boolean {
  const ip = ipOf(addr);
  if (ip === undefined) return false;
  try {
    const [n, len] = net.includes('/') ? ipaddr.parseCIDR(net) : [ipaddr.parse(net), ipaddr.parse(net).kind() === 'ipv4' ? 32 : 128];
    if (n.kind() !== ip.kind()) return false;
    return ip.match([n, len] as never);
  } catch {
    return false;
  }
}

function portMatches(port: number, spec: number | string): boolean {
  if (typeof spec === 'number') return port === spec;
  const range = /^(\d+):(\d+)$/.exec(spec);
  if (range !== null) return port >= Number(range[1]) && port <= Number(range[2]);
  if (/^\d+$/.test(spec)) return port === Number(spec);
  return false; // a named port: resolved per workload, never a host's
}

const and = (...ms: RuleMatch[]): RuleMatch => (ms.includes('no') ? 'no' : ms.includes('maybe') ? 'maybe' : 'yes');
const not = (m: RuleMatch): RuleMatch => (m === 'yes' ? 'no' : m === 'no' ? 'yes' : 'maybe');

/** Who the peer is: a HEP we know (by address), labels given, or an address outside Calico. */
interface PeerIdentity {
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** True when we know the peer is no Calico endpoint (not a HEP examined, no labels given, address given). */
  readonly outside: boolean;
}

function identify(packet: Packet, heps: readonly HostEndpoint[]): PeerIdentity {
  if (packet.peerLabels !== undefined) return { labels: packet.peerLabels, outside: false };
  if (packet.peer === undefined) return { labels: undefined, outside: false };
  const ip = ipOf(packet.peer)?.toString();
  const hep = heps.find((h) => (h.spec.expectedIPs ?? []).some((e) => ipOf(e)?.toString() === ip));
  if (hep !== undefined) return { labels: hep.metadata.labels ?? {}, outside: false };
  return { labels: undefined, outside: true };
}

/** A rule's selector fields for the peer (GetEntityRuleSelector: namespaceSelector makes it workloads-only unless it is global()). */
function peerSelectorMatch(e: EntityRule, who: PeerIdentity): RuleMatch {
  const sel = (e.selector ?? '').trim();
  const notSel = (e.notSelector ?? '').trim();
  const ns = (e.namespaceSelector ?? '').trim();
  const sa = e.serviceAccounts !== undefined;
  if (sel === '' && notSel === '' && ns === '' && !sa) return 'yes';
  const evalSel = (text: string): RuleMatch => {
    if (who.outside) return 'no'; // a selector only ever matches Calico endpoints
    if (who.labels === undefined) return 'maybe';
    try {
      return parseSelector(text).matches(who.labels) ? 'yes' : 'no';
    } catch {
      return 'no';
    }
  };
  const parts: RuleMatch[] = [];
  if (ns !== '' && ns !== 'global()') {
    // Workloads in selected namespaces: a HEP or an outside address never is one.
    parts.push(who.outside || (who.labels !== undefined && who.labels['projectcalico.org/namespace'] === undefined) ? 'no' : 'maybe');
  }
  if (ns === 'global()')
    parts.push(who.outside ? 'no' : who.labels === undefined ? 'maybe' : who.labels['projectcalico.org/namespace'] === undefined ? 'yes' : 'no');
  if (sa) parts.push(who.outside || (who.labels !== undefined && who.labels['projectcalico.org/namespace'] === undefined) ? 'no' : 'maybe');
  if (sel !== '') parts.push(evalSel(sel));
  if (notSel !== '') parts.push(who.outside ? 'yes' : not(evalSel(notSel)));
  return and(...parts);
}

function netsMatch(addr: string | undefined, e: EntityRule): RuleMatch {
  const parts: RuleMatch[] = [];
  if ((e.nets ?? []).length > 0) parts.push(addr === undefined ? 'maybe' : e.nets!.some((n) => inNet(addr, n)) ? 'yes' : 'no');
  if ((e.notNets ?? []).length > 0) parts.push(addr === undefined ? 'maybe' : e.notNets!.some((n) => inNet(addr, n)) ? 'no' : 'yes');
  return and(...parts);
}

function portsMatch(port: number | undefined, e: EntityRule): RuleMatch {
  const parts: RuleMatch[] = [];
  if ((e.ports ?? []).length > 0) parts.push(port === undefined ? 'maybe' : e.ports!.some((p) => portMatches(port, p)) ? 'yes' : 'no');
  if ((e.notPorts ?? []).length > 0) parts.push(port === undefined ? 'maybe' : e.notPorts!.some((p) => portMatches(port, p)) ? 'no' : 'yes');
  return and(...parts);
}

function icmpMatch(packet: Packet, icmp: { type?: number; code?: number }): RuleMatch {
  if (icmp.type === undefined) return 'yes';
  if (packet.icmp?.type === undefined) return 'maybe';
  if (packet.icmp.type !== icmp.type) return 'no';
  if (icmp.code === undefined) return 'yes';
  if (packet.icmp.code === undefined) return 'maybe';
  return packet.icmp.code === icmp.code ? 'yes' : 'no';
}

/** Does this packet match this rule? */
export function ruleMatchesPacket(rule: Rule, packet: Packet, heps: readonly HostEndpoint[]): RuleMatch {
  const proto = protocolNumber(packet.protocol);
  const parts: RuleMatch[] = [];
  if (rule.protocol !== undefined) parts.push(protocolNumber(rule.protocol) === proto ? 'yes' : 'no');
  if (rule.notProtocol !== undefined) parts.push(protocolNumber(rule.notProtocol) === proto ? 'no' : 'yes');
  if (rule.ipVersion !== undefined) {
    const addr = packet.peer ?? packet.local;
    const v = addr !== undefined ? ipOf(addr)?.kind() : undefined;
    parts.push(v === undefined ? 'maybe' : (v === 'ipv4' ? 4 : 6) === rule.ipVersion ? 'yes' : 'no');
  }
  if (rule.icmp !== undefined) parts.push(icmpMatch(packet, rule.icmp));
  if (rule.notICMP !== undefined) parts.push(not(icmpMatch(packet, rule.notICMP)));
  if (rule.http !== undefined) parts.push('maybe');
  const who = identify(packet, heps);
  const ingress = packet.direction === 'ingress';
  const peerSide = ingress ? rule.source : rule.destination;
  const localSide = ingress ? rule.destination : rule.source;
  if (peerSide !== undefined) {
    parts.push(netsMatch(packet.peer, peerSide), peerSelectorMatch(peerSide, who));
    // The peer's port: the destination port on egress; on ingress its (ephemeral) source port is unknown.
    parts.push(portsMatch(ingress ? undefined : packet.port, peerSide));
    if (peerSide.services !== undefined) parts.push('maybe');
  }
  if (localSide !== undefined) {
    parts.push(netsMatch(packet.local, localSide));
    // The node itself is the HEP: a selector on the local side is matched against the HEP's own labels.
    if (
      (localSide.selector ?? '') !== '' ||
      (localSide.notSelector ?? '') !== '' ||
      (localSide.namespaceSelector ?? '') !== '' ||
      localSide.serviceAccounts !== undefined
    )
      parts.push('maybe');
    parts.push(portsMatch(ingress ? packet.port : undefined, localSide));
    if (localSide.services !== undefined) parts.push('maybe');
  }
  return and(...parts);
}

function failsafeHit(packet: Packet, list: readonly FailsafePort[]): RuleMatch {
  let best: RuleMatch = 'no';
  for (const f of list) {
    if (protocolNumber(f.protocol) !== protocolNumber(packet.protocol)) continue;
    if (packet.port === undefined) {
      best = 'maybe';
      continue;
    }
    if (f.port !== packet.port) continue;
    if (f.net === undefined) return 'yes';
    if (packet.peer === undefined) best = 'maybe';
    else if (inNet(packet.peer, f.net)) return 'yes';
  }
  return best;
}

/** The oracle for one packet; `heps` identify peers by their expectedIPs. */
export function packetOracle(packet: Packet, heps: readonly HostEndpoint[], failsafe?: Failsafe): Oracle {
  return {
    rule: (ref: RuleRef) => ruleMatchesPacket(ref.rule, packet, heps),
    ...(failsafe !== undefined ? { failsafe: (d: Direction) => failsafeHit(packet, d === 'ingress' ? failsafe.inbound : failsafe.outbound) } : {}),
  };
}

export interface PacketVerdict {
  /** The verdict when it is certain; `depends` when something unknown offline decides. */
  readonly verdict: 'allow' | 'drop' | 'undecided' | 'depends';
  /** Every way the packet may end, in evaluation order (one entry when certain). */
  readonly outcomes: readonly Outcome[];
}

/** The packet on the interface governed by `pipeline` (felix.ts walkEndpoint with packetOracle). */
export function packetVerdict(pipeline: EndpointPipeline, packet: Packet, heps: readonly HostEndpoint[], failsafe?: Failsafe): PacketVerdict {
  const outcomes = walkEndpoint(pipeline, packet.direction, packet.path, packetOracle(packet, heps, failsafe));
  const last = outcomes[outcomes.length - 1]!;
  const certain = outcomes.every((o) => o.verdict === last.verdict);
  return { verdict: certain ? last.verdict : 'depends', outcomes };
}
