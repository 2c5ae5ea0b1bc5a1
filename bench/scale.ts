// Scale on one node, and cluster size.
//
//   node bench/scale.ts [--quick] [--long] [--part 1|2] [--tag NAME]
//
// Part 1, interfaces: 256 selected ifb interfaces with 4 addresses each (2 IPv4, 2 IPv6; `ip -batch`)
//   vs 4 interfaces as the baseline, same run: spawn -> all HEPs correct (first reconcile), then
//   steady-state CPU and RSS over a window (default 60 s, --quick 20 s, --long 600 s), minus a bare
//   idling node.
// Part 2, cluster size: 20,000 HEPs of other nodes in the API (--quick: 5,000) vs none, same run:
//   first reconcile, RSS, and the agent's requests; then 20 s of churn on the other nodes' HEPs
//   (100 updates/s) that the agent must not see; then one full resync (resyncSeconds: 10 for this
//   agent only) to measure the paged scan of all HEPs it does to find unmanaged HEPs of its node.
import { join } from 'node:path';
import { bundleEntry, spawnAgent, spawnIdleNode, tempDir, writeConfig } from './lib/agent-proc.ts';
import { benchNetns, flags, log, main, modeName, saveResult, sleep } from './lib/common.ts';
import { nodeObject, startServer, type StandaloneServer } from './lib/fake-server.ts';
import { HepWatch } from './lib/hep-watch.ts';
import { machine } from './lib/machine.ts';
import { MiB, readProc } from './lib/procfs.ts';
import { addInterfaces, allCorrect, now } from './lib/scenario.ts';
import { fmt } from './lib/stats.ts';
import type { Netns } from '../test/helpers/netns.ts';

const f = flags();
const WINDOW_MS = f.long ? 600_000 : f.quick ? 20_000 : 60_000;
const OTHERS = f.quick ? 5_000 : 20_000;
const m = machine();
const pi = f.args.indexOf('--part');
const PART = pi >= 0 ? Number(f.args[pi + 1]) : 0;

interface Measured {
  firstReconcileMs: number;
  rssMiB: number;
  idleRssMiB: number;
  overheadMiB: number;
  windowS: number;
  cpuPct: number;
  cpuPctWithChildren: number;
  startCpuS: number;
  requests: Record<string, number>;
}

