// Which HostEndpoint governs each interface of a node, as Felix decides it
// (felix/dataplane/linux/endpoint_mgr.go resolveHostEndpoints, projectcalico/calico 87c15906):
//   - A HEP naming the interface (spec.interfaceName) is a candidate for it; a HEP naming another
//     interface is never a candidate, whatever its expectedIPs.
//   - A HEP without interfaceName is a candidate for every interface holding one of its expectedIPs.
//   - Among the candidates, the alphabetically first HEP name (Go string order) wins; the others
//     stay inactive.
//   - A `*` (all-interfaces) HEP is never a candidate: the alphabetically first one is the default
//     for every interface no other HEP claims. So a named HEP shadows the `*` HEP on its interface,
//     and policies that select the `*` HEP (e.g. Calico's auto HEP, labelled like the Node) but not
//     the named HEP stop applying there.
// Pure: the caller supplies the node's interfaces and HEPs.
import ipaddr from 'ipaddr.js';
import type { HostEndpoint } from '../model.ts';
import { isCalicoAutoHostEndpoint, isManaged } from '../ownership.ts';
import { compareCodePoints } from '../selector/ast.ts';
import { selectsLabels, type Policy } from './model.ts';

export interface HostInterface {
  readonly name: string;
  /** The interface's addresses (any spelling; compared canonically). */
  readonly addresses: readonly string[];
}

export type HostEndpointOrigin = 'agent' | 'calico-auto' | 'hand-written';
export type ClaimVia = 'interfaceName' | 'expectedIPs' | 'all-interfaces default';

export interface Claim {
  readonly hostEndpoint: string;
  readonly origin: HostEndpointOrigin;
  readonly via: ClaimVia;
}

export interface InterfaceGovernance {
  readonly interfaceName: string;
  readonly addresses: readonly string[];
  /** The HEP Felix uses for this interface; undefined when none: Felix does not police it. */
  readonly governing: Claim | undefined;
  readonly reason: string;
  /** Candidates that lost to `governing` (alphabetically later). */
  readonly inactive: readonly Claim[];
  /** When a named HEP governs while a `*` HEP exists: the `*` HEP and the policies that stop applying here. */
  readonly shadows: { readonly hostEndpoint: string; readonly policies: readonly string[] } | undefined;
}

export interface NodeGovernance {
  readonly node: string;
  readonly interfaces: readonly InterfaceGovernance[];
  /** The `*` HEP in use as the default, if any, and the other `*` HEPs it beats. */
  readonly allInterfaces: { readonly hostEndpoint: string; readonly inactive: readonly string[] } | undefined;
  /** HEPs of the node that govern no interface, and why. */
  readonly idle: readonly { readonly hostEndpoint: string; readonly reason: string }[];
}

export function originOf(hep: HostEndpoint): HostEndpointOrigin {
  if (isManaged(hep.metadata.labels)) return 'agent';
  if (isCalicoAutoHostEndpoint(hep.metadata.name, hep.metadata.labels)) return 'calico-auto';
  return 'hand-written';
}

/** Canonical text; an IPv4-mapped IPv6 address is read as the IPv4 address, as libcalico-go does. */
function canonical(text: string): string | undefined {
  const bare = text.split('/')[0]!.split('%')[0]!;
  if (!ipaddr.isValid(bare)) return undefined;
  const ip = ipaddr.parse(bare);
  if (ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress()) return (ip as ipaddr.IPv6).toIPv4Address().toString();
  return ip.kind() === 'ipv4' ? ip.toString() : (ip as ipaddr.IPv6).toRFC5952String();
}

const byName = (a: { hostEndpoint: string }, b: { hostEndpoint: string }) => compareCodePoints(a.hostEndpoint, b.hostEndpoint);

/**
 * Felix's choice for each interface of one node. `heps` are the node's HEPs (others are ignored);
 * `policies` (enforced ones) name what a `*` HEP's shadowing costs.
 */
