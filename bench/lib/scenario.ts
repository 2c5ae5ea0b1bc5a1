// One node under test: a namespace with interfaces, its Node in the fake API server, the agent as a
// child process watching the namespace, and the benchmark's HEP watch to see when it is correct.
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { Netns } from '../../test/helpers/netns.ts';
import { spawnAgent, writeConfig, type AgentProcess } from './agent-proc.ts';
import { HepWatch, sameSet } from './hep-watch.ts';
import { nodeObject, type StandaloneServer } from './fake-server.ts';

/** `eth0..eth{n-1}` as ifb links (one netlink object each, no peer), each with one IPv4 and one IPv6 address. */
export async function addInterfaces(
  ns: Netns,
  n: number,
  opts: { prefix?: string; addrsPerIface?: number; start?: number } = {},
): Promise<Map<string, string[]>> {
  const prefix = opts.prefix ?? 'eth';
  const per = opts.addrsPerIface ?? 2;
  const start = opts.start ?? 0;
  const lines: string[] = [];
  const expected = new Map<string, string[]>();
  for (let i = start; i < start + n; i++) {
    const name = `${prefix}${i}`;
    lines.push(`link add ${name} type ifb`, `link set ${name} up`);
    const ips = addressesFor(i, per);
    for (const ip of ips) lines.push(`addr add ${ip}${ip.includes(':') ? '/64 nodad' : '/32'} dev ${name}`);
    expected.set(
      name,
      ips.map((ip) => ip),
    );
  }
  // ip -batch in chunks keeps each run short and its errors attributable.
  for (let i = 0; i < lines.length; i += 2000) await ns.batch(lines.slice(i, i + 2000));
  return expected;
}

const V4_POOLS = ['192.0.2.', '198.51.100.', '203.0.113.'];

/** Unique documentation addresses for interface `i`: half IPv4 (from the three TEST-NETs), half IPv6. */
export function addressesFor(i: number, per: number): string[] {
  const out: string[] = [];
  const v4 = Math.ceil(per / 2);
  for (let k = 0; k < v4; k++) {
    const idx = i * v4 + k; // 0..761 across the three /24s (hosts 1..254)
    const pool = V4_POOLS[Math.floor(idx / 254)];
    if (pool === undefined) throw new Error(`out of IPv4 documentation addresses at interface ${i}`);
    out.push(`${pool}${(idx % 254) + 1}`);
  }
  for (let k = 0; k < per - v4; k++) out.push(`2001:db8:${(i + 1).toString(16)}::${(k + 1).toString(16)}`);
  return out;
}

export interface NodeUnderTest {
  readonly agent: AgentProcess;
  readonly watch: HepWatch;
  readonly nodeName: string;
  /** performance.now() at which every expected HEP was correct. */
  readonly convergedAt: number;
  /** Probe/metrics port, parsed from the agent's log. */
  metricsPort(): Promise<number>;
}

/** All expected HEPs `<node>-<iface>` exist with exactly these expectedIPs. */
export function allCorrect(watch: HepWatch, nodeName: string, expected: Map<string, string[]>): () => boolean {
  return () => {
    for (const [iface, ips] of expected) {
      if (!sameSet(watch.heps.get(`${nodeName}-${iface}`)?.spec.expectedIPs, ips)) return false;
    }
    return true;
  };
}

export async function startNodeUnderTest(p: {
  server: StandaloneServer;
  ns: Netns;
  dir: string;
  entry: string;
  nodeName: string;
  expected: Map<string, string[]>;
  configYaml?: string;
  labels?: Record<string, string>;
  timeoutMs?: number;
  watch?: HepWatch;
  /** Node flags before the entry point (V8 flags under test). */
  nodeArgs?: string[];
}): Promise<NodeUnderTest> {
  await p.server.admin.seed(nodeObject(p.nodeName, p.labels ?? { role: 'worker' }));
  const watch =
    p.watch ??
    (await HepWatch.open({
      url: p.server.url,
      caPem: p.server.caPem,
      adminToken: p.server.adminToken,
      labelSelector: `calico-hep-agent.io/node=${p.nodeName}`,
    }));
  const config = await writeConfig(p.dir, p.configYaml ?? '');
  const agent = spawnAgent({
    entry: p.entry,
    kubeconfig: p.server.kubeconfig,
    config,
    netns: p.ns.name,
    nodeName: p.nodeName,
    logFile: join(p.dir, `${p.nodeName}.log`),
    ...(p.nodeArgs !== undefined ? { nodeArgs: p.nodeArgs } : {}),
  });
  const convergedAt = await watch.until(allCorrect(watch, p.nodeName, p.expected), p.timeoutMs ?? 60_000, `HEPs of ${p.nodeName} (log: ${agent.logFile})`);
  return {
    agent,
    watch,
    nodeName: p.nodeName,
    convergedAt,
    metricsPort: async () => {
      const { readFile } = await import('node:fs/promises');
      const text = await readFile(agent.logFile, 'utf8');
      const m = /"port":(\d+)/.exec(text);
      if (!m) throw new Error('agent has not logged its port yet');
      return Number(m[1]);
    },
  };
}

export async function scrape(port: number): Promise<Map<string, number>> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await res.text();
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue;
    const sp = line.lastIndexOf(' ');
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)));
  }
  return out;
}

export const now = (): number => performance.now();
