// Pure parsing of iproute2 JSON output into the domain model. No I/O: unit-tested with fixtures
// captured from real kernels (test/adapters/netlink/fixtures/).
//
// Inputs:
//   addr:     `ip -j -d addr show`            (links with their `addr_info` and `linkinfo`)
//   routesV4: `ip -j route show default table main`
//   routesV6: `ip -j -6 route show default table main`
//
// Shape problems throw DiscoveryError('parse') naming the offending path: a half-understood answer
// must never become a shorter interface list.

import type { InterfaceAddress, NetInterface } from '../../core/model.ts';
import { DiscoveryError } from './errors.ts';
import { errorMessage } from '../../core/error-message.ts';

type Json = unknown;

function fail(where: string, what: string): never {
  throw new DiscoveryError('parse', `unexpected \`ip -j\` output at ${where}: ${what}. Is \`ip\` a current iproute2?`);
}

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function decode(source: string, input: Json): Json {
  if (typeof input !== 'string') return input;
  try {
    return JSON.parse(input);
  } catch (err) {
    const snippet = input.length > 120 ? `${input.slice(0, 120)}…` : input;
    throw new DiscoveryError(
      'parse',
      `output of ${source} is not valid JSON (${errorMessage(err)}): ${JSON.stringify(snippet)}. Is \`ip\` a current iproute2 with -j support?`,
      {
        cause: err,
      },
    );
  }
}

function arrayAt(source: string, input: Json): readonly Json[] {
  const value = decode(source, input);
  if (!Array.isArray(value)) fail(source, `expected a JSON array, got ${value === null ? 'null' : typeof value}`);
  return value;
}