function countRequests(
  entries: { user: string; verb: string; resource?: string | undefined; path: string; query: string; watch: boolean }[],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) {
    if (e.user === 'fake-admin') continue;
    const scan = e.verb === 'list' && e.resource?.startsWith('hostendpoints') && !e.query.includes('labelSelector') ? ' (all HEPs: scan)' : '';
    const k = `${e.verb} ${e.resource ?? e.path}${e.watch ? ' (watch)' : ''}${scan}`;
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

async function measureAgent(p: {
  server: StandaloneServer;
  ns: Netns;
  dir: string;
  entry: string;
  nodeName: string;
  expected: Map<string, string[]>;
  configYaml?: string;
  window?: () => Promise<void>;
}): Promise<Measured & { pid: number; stop: () => Promise<unknown> }> {
  await p.server.admin.seed(nodeObject(p.nodeName, { role: 'worker' }));
  const w = await HepWatch.open({
    url: p.server.url,
    caPem: p.server.caPem,
    adminToken: p.server.adminToken,
    labelSelector: `calico-hep-agent.io/node=${p.nodeName}`,
  });
  const logStart = (await p.server.admin.log()).total;
  const idle = spawnIdleNode();
  const agent = spawnAgent({
    entry: p.entry,
    kubeconfig: p.server.kubeconfig,
    config: await writeConfig(p.dir, p.configYaml ?? ''),
    netns: p.ns.name,
    nodeName: p.nodeName,
    logFile: join(p.dir, `${p.nodeName}.log`),
  });
  const t = await w.until(allCorrect(w, p.nodeName, p.expected), 180_000, `${p.nodeName} (${agent.logFile})`);
  w.close();
  const startCpu = readProc(agent.pid, m.clkTck)!.cpuSeconds;
  await sleep(5_000);
  const a0 = readProc(agent.pid, m.clkTck)!;
  const t0 = now();
  await (p.window ?? (() => sleep(WINDOW_MS)))();
  const a1 = readProc(agent.pid, m.clkTck)!;
  const idleP = readProc(idle.pid!, m.clkTck)!;
  const windowS = (now() - t0) / 1000;
  idle.kill('SIGKILL');
  const entries = (await p.server.admin.log(logStart)).entries;
  return {
    pid: agent.pid,
    stop: () => agent.stop(),
    firstReconcileMs: t - agent.spawnedAt,
    rssMiB: a1.rssBytes / MiB,
    idleRssMiB: idleP.rssBytes / MiB,
    overheadMiB: (a1.rssBytes - idleP.rssBytes) / MiB,
    windowS,
    cpuPct: ((a1.cpuSeconds - a0.cpuSeconds) / windowS) * 100,
    cpuPctWithChildren: ((a1.cpuSeconds + a1.childCpuSeconds - a0.cpuSeconds - a0.childCpuSeconds) / windowS) * 100,
    startCpuS: startCpu,
    requests: countRequests(entries),
  };
}

const show = (label: string, r: Measured) =>
  log(
    `${label}: first reconcile ${fmt(r.firstReconcileMs, 0)} ms (cpu ${fmt(r.startCpuS, 2)} s), rss ${fmt(r.rssMiB)} MiB (overhead ${fmt(r.overheadMiB)}), cpu ${fmt(r.cpuPct, 3)}% (+children ${fmt(r.cpuPctWithChildren, 3)}%) over ${fmt(r.windowS, 0)} s; requests ${JSON.stringify(r.requests)}`,
  );

await main(async (cleanups) => {
  const bundle = await bundleEntry();
  const dir = await tempDir('scale');
  const results: Record<string, unknown> = { build: `bundle:${bundle.kind}`, windowS: WINDOW_MS / 1000 };

  // ---- Part 1: interfaces ----
  if (PART !== 2) {
    const server = await startServer({ bookmarkIntervalMs: 60_000 });
    cleanups.push(() => server.stop());
    const small = await benchNetns();
    cleanups.push(() => small.destroy());
    const big = await benchNetns();
    cleanups.push(() => big.destroy());
    const smallExp = await addInterfaces(small, 4, { addrsPerIface: 4 });
    const t0 = now();
    const bigExp = await addInterfaces(big, 256, { addrsPerIface: 4 });
    log(`256 interfaces x 4 addresses set up with ip -batch in ${fmt(now() - t0, 0)} ms`);
    const base = await measureAgent({ server, ns: small, dir, entry: bundle.path, nodeName: 'scale-4', expected: smallExp });
    await base.stop();
    show('4 interfaces', base);
    const r256 = await measureAgent({ server, ns: big, dir, entry: bundle.path, nodeName: 'scale-256', expected: bigExp });
    await r256.stop();
    show('256 interfaces', r256);
    results['interfaces'] = { '4x4': base, '256x4': r256 };
    await server.stop();
    await small.destroy();
    await big.destroy();
  }

  // ---- Part 2: cluster size ----
  if (PART !== 1) {
    const server = await startServer({ bookmarkIntervalMs: 60_000, watchHistory: 5000 });
    cleanups.push(() => server.stop());
    const ns = await benchNetns();
    cleanups.push(() => ns.destroy());
    const expected = await addInterfaces(ns, 4);
    const base = await measureAgent({ server, ns, dir, entry: bundle.path, nodeName: 'size-0', expected, configYaml: 'intervals: { resyncSeconds: 3600 }' });
    await base.stop();
    show(`0 other HEPs`, base);
    const t0 = now();
    const others = (i: number, rev = 0) => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: {
        name: `other-${Math.floor(i / 2)}-eth${i % 2}`,
        labels: {
          'app.kubernetes.io/managed-by': 'calico-hep-agent',
          'calico-hep-agent.io/node': `other-${Math.floor(i / 2)}`,
          'calico-hep-agent.io/interface': `eth${i % 2}`,
          role: 'worker',
          rev: String(rev),
        },
      },
      spec: {
        node: `other-${Math.floor(i / 2)}`,
        interfaceName: `eth${i % 2}`,
        expectedIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
        profiles: ['projectcalico-default-allow'],
      },
    });
    for (let i = 0; i < OTHERS; i += 1000) await server.admin.seed(...(Array.from({ length: Math.min(1000, OTHERS - i) }, (_, k) => others(i + k)) as never[]));
    log(`seeded ${OTHERS} HEPs of other nodes in ${fmt(now() - t0, 0)} ms`);
    // Baseline for the scan: the same paged list (limit 500) made by the benchmark over raw HTTPS, no
    // agent and no client-node: the fake server's own cost per page.
    const scanBaseline: { ms: number; pages: number; bytes: number }[] = [];
    for (let r = 0; r < 3; r++) {
      const ts = now();
      let cont: string | undefined;
      let pages = 0;
      let bytes = 0;
      do {
        const q = new URLSearchParams({ limit: '500', ...(cont ? { continue: cont } : {}) });
        const res = await server.call('GET', `/apis/projectcalico.org/v3/hostendpoints?${q.toString()}`);
        const body = res.json as { metadata?: { continue?: string }; items: unknown[] };
        bytes += JSON.stringify(body).length;
        cont = body.metadata?.continue || undefined;
        pages++;
      } while (cont !== undefined && pages < 10_000);
      scanBaseline.push({ ms: now() - ts, pages, bytes });
    }
    log(
      `baseline scan by the benchmark (raw HTTPS): ${JSON.stringify(scanBaseline.map((b) => ({ ms: Math.round(b.ms), pages: b.pages, MiB: Math.round((b.bytes / MiB) * 10) / 10 })))}`,
    );
    // Churn on other nodes' HEPs during the window: the agent's label-selected watch must not see it.
    let churned = 0;
    const churn = async () => {
      const end = now() + 20_000;
      while (now() < end) {
        const t = now();
        const batch = Array.from({ length: 10 }, () => others(Math.floor(Math.random() * OTHERS), ++churned));
        await server.admin.seed(...(batch as never[]));
        await sleep(Math.max(0, 100 - (now() - t)));
      }
      await sleep(Math.max(0, WINDOW_MS - 20_000));
    };
    const big = await measureAgent({
      server,
      ns,
      dir,
      entry: bundle.path,
      nodeName: `size-${OTHERS}`,
      expected,
      configYaml: 'intervals: { resyncSeconds: 3600 }',
      window: churn,
    });
    show(`${OTHERS} other HEPs (+${churned} updates to them during the window)`, big);
    await big.stop();
    // One full resync with the scan: a dedicated agent with resyncSeconds 10, CPU over 10..40 s.
    const logStart = (await server.admin.log()).total;
    const rs = await measureAgent({
      server,
      ns,
      dir,
      entry: bundle.path,
      nodeName: `resync-${OTHERS}`,
      expected,
      configYaml: 'intervals: { resyncSeconds: 10 }',
      window: () => sleep(30_000),
    });
    await rs.stop();
    const entries = (await server.admin.log(logStart)).entries.filter(
      (e) => e.user !== 'fake-admin' && e.verb === 'list' && e.resource?.startsWith('hostendpoints') && !e.query.includes('labelSelector'),
    );
    // Scan durations: consecutive page requests of one scan are < 5 s apart.
    const scans: number[][] = [];
    for (const e of entries) {
      const t = Date.parse(e.time);
      const cur = scans.at(-1);
      if (cur && t - cur.at(-1)! < 5_000) cur.push(t);
      else scans.push([t]);
    }
    show(`resync every 10 s with ${OTHERS} other HEPs`, rs);
    const scanInfo = scans.map((s) => ({ pages: s.length, firstToLastPageMs: s.at(-1)! - s[0]! }));
    log(`scans of all HEPs: ${JSON.stringify(scanInfo)}`);
    results['clusterSize'] = { scanBaseline, otherHeps: OTHERS, churnUpdates: churned, none: base, many: big, resyncEvery10s: { ...rs, scans: scanInfo } };
  }
  const path = saveResult('scale', modeName(f), results);
  log(`saved ${path}`);
});
