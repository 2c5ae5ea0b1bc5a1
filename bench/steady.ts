// Steady state of one agent (bundled build): resident memory over a bare idling Node process, CPU
// when idle, and the API requests it makes, all measured in the same run.
//
//   node bench/steady.ts [--quick | --long | --soak] [--minutes N] [--source]
//
// default: 2 min; --quick: 30 s; --long: 10 min (the issue's figures); --soak: 60 min with one address
// change per second and the heap slope (--minutes shortens it; the result says how long it ran).
// The agent runs with default intervals against the standalone fake API server with bookmarks every
// 60 s (the real server's cadence) and Prometheus-style scrapes of /metrics every 30 s.
import { performance } from 'node:perf_hooks';
import { bundleEntry, SOURCE_ENTRY, spawnIdleNode, tempDir } from './lib/agent-proc.ts';
import { benchNetns, flags, log, main, modeName, saveResult, sleep } from './lib/common.ts';
import { startServer } from './lib/fake-server.ts';
import { sameSet } from './lib/hep-watch.ts';
import { machine } from './lib/machine.ts';
import { childPids, MiB, readProc, type ProcSample } from './lib/procfs.ts';
import { addInterfaces, scrape, startNodeUnderTest } from './lib/scenario.ts';
import { fmt, linearFit, median } from './lib/stats.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const f = flags();
const minutesArg = f.args.indexOf('--minutes');
const minutes = minutesArg >= 0 ? Number(f.args[minutesArg + 1]) : f.soak ? 60 : f.long ? 10 : f.quick ? 0.5 : 2;
const durationMs = Math.round(minutes * 60_000);
const sampleEveryMs = f.quick ? 5_000 : 10_000;
const scrapeEveryMs = f.soak ? sampleEveryMs : 30_000;
const WARMUP_MS = f.quick ? 5_000 : 20_000;
const run = promisify(execFile);