function stringField(obj: Record<string, Json>, key: string, where: string): string {
  const v = obj[key];
  if (typeof v !== 'string' || v === '') fail(`${where}.${key}`, `expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
}

function optionalString(obj: Record<string, Json>, key: string, where: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') fail(`${where}.${key}`, `expected a string, got ${JSON.stringify(v)}`);
  return v;
}

function stringArray(obj: Record<string, Json>, key: string, where: string): string[] {
  const v = obj[key];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) fail(`${where}.${key}`, `expected an array of strings, got ${JSON.stringify(v)}`);
  return [...v];
}

const MAC_RE = /^[0-9a-f]{2}(?::[0-9a-f]{2})+$/i;

/** `ip` prints scopes by name (`global`, `link`, `host`, `site`, or a name from rt_scopes) or number. */
function scopeOf(v: Json, where: string): string {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return String(v);
  return fail(`${where}.scope`, `expected a scope name, got ${JSON.stringify(v)}`);
}

function parseAddress(raw: Json, where: string): InterfaceAddress | undefined {
  if (!isObject(raw)) fail(where, 'expected an object');
  const fam = raw['family'];
  // Only IP addresses matter; other families (mpls, ...) are skipped, not errors.
  if (fam !== 'inet' && fam !== 'inet6') return undefined;
  const family = fam === 'inet' ? 4 : 6;
  // `local` is the interface's own address; `address` alone appears for some point-to-point setups
  // (and is the peer when both are present).
  const address = optionalString(raw, 'local', where) ?? optionalString(raw, 'address', where);
  if (address === undefined || address === '') fail(`${where}.local`, 'missing address');
  const prefixLength = raw['prefixlen'];
  const max = family === 4 ? 32 : 128;
  if (typeof prefixLength !== 'number' || !Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) {
    fail(`${where}.prefixlen`, `expected an integer 0..${max}, got ${JSON.stringify(prefixLength)}`);
  }
  if (family === 4 ? !address.includes('.') : !address.includes(':')) {
    fail(`${where}.local`, `${JSON.stringify(address)} is not an IPv${family} address`);
  }
  return { address, prefixLength, family, scope: scopeOf(raw['scope'], where) };
}

/**
 * Interface names that main-table default routes leave through: unicast routes only (`unreachable`,
 * `blackhole`, `prohibit`, `throw` routes point at `lo` or nowhere), including every `dev` of a
 * multipath route's `nexthops`.
 */
export function defaultRouteDevices(routesJson: Json, source: string): Set<string> {
  const devs = new Set<string>();
  arrayAt(source, routesJson).forEach((route, i) => {
    const where = `${source}[${i}]`;
    if (!isObject(route)) fail(where, 'expected an object');
    const type = optionalString(route, 'type', where);
    if (type !== undefined && type !== 'unicast') return;
    const table = route['table'];
    if (table !== undefined && table !== 'main' && table !== 254 && table !== '254') return;
    const dst = route['dst'];
    if (dst !== undefined && dst !== 'default' && dst !== '0.0.0.0/0' && dst !== '::/0') return;
    const dev = optionalString(route, 'dev', where);
    if (dev !== undefined && dev !== '') devs.add(dev);
    const hops = route['nexthops'];
    if (hops === undefined) return;
    if (!Array.isArray(hops)) fail(`${where}.nexthops`, 'expected an array');
    hops.forEach((hop, j) => {
      if (!isObject(hop)) fail(`${where}.nexthops[${j}]`, 'expected an object');
      const hopDev = optionalString(hop, 'dev', `${where}.nexthops[${j}]`);
      if (hopDev !== undefined && hopDev !== '') devs.add(hopDev);
    });
  });
  return devs;
}

/**
 * Turn `ip -j -d addr show` plus the two default-route listings into NetInterfaces, in kernel
 * (ifindex dump) order. Each argument is either the raw stdout text or the already-decoded JSON.
 *
 * Every link is returned, whatever its state, with every IPv4/IPv6 address exactly as the kernel
 * printed it. IPv4 alias labels (`eth0:1`) are only labels: those addresses stay on `eth0`.
 */
export function parseIpAddrJson(addrJson: Json, routesV4Json: Json, routesV6Json: Json): NetInterface[] {
  const links = arrayAt('`ip -j -d addr show`', addrJson);
  const defaultDevs = new Set([
    ...defaultRouteDevices(routesV4Json, '`ip -j route show default`'),
    ...defaultRouteDevices(routesV6Json, '`ip -j -6 route show default`'),
  ]);

  const seenNames = new Set<string>();
  const seenIndexes = new Set<number>();
  const result: NetInterface[] = [];
  links.forEach((link, i) => {
    const where = `addr[${i}]`;
    if (!isObject(link)) fail(where, 'expected an object');
    const index = link['ifindex'];
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 1)
      fail(`${where}.ifindex`, `expected a positive integer, got ${JSON.stringify(index)}`);
    const name = stringField(link, 'ifname', where);
    // A rename or delete racing the dump can list a link twice; refuse rather than guess.
    if (seenNames.has(name) || seenIndexes.has(index)) fail(where, `interface ${JSON.stringify(name)} (index ${index}) listed twice (inconsistent dump)`);
    seenNames.add(name);
    seenIndexes.add(index);

    const linkinfo = link['linkinfo'];
    let kind: string | undefined;
    if (linkinfo !== undefined) {
      if (!isObject(linkinfo)) fail(`${where}.linkinfo`, 'expected an object');
      kind = optionalString(linkinfo, 'info_kind', `${where}.linkinfo`);
    }

    const linkType = optionalString(link, 'link_type', where);
    const hw = optionalString(link, 'address', where);
    // Tunnels print an IP here (`0.0.0.0`) and `link_type none` devices print nothing: not MACs.
    const mac = hw !== undefined && linkType !== 'none' && MAC_RE.test(hw) ? hw : undefined;

    const rawAddrs = link['addr_info'];
    if (rawAddrs !== undefined && !Array.isArray(rawAddrs)) fail(`${where}.addr_info`, 'expected an array');
    const addresses: InterfaceAddress[] = [];
    (rawAddrs ?? []).forEach((a: Json, j: number) => {
      const parsed = parseAddress(a, `${where}(${name}).addr_info[${j}]`);
      if (parsed !== undefined) addresses.push(parsed);
    });

    result.push({
      name,
      index,
      kind: kind === '' ? undefined : kind,
      operState: optionalString(link, 'operstate', where) ?? 'UNKNOWN',
      flags: stringArray(link, 'flags', where),
      mac,
      addresses,
      hasDefaultRoute: defaultDevs.has(name),
    });
  });
  return result;
}
