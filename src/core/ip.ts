// Which kernel addresses become a HEP's expectedIPs, and in what text and order.
// ipaddr.js does the parsing: it handles every IPv6 spelling and emits RFC 5952 text, which
// hand-written code tends to get subtly wrong (zero-run compression, embedded IPv4, zone ids).
import ipaddr from 'ipaddr.js';
import type { InterfaceAddress } from './model.ts';

type Parsed = ipaddr.IPv4 | ipaddr.IPv6;

function parse(text: string): Parsed | undefined {
  // A zone id (fe80::1%eth0) only ever appears on link-local addresses, which we drop anyway.
  const bare = text.split('%')[0] ?? text;
  if (!ipaddr.isValid(bare)) return undefined;
  return ipaddr.parse(bare);
}

/** Canonical text: dotted quad for IPv4, RFC 5952 for IPv6. `undefined` when not an IP. */
export function canonicalIp(text: string): string | undefined {
  const ip = parse(text);
  if (ip === undefined) return undefined;
  return ip.kind() === 'ipv4' ? ip.toString() : (ip as ipaddr.IPv6).toRFC5952String();
}

/** True for the addresses a peer can reach this host by: not loopback, link-local or unspecified. */
export function isHostAddress(text: string): boolean {
  const ip = parse(text);
  if (ip === undefined) return false;
  const range = ip.range();
  return range !== 'loopback' && range !== 'linkLocal' && range !== 'unspecified';
}

function compareIps(a: Parsed, b: Parsed): number {
  const ab = a.toByteArray();
  const bb = b.toByteArray();
  // IPv4 (4 bytes) sorts before IPv6 (16 bytes); within a family, numerically.
  if (ab.length !== bb.length) return ab.length - bb.length;
  for (let i = 0; i < ab.length; i++) {
    const d = (ab[i] ?? 0) - (bb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Sorted (IPv4 first, then numerically), de-duplicated canonical texts of valid IPs. */
export function sortedUniqueIps(texts: Iterable<string>): string[] {
  const byText = new Map<string, Parsed>();
  for (const t of texts) {
    const ip = parse(t);
    if (ip === undefined) continue;
    const canon = ip.kind() === 'ipv4' ? ip.toString() : (ip as ipaddr.IPv6).toRFC5952String();
    byText.set(canon, ip);
  }
  return [...byText.entries()].sort((x, y) => compareIps(x[1], y[1])).map(([t]) => t);
}

/** expectedIPs for an interface: every IPv4/IPv6 host address, canonical, sorted, no duplicates. */
export function expectedIps(addresses: readonly InterfaceAddress[]): string[] {
  return sortedUniqueIps(addresses.map((a) => a.address).filter(isHostAddress));
}

/** Whether `ip` lies inside `cidr` (both texts). A malformed value never matches. */
export function ipInCidr(ip: string, cidr: string): boolean {
  const addr = parse(ip);
  if (addr === undefined) return false;
  let range: [Parsed, number];
  try {
    range = ipaddr.parseCIDR(cidr);
  } catch {
    return false;
  }
  const [net] = range;
  if (addr.kind() !== net.kind()) {
    // An IPv4-mapped IPv6 address matches an IPv4 range, as the kernel treats it.
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      return (addr as ipaddr.IPv6).toIPv4Address().match(range as [ipaddr.IPv4, number]);
    }
    return false;
  }
  return addr.match(range as [typeof addr, number]);
}

/** Validates CIDR text, for config checks. */
export function isCidr(text: string): boolean {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}