await main(async (cleanups) => {
  const m = machine();
  const useSource = f.args.includes('--source');
  const bundle = useSource ? undefined : await bundleEntry();
  const entry = bundle?.path ?? SOURCE_ENTRY;
  log(`steady: ${minutes} min, ${useSource ? 'source' : `bundle (${bundle!.kind}, ${(bundle!.bytes / MiB).toFixed(1)} MiB)`}, soak=${f.soak}`);

  const server = await startServer({ bookmarkIntervalMs: 60_000 });
  cleanups.push(() => server.stop());
  const ns = await benchNetns();
  cleanups.push(() => ns.destroy());
  const dir = await tempDir('steady');
  const expected = await addInterfaces(ns, 4);
  const idle = spawnIdleNode();
  cleanups.push(() => idle.kill('SIGKILL'));

  const nut = await startNodeUnderTest({ server, ns, dir, entry, nodeName: 'steady-1', expected });
  cleanups.push(() => nut.agent.stop());
  log(`converged ${fmt(nut.convergedAt - nut.agent.spawnedAt, 0)} ms after spawn; warming up ${WARMUP_MS / 1000} s`);
  nut.watch.close(); // the measurement window has only the agent's own watches
  const port = await nut.metricsPort();
  await sleep(WARMUP_MS);

  const pid = nut.agent.pid;
  const sample = () => {
    const a = readProc(pid, m.clkTck);
    const kids = childPids(pid)
      .map((c) => readProc(c, m.clkTck))
      .filter((x): x is ProcSample => x !== undefined);
    const b = readProc(idle.pid!, m.clkTck);
    return { t: performance.now(), agent: a, kids, idle: b };
  };
  const logStart = (await server.admin.log()).total;
  const first = sample();
  const samples: Array<ReturnType<typeof sample> & { heapUsed?: number | undefined; activeWatches?: number | undefined }> = [];
  let nextScrape = 0;
  let changes = 0;
  let changeErrors = 0;
  const toggled = '203.0.113.250';
  let present = false;
  const deadline = performance.now() + durationMs;
  const soakLoop = async () => {
    // One address change per second on eth0, alternately added and removed.
    while (f.soak && performance.now() < deadline) {
      const t0 = performance.now();
      try {
        await run('ip', ['-n', ns.name, 'addr', present ? 'del' : 'add', `${toggled}/32`, 'dev', 'eth0'], { timeout: 5000 });
        present = !present;
        changes++;
      } catch {
        changeErrors++;
      }
      await sleep(Math.max(0, 1000 - (performance.now() - t0)));
    }
  };
  const soak = soakLoop();
  while (performance.now() < deadline) {
    await sleep(Math.min(sampleEveryMs, Math.max(0, deadline - performance.now())));
    const s: (typeof samples)[number] = sample();
    if (s.t >= nextScrape) {
      nextScrape = s.t + scrapeEveryMs;
      try {
        const metrics = await scrape(port);
        s.heapUsed = metrics.get('calico_hep_agent_nodejs_heap_size_used_bytes');
      } catch (e) {
        log(`scrape failed: ${String(e)}`);
      }
    }
    s.activeWatches = (await server.admin.state()).activeWatches;
    samples.push(s);
    if (samples.length % 6 === 0)
      log(
        `${fmt((s.t - first.t) / 60_000, 1)} min: agent rss ${fmt((s.agent?.rssBytes ?? 0) / MiB)} MiB, idle node ${fmt((s.idle?.rssBytes ?? 0) / MiB)} MiB, heap ${fmt((s.heapUsed ?? NaN) / MiB)} MiB`,
      );
  }
  await soak;
  const last = samples.at(-1)!;
  const wallS = (last.t - first.t) / 1000;
  const cpu = (x: ReturnType<typeof sample>) => x.agent?.cpuSeconds ?? 0;
  const cpuKids = (x: ReturnType<typeof sample>) => (x.agent?.childCpuSeconds ?? 0) + x.kids.reduce((n, k) => n + k.cpuSeconds, 0);
  const agentCpuPct = ((cpu(last) - cpu(first)) / wallS) * 100;
  const withChildrenPct = ((cpu(last) + cpuKids(last) - cpu(first) - cpuKids(first)) / wallS) * 100;
  const idleCpuPct = (((last.idle?.cpuSeconds ?? 0) - (first.idle?.cpuSeconds ?? 0)) / wallS) * 100;
  const tail = samples.slice(-Math.max(1, Math.floor(samples.length / 3)));
  const rssAgent = median(tail.map((s) => s.agent?.rssBytes ?? 0));
  const rssKids = median(tail.map((s) => s.kids.reduce((n, k) => n + k.rssBytes, 0)));
  const rssIdle = median(tail.map((s) => s.idle?.rssBytes ?? 0));

  // API load from the server's request log: only the agent's identity (the benchmark uses the admin token).
  const entries = (await server.admin.log(logStart)).entries.filter((e) => e.user !== 'fake-admin');
  const byKey = new Map<string, number>();
  for (const e of entries)
    byKey.set(
      `${e.verb} ${e.resource ?? e.path}${e.watch ? ' (watch)' : ''}`,
      (byKey.get(`${e.verb} ${e.resource ?? e.path}${e.watch ? ' (watch)' : ''}`) ?? 0) + 1,
    );
  const writes = entries.filter((e) => ['create', 'update', 'patch', 'delete', 'deletecollection'].includes(e.verb));
  const lists = entries.filter((e) => e.verb === 'list');
  const perHour = entries.length / (wallS / 3600);

  // Heap slope (soak): all samples and the per-window minimum (the post-GC floor).
  const heapPts = samples.filter((s) => s.heapUsed !== undefined);
  const xsMin = heapPts.map((s) => (s.t - first.t) / 60_000);
  const fitAll =
    heapPts.length >= 3
      ? linearFit(
          xsMin,
          heapPts.map((s) => s.heapUsed! / 1024),
        )
      : undefined;
  const rssFit =
    samples.length >= 3
      ? linearFit(
          samples.map((s) => (s.t - first.t) / 60_000),
          samples.map((s) => (s.agent?.rssBytes ?? 0) / 1024),
        )
      : undefined;
  let finalCorrect: boolean | undefined;
  if (f.soak) {
    const h = await server.admin.get('hostendpoints.projectcalico.org', 'steady-1-eth0');
    finalCorrect = sameSet((h as { spec?: { expectedIPs?: string[] } } | undefined)?.spec?.expectedIPs, [
      ...expected.get('eth0')!,
      ...(present ? [toggled] : []),
    ]);
  }

  const result = {
    build: useSource ? 'source' : `bundle:${bundle!.kind}`,
    bundleBytes: bundle?.bytes,
    minutes: wallS / 60,
    interfaces: expected.size,
    soak: f.soak ? { changes, changeErrors, finalCorrect } : undefined,
    memory: {
      agentRssMiB: rssAgent / MiB,
      ipMonitorRssMiB: rssKids / MiB,
      idleNodeRssMiB: rssIdle / MiB,
      overheadMiB: (rssAgent - rssIdle) / MiB,
      agentPeakRssMiB: (last.agent?.hwmBytes ?? 0) / MiB,
    },
    cpu: { agentPct: agentCpuPct, agentWithChildrenPct: withChildrenPct, idleNodePct: idleCpuPct, overheadPct: agentCpuPct - idleCpuPct },
    api: {
      requests: entries.length,
      requestsPerNodeHour: perHour,
      for5000NodesPerSecond: (perHour * 5000) / 3600,
      writes: writes.length,
      lists: lists.length,
      maxActiveWatches: Math.max(...samples.map((s) => s.activeWatches ?? 0)),
      byKind: Object.fromEntries([...byKey].sort()),
    },
    heap: fitAll ? { slopeKiBPerMin: fitAll.slope, ci95KiBPerMin: fitAll.ci95, r2: fitAll.r2, samples: fitAll.n } : undefined,
    rssSlopeKiBPerMin: rssFit ? { slope: rssFit.slope, ci95: rssFit.ci95 } : undefined,
    samples: samples.map((s) => ({
      tS: Math.round((s.t - first.t) / 100) / 10,
      rssKiB: (s.agent?.rssBytes ?? 0) / 1024,
      idleRssKiB: (s.idle?.rssBytes ?? 0) / 1024,
      cpuS: s.agent?.cpuSeconds,
      heapKiB: s.heapUsed !== undefined ? Math.round(s.heapUsed / 1024) : undefined,
      watches: s.activeWatches,
    })),
  };
  const path = saveResult('steady', [modeName(f), useSource ? 'source' : '', minutesArg >= 0 ? `${minutes}min` : ''].filter(Boolean).join('-'), result);
  log(
    `memory: agent ${fmt(rssAgent / MiB)} MiB - idle node ${fmt(rssIdle / MiB)} MiB = ${fmt((rssAgent - rssIdle) / MiB)} MiB overhead (target <= 25); ip monitor ${fmt(rssKids / MiB)} MiB`,
  );
  log(
    `cpu over ${fmt(wallS, 0)} s: agent ${fmt(agentCpuPct, 3)}% (with ip children ${fmt(withChildrenPct, 3)}%), idle node ${fmt(idleCpuPct, 3)}% (target <= 0.5%)`,
  );
  log(
    `api: ${entries.length} requests (${fmt(perHour, 0)}/node/h; 5000 nodes: ${fmt((perHour * 5000) / 3600, 1)}/s), writes ${writes.length}, lists ${lists.length}, max watches ${result.api.maxActiveWatches}`,
  );
  log(`api by kind: ${JSON.stringify(result.api.byKind)}`);
  if (fitAll) log(`heap slope ${fmt(fitAll.slope, 2)} KiB/min (95% CI ${fmt(fitAll.ci95[0], 2)}..${fmt(fitAll.ci95[1], 2)}), r2 ${fmt(fitAll.r2, 2)}`);
  log(`saved ${path}`);
});
