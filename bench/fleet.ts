// Fleet simulation: N in-process agents (the real Agent over the real client-node adapters, each with
// its own fake discovery) against one standalone fake API server, versus one central controller
// handling the same change, in the same run.
//
//   node bench/fleet.ts [--quick] [--n 10,100,1000]
//
// For each N: start N agents at once (time until all HEPs are correct, requests), then every node
// changes an address at once (time until every HEP is correct, per-node latency, requests per second
// at the server). Central baseline (modelled on Calico kube-controllers' auto-HEP: watch Nodes, write
// one HEP per node with the Node's addresses, a pool of workers): the change has to reach the API as a
// Node status patch per node (what each kubelet would send), then the controller writes the HEPs.
import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent, request } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Registry } from 'prom-client';
import { systemClock } from '../src/adapters/system-clock.ts';
import { Agent } from '../src/agent/agent.ts';
import { NodeEventRecorder } from '../src/agent/events.ts';
import { validateConfig } from '../src/config/load.ts';
import type { NetInterface } from '../src/core/model.ts';
import { silentLogger } from '../src/logger.ts';
import { apiClientFor } from '../src/adapters/kube/kubeconfig.ts';
import { AgentMetrics } from '../src/observability/metrics.ts';
import { flags, log, main, modeName, saveResult, sleep } from './lib/common.ts';
import { nodeObject, startServer, type StandaloneServer } from './lib/fake-server.ts';
import { HepWatch } from './lib/hep-watch.ts';
import { now } from './lib/scenario.ts';
import { fmt, fmtSummary, summarize } from './lib/stats.ts';

const f = flags();
const ni = f.args.indexOf('--n');
const SIZES = ni >= 0 ? f.args[ni + 1]!.split(',').map(Number) : f.quick ? [10, 100] : [10, 100, 1000];
const TIMEOUT = 300_000;

const ipOf = (i: number, gen: number) => `10.${gen}.${(i >> 8) & 255}.${i & 255}`;
function ifaces(i: number, gen: number): NetInterface[] {
  const a = (address: string, family: 4 | 6) => ({ address, prefixLength: family === 4 ? 32 : 64, family, scope: 'global' });
  return [
    { name: 'eth0', index: 2, operState: 'UP', flags: ['UP', 'LOWER_UP'], addresses: [a(ipOf(i, gen), 4)], hasDefaultRoute: true },
    { name: 'eth1', index: 3, operState: 'UP', flags: ['UP', 'LOWER_UP'], addresses: [a(`2001:db8:${i.toString(16)}::1`, 6)], hasDefaultRoute: false },
  ];
}

function rate(entries: { time: string; user: string; verb: string }[], fromMs: number, toMs: number) {
  const inWin = entries
    .filter((e) => e.user !== 'fake-admin' || e.verb === 'patch')
    .filter((e) => {
      const t = Date.parse(e.time);
      return t >= fromMs && t <= toMs;
    });
  const buckets = new Map<number, number>();
  const byVerb: Record<string, number> = {};
  for (const e of inWin) {
    const b = Math.floor(Date.parse(e.time) / 1000);
    buckets.set(b, (buckets.get(b) ?? 0) + 1);
    const k = `${e.verb}${e.user === 'fake-admin' ? ' (kubelet)' : ''}`;
    byVerb[k] = (byVerb[k] ?? 0) + 1;
  }
  const secs = Math.max(0.001, (toMs - fromMs) / 1000);
  return { total: inWin.length, meanPerS: inWin.length / secs, peakPerS: Math.max(0, ...buckets.values()), byVerb };
}

/** `per-node`: what `run` does (one HttpApiClient, so one keep-alive pool, per agent process). */
type Connections = 'per-node';

