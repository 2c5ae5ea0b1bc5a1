// Cost independent of cluster size (issue 13), with the real agent runtime in-process (HttpApiClient,
// cluster view, work loop, real clock) against the standalone fake API server (its own process):
//
//   node bench/cluster-view.ts [--quick]
//
// 1. Cold start of a new node (2 interfaces) in an empty cluster vs one with 20,000 other HEPs
//    (other nodes' managed HEPs, Calico auto HEPs of other nodes, a few hand-written ones):
//    agent.start() to both HEPs in the API, and the bytes of every list/get answer the agent read
//    (the JSON of what the ApiClient returned). Interleaved runs, two servers.
// 2. Conflict report latency: a hand-written HEP for an interface of the running agent is created;
//    time until the conflict gauge reads 1 (the agent reports it in the same pass as the Event);
//    then deleted. In the 20,000-HEP cluster.
import { KubeConfig } from '@kubernetes/client-node';
import type { ApiClient } from '../src/adapters/kube/api-client.ts';
import type { AgentMetrics } from '../src/observability/metrics.ts';
import { flags, log, main, saveResult, sleep } from './lib/common.ts';
import { nodeObject, startServer, type StandaloneServer } from './lib/fake-server.ts';
import { inProcessAgent } from './lib/in-process-agent.ts';
import { fmtSummary, summarize } from './lib/stats.ts';

const f = flags();
const RUNS = f.quick ? 3 : 20;
const CONFLICTS = f.quick ? 10 : 50;
const OTHERS = 20_000;
const HEPS = '/apis/projectcalico.org/v3/hostendpoints';

const now = (): number => performance.now();

/** Counts the bytes of every answer the agent read (the JSON of what the client returned). */
function counting(inner: ApiClient): ApiClient & { bytes: number; byPath: Map<string, number>; timeline: string[]; t0: number } {
  const add = (key: string, n: number): void => {
    c.bytes += n;
    c.byPath.set(key, (c.byPath.get(key) ?? 0) + n);
    c.timeline.push(`${(now() - c.t0).toFixed(1)} ${key} ${n}`);
  };
  const c = {
    bytes: 0,
    byPath: new Map<string, number>(),
    /** ms since t0, what was read (BENCH_DEBUG prints it) */
    timeline: [] as string[],
    t0: now(),
    async get(path: string, o?: never) {
      const r = await inner.get(path, o);
      add(`get ${path}`, JSON.stringify(r).length);
      return r;
    },
    async list(path: string, q?: { labelSelector?: string }, o?: never) {
      const r = await inner.list(path, q, o);
      add(`list ${path} ${q?.labelSelector ?? ''}`, JSON.stringify(r.items).length);
      return r;
    },
    async create(path: string, body: never, o?: never) {
      c.timeline.push(`${(now() - c.t0).toFixed(1)} create ${path} sent`);
      const r = await inner.create(path, body, o);
      c.timeline.push(`${(now() - c.t0).toFixed(1)} create ${path} answered`);
      return r;
    },
    replace: inner.replace.bind(inner),
    patch: inner.patch.bind(inner),
    delete: inner.delete.bind(inner),
    watch(path: string, q: never, onEvent: never, o?: never) {
      return inner.watch(
        path,
        q,
        (e) => {
          add(`watch ${path}`, JSON.stringify(e.object).length);
          (onEvent as (x: unknown) => void)(e);
        },
        o,
      );
    },
  };
  return c;
}

function hep(name: string, node: string, iface: string, labels: Record<string, string>) {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node, interfaceName: iface, expectedIPs: ['10.0.0.1'], profiles: ['projectcalico-default-allow'] },
  };
}

async function seedOthers(server: StandaloneServer): Promise<void> {
  const objects: object[] = [];
  const managed = (node: string, i: string) => ({
    'app.kubernetes.io/managed-by': 'calico-hep-agent',
    'calico-hep-agent.io/node': node,
    'calico-hep-agent.io/interface': i,
    role: 'worker',
  });
  // 9,000 nodes' worth: two managed HEPs each, plus one auto HEP per 4 nodes (kube-controllers),
  // plus 50 hand-written ones on other nodes: 20,000 in all.
  let n = 0;
  for (let i = 0; n < OTHERS - 50; i++) {
    const node = `other-${i}`;
    objects.push(hep(`${node}-eth0`, node, 'eth0', managed(node, 'eth0')), hep(`${node}-eth1`, node, 'eth1', managed(node, 'eth1')));
    n += 2;
    if (i % 4 === 0 && n < OTHERS - 50) {
      objects.push(hep(`${node}-auto-hep`, node, '*', { 'projectcalico.org/created-by': 'calico-kube-controllers', 'kubernetes.io/hostname': node }));
      n += 1;
    }
  }
  for (let i = 0; i < 50; i++) objects.push(hep(`hand-${i}`, `other-${i}`, 'eth9', { owner: 'ops' }));
  for (let i = 0; i < objects.length; i += 1000) await server.admin.seed(...(objects.slice(i, i + 1000) as never[]));
}

function startAgent(server: StandaloneServer, nodeName: string) {
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfig);
  return inProcessAgent(kc, nodeName, counting);
}

