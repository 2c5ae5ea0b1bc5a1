// Felix's failsafe ports: traffic to/from these ports on a host endpoint is allowed whatever the policy
// says (in the raw, mangle and filter tables alike), so a bad policy cannot cut the node off.
// Source of truth: FelixConfiguration `failsafeInboundHostPorts` / `failsafeOutboundHostPorts`.

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
export const DEFAULT_FAILSAFE_OUTBOUND: readonly FailsafePort[] = [udp(53), udp(67), tcp(179), tcp(2379), tcp(2380), tcp(5473), tcp(6443), tcp(6666), tcp(6667)];

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
  metadata?: { name?: unknown };
  spec?: unknown;
}

/**
 * The failsafe ports in force for a node, from the FelixConfiguration objects given: `node.<name>`
 * overrides `default` field by field, as Felix merges them; a field set nowhere keeps Felix's default.
 * (Environment variables on calico-node, FELIX_FAILSAFEINBOUNDHOSTPORTS etc., win over both and are
 * not visible through the API.)
 */
export function failsafeFrom(configs: readonly FelixConfigLike[], nodeName?: string): Failsafe {
  const byName = new Map(configs.map((c) => [String(c.metadata?.name ?? ''), (c.spec ?? {}) as Record<string, unknown>]));
  const layers: [string, Record<string, unknown>][] = [];
  const def = byName.get('default');
  if (def !== undefined) layers.push(['FelixConfiguration default', def]);
  const node = nodeName !== undefined ? byName.get(`node.${nodeName}`) : undefined;
  if (node !== undefined) layers.push([`FelixConfiguration node.${nodeName}`, node]);
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