async function fleet(server: StandaloneServer, n: number, connections: Connections) {
  const nodeNames = Array.from({ length: n }, (_, i) => `fleet${n}${connections[0]}-${i}`);
  for (let i = 0; i < n; i += 1000) await server.admin.seed(...(nodeNames.slice(i, i + 1000).map((name) => nodeObject(name, { role: 'worker' })) as never[]));
  const watch = await HepWatch.open({ url: server.url, caPem: server.caPem, adminToken: server.adminToken });
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfig);
  const config = validateConfig({ intervals: {} });
  let gen = 1;
  const agents = nodeNames.map((nodeName, i) => {
    const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
    const client = apiClientFor(kc, metrics);
    const events = new NodeEventRecorder(client, nodeName, { logger: silentLogger, clock: systemClock });
    return new Agent({
      config: { ...config, nodeName },
      nodeName,
      api: client,
      discover: () => Promise.resolve(ifaces(i, gen)),
      metrics,
      events,
      logger: silentLogger,
      clock: systemClock,
      version: 'bench',
    });
  });
  const correct = (g: number) => nodeNames.every((nn, i) => watch.heps.get(`${nn}-eth0`)?.spec.expectedIPs?.[0] === ipOf(i, g) && watch.heps.has(`${nn}-eth1`));
  // Start all at once.
  const logA = (await server.admin.log()).total;
  const wallA = Date.now();
  const tA = now();
  for (const a of agents) a.start();
  const tAllStarted = await watch.until(() => correct(1), TIMEOUT, `fleet ${n} start`);
  const startMs = tAllStarted - tA;
  const startLoad = rate((await server.admin.log(logA)).entries, wallA, Date.now());
  log(
    `N=${n} ${connections}: all ${2 * n} HEPs correct ${fmt(startMs, 0)} ms after start; ${startLoad.total} requests (${JSON.stringify(startLoad.byVerb)}), peak ${startLoad.peakPerS}/s`,
  );
  await sleep(5_000);
  // Every node changes an address at once.
  const perNode = new Map<string, number>();
  watch.onEvent = (_type, hep, t) => {
    const idx = nodeNames.indexOf(hep.spec.node);
    if (hep.spec.interfaceName === 'eth0' && idx >= 0 && hep.spec.expectedIPs?.[0] === ipOf(idx, 2) && !perNode.has(hep.spec.node))
      perNode.set(hep.spec.node, t);
  };
  const logB = (await server.admin.log()).total;
  const wallB = Date.now();
  gen = 2;
  const tB = now();
  for (const a of agents) a.kernelChanged('bench: address changed');
  const tAll = await watch.until(() => perNode.size === n, TIMEOUT, `fleet ${n} change`);
  const wallEnd = Date.now();
  const changeLoad = rate((await server.admin.log(logB)).entries, wallB, wallEnd);
  const latencies = [...perNode.values()].map((t) => t - tB);
  log(
    `N=${n} ${connections}: change converged on all nodes in ${fmt(tAll - tB, 0)} ms; per node ${fmtSummary(summarize(latencies))}; ${changeLoad.total} requests, ${fmt(changeLoad.meanPerS, 0)}/s mean, peak ${changeLoad.peakPerS}/s ${JSON.stringify(changeLoad.byVerb)}`,
  );
  watch.onEvent = undefined;
  const mem = process.memoryUsage();
  await Promise.all(agents.map((a) => a.stop()));
  watch.close();
  return {
    n,
    connections,
    start: { allCorrectMs: startMs, ...startLoad },
    change: { allCorrectMs: tAll - tB, perNode: summarize(latencies), ...changeLoad },
    benchProcessRssMiB: mem.rss / 2 ** 20,
  };
}

/** What the central controller reads of a Node and a HostEndpoint, a list and a watch event. */
interface CentralNode {
  metadata: { name: string; labels?: Record<string, string> };
  status?: { addresses?: { address: string }[] };
}
interface CentralHep {
  metadata: { name: string; resourceVersion?: string };
  spec: { expectedIPs?: string[] };
}
interface List<T> {
  metadata: { resourceVersion: string };
  items: T[];
}
interface WatchEvent<T> {
  type: string;
  object: T;
}