async function exists(server: StandaloneServer, name: string): Promise<boolean> {
  return (await server.call('GET', `${HEPS}/${name}`)).status === 200;
}

async function until(pred: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(2);
  }
}

async function conflictGauge(metrics: AgentMetrics): Promise<number> {
  const m = await metrics.registry.getSingleMetric('calico_hep_agent_drift')?.get();
  return m?.values.find((v) => v.labels['kind'] === 'conflict')?.value ?? 0;
}

await main(async (cleanups) => {
  const empty = await startServer();
  cleanups.push(() => empty.stop());
  const big = await startServer();
  cleanups.push(() => big.stop());
  const t0 = now();
  await seedOthers(big);
  log(`seeded ${OTHERS} other HEPs in ${((now() - t0) / 1000).toFixed(1)} s`);

  // Baseline: the server's own time for one label-selected HEP list that matches nothing, over raw
  // HTTPS (the fake server filters by cloning every stored object, so this grows with the cluster).
  const serverList: Record<string, number[]> = { empty: [], [`${OTHERS} others`]: [] };
  const cold: Record<string, number[]> = { empty: [], [`${OTHERS} others`]: [] };
  const bytes: Record<string, number[]> = { empty: [], [`${OTHERS} others`]: [] };
  let k = 0;
  for (let r = 0; r < RUNS; r++) {
    for (const [label, server] of [
      ['empty', empty],
      [`${OTHERS} others`, big],
    ] as const) {
      const nodeName = `cold-${k++}`;
      // kubelet sets kubernetes.io/hostname on every Node; kube-controllers copies it onto auto HEPs.
      await server.admin.seed(nodeObject(nodeName, { role: 'worker', 'kubernetes.io/hostname': nodeName }));
      const a = startAgent(server, nodeName);
      const start = now();
      a.api.t0 = start;
      a.agent.start();
      await until(async () => (await exists(server, `${nodeName}-eth0`)) && (await exists(server, `${nodeName}-eth1`)), 30_000, `${nodeName} HEPs`);
      cold[label]!.push(now() - start);
      const tl = now();
      await server.call('GET', `${HEPS}?labelSelector=${encodeURIComponent('calico-hep-agent.io/node=nobody')}&limit=500`);
      serverList[label]!.push(now() - tl);
      bytes[label]!.push(a.api.bytes);
      if (process.env['BENCH_DEBUG']) log(`${label}: ${JSON.stringify([...a.api.byPath])}\n  ${a.api.timeline.join('\n  ')}`);
      await a.stop();
    }
  }
  const coldS = Object.fromEntries(Object.entries(cold).map(([k2, v]) => [k2, summarize(v)]));
  for (const [k2, s] of Object.entries(coldS)) log(`cold start, ${k2}: ${fmtSummary(s)}; bytes read at start: median ${summarize(bytes[k2]!).p50}`);
  const listS = Object.fromEntries(Object.entries(serverList).map(([k2, v]) => [k2, summarize(v)]));
  for (const [k2, sl] of Object.entries(listS)) log(`baseline, one selected HEP list (server time over raw HTTPS), ${k2}: ${fmtSummary(sl)}`);
  const ratio = coldS[`${OTHERS} others`]!.p50 / coldS['empty']!.p50;
  log(`cold start ratio (median, ${OTHERS} others / empty): ${ratio.toFixed(2)}`);

  // Conflict report latency in the big cluster.
  const nodeName = 'conflict-node';
  await big.admin.seed(nodeObject(nodeName, { role: 'worker', 'kubernetes.io/hostname': nodeName }));
  const a = startAgent(big, nodeName);
  a.agent.start();
  await until(async () => (await exists(big, `${nodeName}-eth0`)) && (await exists(big, `${nodeName}-eth1`)), 30_000, 'conflict agent HEPs');
  const latencies: number[] = [];
  for (let i = 0; i < CONFLICTS; i++) {
    await sleep(200);
    const name = `by-hand-${i}`;
    const t = now();
    const res = await big.call('POST', HEPS, hep(name, nodeName, 'eth1', { owner: 'ops' }));
    if (res.status !== 201) throw new Error(`create ${name}: ${res.status}`);
    await until(async () => (await conflictGauge(a.metrics)) === 1, 10_000, `conflict ${name} reported`);
    latencies.push(now() - t);
    await big.call('DELETE', `${HEPS}/${name}`);
    await until(async () => (await conflictGauge(a.metrics)) === 0, 10_000, `conflict ${name} cleared`);
  }
  await a.stop();
  const conflict = summarize(latencies);
  log(`conflict report latency (create -> gauge 1), ${CONFLICTS} trials in the ${OTHERS}-HEP cluster: ${fmtSummary(conflict)}`);
  const path = saveResult('cluster-view', f.quick ? 'quick' : 'full', {
    others: OTHERS,
    runs: RUNS,
    coldStartMs: coldS,
    coldStartRatioMedian: ratio,
    serverSelectedListMs: listS,
    bytesReadAtStart: Object.fromEntries(Object.entries(bytes).map(([k2, v]) => [k2, summarize(v)])),
    conflictReportMs: { ...conflict, samples: latencies },
  });
  log(`saved ${path}`);
});
