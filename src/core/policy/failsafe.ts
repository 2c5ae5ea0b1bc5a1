// Felix's failsafe ports: traffic to/from these ports on a host endpoint is allowed whatever the policy
// says (in the raw, mangle and filter tables alike), so a bad policy cannot cut the node off.
// Source of truth: FelixConfiguration `failsafeInboundHostPorts` / `failsafeOutboundHostPorts`.
import { parseSelector } from '../selector/index.ts';

export interface FailsafePort {
  /** Lowercase `tcp`, `udp` or `sctp` (Calico defaults a missing protocol to tcp). */
  readonly protocol: string;
  readonly port: number;
  /** Restricts the peer to this CIDR; absent means any address. */
  readonly net?: string | undefined;
}

export interface Failsafe {
  readonly inbound: readonly FailsafePort[];
  readonly outbound: readonly FailsafePort[];
  /** Where the lists came from, for people: `Calico defaults`, `FelixConfiguration default`, ... */
  readonly source: string;
}

const tcp = (port: number): FailsafePort => ({ protocol: 'tcp', port });
const udp = (port: number): FailsafePort => ({ protocol: 'udp', port });

/** Felix's defaults (SSH, DHCP, BGP, etcd, Typha, the Kubernetes API). */
export const DEFAULT_FAILSAFE_INBOUND: readonly FailsafePort[] = [tcp(22), udp(68), tcp(179), tcp(2379), tcp(2380), tcp(5473), tcp(6443), tcp(6666), tcp(6667)];
/** Felix's defaults (DNS, DHCP, BGP, etcd, Typha, the Kubernetes API). */
export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [
  udp(53),
  udp(67),
  tcp(179),
  tcp(2379),
  tcp(2380),
  tcp(5473),
  tcp(6443),
  tcp(6666),
  tcp(6667),
];

export const DEFAULT_FAILSAFE: Failsafe = { inbound: DEFAULT_FAILSAFE_INBOUND, outbound: DEFAULT_FAILSAFE_OUTBOUND, source: 'Calico defaults' };

function parsePorts(v: unknown): FailsafePort[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: FailsafePort[] = [];
  for (const item of v) {
    if (item === null || typeof item !== 'object') continue;
    const p = item as Record<string, unknown>;
    if (typeof p['port'] !== 'number') continue;
    const protocol = typeof p['protocol'] === 'string' && p['protocol'] !== '' ? p['protocol'].toLowerCase() : 'tcp';
    out.push({ protocol, port: p['port'], ...(typeof p['net'] === 'string' && p['net'] !== '' ? { net: p['net'] } : {}) });
  }
  return out;
}

interface FelixConfigLike {
  metadata?: { name?: unknown; creationTimestamp?: unknown };
  spec?: unknown;
}

/** metadata.name, or '' when it is missing or not a string. */
function nameOf(c: FelixConfigLike): string {
  const name = c.metadata?.name;
  return typeof name === 'string' ? name : '';
}

/**
 * The node a FelixConfiguration layer is chosen for: its name (`node.<name>`) and, for
 * selector-scoped FelixConfigurations (Calico 3.32.1+), its labels. Calico matches `nodeSelector`
 * against its own Node resource's labels, which calico-node copies from the Kubernetes Node.
 */
export interface FailsafeNode {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/**
 * The winning selector-scoped FelixConfiguration for a node (felix/calc/config_batcher.go
 * MergeSelectorConfigs, v3.32.1): among those whose `nodeSelector` parses and matches the node's
 * labels, the oldest by creationTimestamp, ties by name. `default` and `node.*` cannot carry a
 * nodeSelector (the CRD's CEL rule in api/pkg/apis/projectcalico/v3/felixconfig.go).
 */
function selectorScoped(configs: readonly FelixConfigLike[], labels: Readonly<Record<string, string>>): FelixConfigLike | undefined {
  const matches: { c: FelixConfigLike; name: string; created: string }[] = [];
  for (const c of configs) {
    const name = nameOf(c);
    if (name === 'default' || name.startsWith('node.')) continue;
    const spec = (c.spec ?? {}) as Record<string, unknown>;
    const text = spec['nodeSelector'];
    if (typeof text !== 'string' || text === '') continue;
    try {
      if (!parseSelector(text).matches(labels)) continue;
    } catch {
      continue; // "Failed to parse nodeSelector on FelixConfiguration, ignoring"
    }
    const created = typeof c.metadata?.creationTimestamp === 'string' ? c.metadata.creationTimestamp : '';
    matches.push({ c, name, created });
  }
  // RFC 3339 timestamps in UTC ("...Z") compare as strings.
  matches.sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return matches[0]?.c;
}

/**
 * The failsafe ports in force for a node, from the FelixConfiguration objects given, merged field by
 * field as Felix does (felix/config/config_params.go SourcesInDescendingOrder: per-host, then
 * per-selector, then global): `node.<name>` over the selector-scoped one matching the node's labels
 * (3.32.1+; see selectorScoped) over `default`; a field set nowhere keeps Felix's default
 * (config_params.go FailsafeInboundHostPorts / FailsafeOutboundHostPorts). Environment variables on
 * calico-node (FELIX_FAILSAFEINBOUNDHOSTPORTS, ...) win over all of these and are not visible through
 * the API. `node` may be a name (no selector-scoped layer) or a FailsafeNode.
 */
export function failsafeFrom(configs: readonly FelixConfigLike[], node?: string | FailsafeNode): Failsafe {
  const nodeName = typeof node === 'string' ? node : node?.name;
  const labels = typeof node === 'object' ? node.labels : undefined;
  const byName = new Map(configs.map((c) => [nameOf(c), (c.spec ?? {}) as Record<string, unknown>]));
  // Lowest precedence first: later layers override earlier ones field by field.
  const layers: [string, Record<string, unknown>][] = [];
  const def = byName.get('default');
  if (def !== undefined) layers.push(['FelixConfiguration default', def]);
  if (labels !== undefined) {
    const scoped = selectorScoped(configs, labels);
    if (scoped !== undefined) layers.push([`FelixConfiguration ${nameOf(scoped)} (nodeSelector)`, (scoped.spec ?? {}) as Record<string, unknown>]);
  }
  const host = nodeName !== undefined ? byName.get(`node.${nodeName}`) : undefined;
  if (host !== undefined) layers.push([`FelixConfiguration node.${nodeName}`, host]);
  let inbound: readonly FailsafePort[] = DEFAULT_FAILSAFE_INBOUND;
  let outbound: readonly FailsafePort[] = DEFAULT_FAILSAFE_OUTBOUND;
  const sources: string[] = [];
  for (const [name, spec] of layers) {
    const i = parsePorts(spec['failsafeInboundHostPorts']);
    const o = parsePorts(spec['failsafeOutboundHostPorts']);
    if (i !== undefined) inbound = i;
    if (o !== undefined) outbound = o;
    if (i !== undefined || o !== undefined) sources.push(name);
  }
  return { inbound, outbound, source: sources.length > 0 ? sources.join(' + ') : 'Calico defaults' };
}

export function formatPort(p: FailsafePort): string {
  return `${p.protocol}:${p.port}${p.net !== undefined ? ` from/to ${p.net}` : ''}`;
}
