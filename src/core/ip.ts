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

/**
 * The address as Calico reads it: an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) is the IPv4
 * address. libcalico-go parses expectedIPs with Go's net.ParseIP and keeps To4() when it is not nil
 * (libcalico-go/lib/net/ip.go, used by updateprocessors/hostendpointprocessor.go), so Felix would
 * treat `::ffff:1.2.3.4` as `1.2.3.4` anyway: we write what it reads.
 */
function unmapped(ip: Parsed): Parsed {
  return ip.kind() === 'ipv6' && (ip as ipaddr.IPv6).isIPv4MappedAddress() ? (ip as ipaddr.IPv6).toIPv4Address() : ip;
}

function canonicalText(ip: Parsed): string {
  const v = unmapped(ip);
  return v.kind() === 'ipv4' ? v.toString() : (v as ipaddr.IPv6).toRFC5952String();
}

/**
 * Canonical text: dotted quad for IPv4 (IPv4-mapped IPv6 included, as Calico reads it), RFC 5952
 * for IPv6. `undefined` when not an IP.
 */
export function canonicalIp(text: string): string | undefined {
  const ip = parse(text);
  return ip === undefined ? undefined : canonicalText(ip);
}

/** True for the addresses a peer can reach this host by: not loopback, link-local or unspecified. */
export function isHostAddress(text: string): boolean {
  const parsed = parse(text);
  if (parsed === undefined) return false;
  // `::ffff:127.0.0.1` is loopback as far as Calico is concerned.
  const range = unmapped(parsed).range();
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

/**
 * Sorted (IPv4 first, then numerically), de-duplicated canonical texts of valid IPs. An IPv4-mapped
 * IPv6 address becomes its IPv4 address, so `::ffff:192.0.2.1` and `192.0.2.1` are one entry.
 */
export function sortedUniqueIps(texts: Iterable<string>): string[] {
  const byText = new Map<string, Parsed>();
  for (const t of texts) {
    const parsed = parse(t);
    if (parsed === undefined) continue;
    const ip = unmapped(parsed);
    byText.set(canonicalText(ip), ip);
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
      return (addr as ipaddr.IPv6).toIPv4Address().match(range);
    }
    return false;
  }
  return addr.match(range);
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