export function governInterfaces(
  node: string,
  interfaces: readonly HostInterface[],
  heps: readonly HostEndpoint[],
  policies: readonly Policy[] = [],
): NodeGovernance {
  const mine = heps.filter((h) => h.spec.node === node);
  const all = mine.filter((h) => h.spec.interfaceName === '*').sort((a, b) => compareCodePoints(a.metadata.name, b.metadata.name));
  const star = all[0];
  const used = new Set<string>();
  const out: InterfaceGovernance[] = [];
  for (const iface of [...interfaces].sort((a, b) => compareCodePoints(a.name, b.name))) {
    const addrs = new Set(iface.addresses.map(canonical).filter((a): a is string => a !== undefined));
    const claims: Claim[] = [];
    for (const h of mine) {
      const name = h.spec.interfaceName ?? '';
      if (name === '*') continue;
      if (name !== '') {
        if (name === iface.name) claims.push({ hostEndpoint: h.metadata.name, origin: originOf(h), via: 'interfaceName' });
        continue; // names another interface: never matched by address
      }
      if ((h.spec.expectedIPs ?? []).some((ip) => addrs.has(canonical(ip) ?? '')))
        claims.push({ hostEndpoint: h.metadata.name, origin: originOf(h), via: 'expectedIPs' });
    }
    claims.sort(byName);
    const winner = claims[0];
    if (winner !== undefined) {
      used.add(winner.hostEndpoint);
      const how =
        winner.via === 'interfaceName' ? `names interface ${iface.name}` : `has no interfaceName and lists one of ${iface.name}'s addresses in expectedIPs`;
      const reason =
        claims.length > 1
          ? `${winner.hostEndpoint} ${how}; of ${claims.length} candidates Felix takes the alphabetically first name`
          : `${winner.hostEndpoint} ${how}`;
      let shadows: InterfaceGovernance['shadows'];
      if (star !== undefined) {
        const g = mine.find((h) => h.metadata.name === winner.hostEndpoint)!;
        const lost = policies.filter((p) => selectsLabels(p, star.metadata.labels ?? {}) && !selectsLabels(p, g.metadata.labels ?? {})).map((p) => p.name);
        shadows = { hostEndpoint: star.metadata.name, policies: lost };
      }
      out.push({ interfaceName: iface.name, addresses: iface.addresses, governing: winner, reason, inactive: claims.slice(1), shadows });
    } else if (star !== undefined) {
      used.add(star.metadata.name);
      out.push({
        interfaceName: iface.name,
        addresses: iface.addresses,
        governing: { hostEndpoint: star.metadata.name, origin: originOf(star), via: 'all-interfaces default' },
        reason: `no HostEndpoint claims ${iface.name} by name or address: the all-interfaces (*) HostEndpoint ${star.metadata.name} applies`,
        inactive: [],
        shadows: undefined,
      });
    } else {
      out.push({
        interfaceName: iface.name,
        addresses: iface.addresses,
        governing: undefined,
        reason: `no HostEndpoint claims ${iface.name}: Felix does not police it (all traffic passes)`,
        inactive: [],
        shadows: undefined,
      });
    }
  }
  const idle: { hostEndpoint: string; reason: string }[] = [];
  for (const h of mine) {
    const name = h.metadata.name;
    if (used.has(name)) continue;
    const iface = h.spec.interfaceName ?? '';
    let reason: string;
    if (iface === '*')
      reason =
        star !== undefined && star.metadata.name !== name
          ? `another all-interfaces HostEndpoint, ${star.metadata.name}, sorts first`
          : 'every interface is claimed by a named or address-matched HostEndpoint';
    else {
      const lostTo = out.find((g) => g.inactive.some((c) => c.hostEndpoint === name));
      if (lostTo !== undefined) reason = `${lostTo.governing!.hostEndpoint} governs ${lostTo.interfaceName} (alphabetically first)`;
      else if (iface !== '') reason = `no interface ${iface} among the node's interfaces examined`;
      else reason = 'none of its expectedIPs is on an interface examined';
    }
    idle.push({ hostEndpoint: name, reason });
  }
  idle.sort(byName);
  return {
    node,
    interfaces: out,
    allInterfaces: star !== undefined ? { hostEndpoint: star.metadata.name, inactive: all.slice(1).map((h) => h.metadata.name) } : undefined,
    idle,
  };
}

/** The interfaces of a node as its HEPs describe them (our HEPs carry name and addresses), for nodes we cannot inspect. */
export function interfacesFromHostEndpoints(node: string, heps: readonly HostEndpoint[]): HostInterface[] {
  const byIface = new Map<string, Set<string>>();
  for (const h of heps) {
    if (h.spec.node !== node) continue;
    const name = h.spec.interfaceName ?? '';
    if (name === '' || name === '*') continue;
    const set = byIface.get(name) ?? new Set<string>();
    // Only our HEPs' expectedIPs are known to be the interface's addresses.
    if (isManaged(h.metadata.labels)) for (const ip of h.spec.expectedIPs ?? []) set.add(ip);
    byIface.set(name, set);
  }
  return [...byIface.entries()].map(([name, set]) => ({ name, addresses: [...set] }));
}