/** The central baseline: one controller, list+watch Nodes, one HEP per node, `workers` concurrent writes. */
async function central(server: StandaloneServer, n: number, workers = 10) {
  const ca = server.caPem;
  const token = /token: (\S+)/.exec(readFileSync(server.kubeconfig, 'utf8'))?.[1] ?? '';
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: workers + 2, ca });
  const call = (method: string, path: string, body?: unknown, ct = 'application/json') =>
    new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(path, server.url),
        { method, agent, headers: { Authorization: `Bearer ${token}`, ...(data ? { 'Content-Type': ct, 'Content-Length': data.length } : {}) } },
        (res) => {
          const c: Buffer[] = [];
          res.on('data', (d: Buffer) => c.push(d));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, json: c.length ? JSON.parse(Buffer.concat(c).toString()) : undefined }));
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const nodeNames = Array.from({ length: n }, (_, i) => `central${n}-${i}`);
  const addrs = (i: number, g: number) => [ipOf(i, g), `2001:db8:${i.toString(16)}::1`];
  for (let i = 0; i < n; i += 1000)
    await server.admin.seed(...(nodeNames.slice(i, i + 1000).map((name, k) => nodeObject(name, { role: 'worker' }, addrs(i + k, 1))) as never[]));
  const watch = await HepWatch.open({ url: server.url, caPem: server.caPem, adminToken: server.adminToken, labelSelector: 'bench/central=true' });

  // --- the controller ---
  const heps = new Map<string, CentralHep>();
  const queue = new Set<string>();
  const nodes = new Map<string, CentralNode>();
  const waiters: Array<() => void> = [];
  const desired = (node: CentralNode) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: `${node.metadata.name}-central`, labels: { 'bench/central': 'true', ...(node.metadata.labels ?? {}) } },
    spec: {
      node: node.metadata.name,
      interfaceName: '*',
      expectedIPs: (node.status?.addresses ?? []).map((a) => a.address).sort(),
      profiles: ['projectcalico-default-allow'],
    },
  });
  let stopped = false;
  const work = async () => {
    while (!stopped) {
      const name = queue.values().next().value;
      if (name === undefined) {
        await new Promise<void>((r) => waiters.push(r));
        continue;
      }
      queue.delete(name);
      const node = nodes.get(name);
      if (!node) continue;
      const want = desired(node);
      const have = heps.get(want.metadata.name);
      if (have && JSON.stringify(have.spec.expectedIPs) === JSON.stringify(want.spec.expectedIPs)) continue;
      const r = have
        ? await call('PUT', `/apis/projectcalico.org/v3/hostendpoints/${want.metadata.name}`, {
            ...want,
            metadata: { ...want.metadata, resourceVersion: have.metadata.resourceVersion },
          })
        : await call('POST', '/apis/projectcalico.org/v3/hostendpoints', want);
      if (r.status < 300) heps.set(want.metadata.name, r.json as CentralHep);
      else queue.add(name); // retry (409: the watch brings the fresh one)
    }
  };
  const enqueue = (name: string) => {
    queue.add(name);
    waiters.shift()?.(); // one idle worker per new item
  };
  const logA = (await server.admin.log()).total;
  const wallA = Date.now();
  const tA = now();
  const hl = await call('GET', '/apis/projectcalico.org/v3/hostendpoints?labelSelector=bench%2Fcentral%3Dtrue');
  for (const h of (hl.json as List<CentralHep>).items) heps.set(h.metadata.name, h);
  const nl = await call('GET', '/api/v1/nodes');
  const nodeList = nl.json as List<CentralNode>;
  for (const nd of nodeList.items) if (nd.metadata.name.startsWith(`central${n}-`)) nodes.set(nd.metadata.name, nd);
  // Node watch (one connection): every event enqueues the node.
  const nodeWatch = request(
    new URL(`/api/v1/nodes?watch=true&resourceVersion=${nodeList.metadata.resourceVersion}`, server.url),
    { ca, agent: false, headers: { Authorization: `Bearer ${token}` } },
    (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          const ev = JSON.parse(buf.slice(0, i)) as WatchEvent<CentralNode>;
          buf = buf.slice(i + 1);
          if (ev.type === 'BOOKMARK' || !ev.object.metadata.name.startsWith(`central${n}-`)) continue;
          nodes.set(ev.object.metadata.name, ev.object);
          enqueue(ev.object.metadata.name);
        }
      });
    },
  );
  nodeWatch.on('error', () => undefined);
  nodeWatch.end();
  const pool = Array.from({ length: workers }, () => work());
  for (const name of nodes.keys()) enqueue(name);
  const okAll = (g: number) => nodeNames.every((nn, i) => watch.heps.get(`${nn}-central`)?.spec.expectedIPs?.includes(ipOf(i, g)));
  const tSynced = await watch.until(() => okAll(1), TIMEOUT, 'central initial sync');
  const startLoad = rate((await server.admin.log(logA)).entries, wallA, Date.now());
  log(`central N=${n}: initial sync ${fmt(tSynced - tA, 0)} ms, ${startLoad.total} requests`);
  await sleep(3_000);
  // The change: each node's kubelet patches its status addresses (concurrency 50), the controller follows.
  const perNode = new Map<string, number>();
  watch.onEvent = (_t, hep, t) => {
    const idx = nodeNames.indexOf(hep.spec.node);
    if (idx >= 0 && hep.spec.expectedIPs?.includes(ipOf(idx, 2)) && !perNode.has(hep.spec.node)) perNode.set(hep.spec.node, t);
  };
  const logB = (await server.admin.log()).total;
  const wallB = Date.now();
  const tB = now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(50, n) }, async () => {
      while (next < n) {
        const i = next++;
        await server.call(
          'PATCH',
          `/api/v1/nodes/${nodeNames[i]}`,
          { status: { addresses: addrs(i, 2).map((address) => ({ type: 'InternalIP', address })) } },
          'application/merge-patch+json',
        );
      }
    }),
  );
  const tPatched = now();
  const tAll = await watch.until(() => perNode.size === n, TIMEOUT, 'central change');
  const changeLoad = rate((await server.admin.log(logB)).entries, wallB, Date.now());
  const lat = [...perNode.values()].map((t) => t - tB);
  log(
    `central N=${n}: change on all nodes in ${fmt(tAll - tB, 0)} ms (kubelet patches took ${fmt(tPatched - tB, 0)} ms); per node ${fmtSummary(summarize(lat))}; ${changeLoad.total} requests, ${fmt(changeLoad.meanPerS, 0)}/s mean, peak ${changeLoad.peakPerS}/s ${JSON.stringify(changeLoad.byVerb)}`,
  );
  stopped = true;
  for (const w of waiters.splice(0)) w();
  nodeWatch.destroy();
  agent.destroy();
  watch.close();
  await Promise.race([Promise.all(pool), sleep(1000)]);
  return {
    n,
    workers,
    start: { allCorrectMs: tSynced - tA, ...startLoad },
    change: { allCorrectMs: tAll - tB, kubeletPatchesMs: tPatched - tB, perNode: summarize(lat), ...changeLoad },
  };
}

await main(async (cleanups) => {
  const out: unknown[] = [];
  for (const n of SIZES) {
    const server = await startServer({ bookmarkIntervalMs: 60_000, watchHistory: Math.max(1000, 10 * n) });
    cleanups.push(() => server.stop());
    const rounds: Record<string, unknown> = {};
    rounds['agents (per-node connections)'] = await fleet(server, n, 'per-node');
    rounds['central'] = await central(server, n);
    out.push(rounds);
    await server.stop();
  }
  const path = saveResult('fleet', [modeName(f), ni >= 0 ? `n${SIZES.join('_')}` : ''].filter(Boolean).join('-'), {
    sizes: SIZES,
    results: out,
    note: 'agents: 2 interfaces per node, default config, in one process; central: 1 HEP per node (interfaceName *), 10 workers, raw HTTPS keep-alive',
  });
  log(`saved ${path}`);
});
