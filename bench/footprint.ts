// Issue 14's memory figures in one run: the running agent's RSS over a bare idling Node process,
// for an empty cluster and for one with 20,000 other nodes' HEPs (a paging server and one that
// ignores `limit`), for the current bundle and, with --before, another build (before/after), plus
// the current bundle under candidate V8 flags. Also cold start (spawn -> HEPs correct), idle CPU
// and the agent's API requests in the window.
//
//   node bench/footprint.ts [--quick] [--window-s N] [--settle-s N] [--others N] [--before PATH.mjs] [--no-flags] [--no-others]
//
// Every case: its own agent process (4 interfaces in a network namespace), converge, settle, then
// RSS sampled every 2 s over the window; a bare `node -e "setInterval(()=>{},1e9)"` sampled at the
// same moments is the baseline. Overhead = median(agent) - median(bare). Peak = VmHWM at the end.
import { performance } from 'node:perf_hooks';
import { bundleEntry, spawnIdleNode, tempDir } from './lib/agent-proc.ts';
import { benchNetns, flags, log, main, modeName, saveResult, sleep } from './lib/common.ts';
import { startServer, type StandaloneServer } from './lib/fake-server.ts';
import { machine } from './lib/machine.ts';
import { MiB, readProc } from './lib/procfs.ts';
import { addInterfaces, startNodeUnderTest } from './lib/scenario.ts';
import { fmt, median } from './lib/stats.ts';

const f = flags();
const arg = (name: string): string | undefined => {
  const i = f.args.indexOf(name);
  return i >= 0 ? f.args[i + 1] : undefined;
};
const WINDOW_MS = Number(arg('--window-s') ?? (f.quick ? 20 : 60)) * 1000;
const SETTLE_MS = Number(arg('--settle-s') ?? (f.quick ? 5 : 20)) * 1000;
const OTHERS = Number(arg('--others') ?? (f.quick ? 5000 : 20000));
const BEFORE = arg('--before');
const WITH_FLAGS = !f.args.includes('--no-flags');
const WITH_OTHERS = !f.args.includes('--no-others');
const SAMPLE_MS = 2000;
/** The flags the image starts the agent with (Dockerfile, NODE FLAGS): also measured with 20,000 other HEPs. */
const IMAGE_FLAGS = ['--max-semi-space-size=1', '--lite-mode'];

/** Candidate V8 flags, measured on the current bundle in an empty cluster. */
const FLAG_SETS: Record<string, string[]> = {
  '--max-semi-space-size=1': ['--max-semi-space-size=1'],
  '--max-semi-space-size=1 --max-old-space-size=64': ['--max-semi-space-size=1', '--max-old-space-size=64'],
  '--lite-mode': ['--lite-mode'],
  '--max-semi-space-size=1 --lite-mode': ['--max-semi-space-size=1', '--lite-mode'],
};

function otherHep(i: number) {
  const node = `other-${Math.floor(i / 2)}`;
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: {
      name: `${node}-eth${i % 2}`,
      labels: {
        'app.kubernetes.io/managed-by': 'calico-hep-agent',
        'calico-hep-agent.io/node': node,
        'calico-hep-agent.io/interface': `eth${i % 2}`,
        role: 'worker',
      },
    },
    spec: {
      node,
      interfaceName: `eth${i % 2}`,
      expectedIPs: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
      profiles: ['projectcalico-default-allow'],
    },
  };
}

async function seedOthers(server: StandaloneServer, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1000) await server.admin.seed(...(Array.from({ length: Math.min(1000, n - i) }, (_, k) => otherHep(i + k)) as never[]));
}

interface CaseResult {
  build: string;
  cluster: string;
  flags: string[];
  coldStartMs: number;
  rssMiB: number;
  bareMiB: number;
  overheadMiB: number;
  peakOverheadMiB: number;
  cpuPercent: number;
  requests: Record<string, number>;
  samplesMiB: number[];
}

await main(async (cleanups) => {
  const m = machine();
  const after = await bundleEntry();
  const builds: Array<{ name: string; path: string }> = [];
  if (BEFORE !== undefined) builds.push({ name: 'before', path: BEFORE });
  builds.push({ name: 'after', path: after.path });
  log(
    `footprint: window ${WINDOW_MS / 1000} s, settle ${SETTLE_MS / 1000} s, ${OTHERS} other HEPs; builds ${builds.map((b) => `${b.name}=${b.path}`).join(', ')}`,
  );

  const ns = await benchNetns();
  cleanups.push(() => ns.destroy());
  const dir = await tempDir('footprint');
  const expected = await addInterfaces(ns, 4);
  const idle = spawnIdleNode();
  cleanups.push(() => idle.kill('SIGKILL'));
  await sleep(1000);

  let seq = 0;
  const measure = async (server: StandaloneServer, build: { name: string; path: string }, cluster: string, nodeArgs: string[]): Promise<CaseResult> => {
    const nodeName = `fp-${++seq}`;
    const logStart = (await server.admin.log()).total;
    const nut = await startNodeUnderTest({ server, ns, dir, entry: build.path, nodeName, expected, nodeArgs, timeoutMs: 180_000 });
    try {
      nut.watch.close();
      const coldStartMs = nut.convergedAt - nut.agent.spawnedAt;
      await sleep(SETTLE_MS);
      const agentRss: number[] = [];
      const bareRss: number[] = [];
      const first = readProc(nut.agent.pid, m.clkTck);
      const t0 = performance.now();
      while (performance.now() - t0 < WINDOW_MS) {
        const a = readProc(nut.agent.pid, m.clkTck);
        const b = readProc(idle.pid!, m.clkTck);
        if (a === undefined) throw new Error(`agent ${nodeName} exited (log: ${nut.agent.logFile})`);
        agentRss.push(a.rssBytes);
        if (b !== undefined) bareRss.push(b.rssBytes);
        await sleep(SAMPLE_MS);
      }
      const last = readProc(nut.agent.pid, m.clkTck)!;
      const elapsedS = (performance.now() - t0) / 1000;
      const entries = (await server.admin.log(logStart)).entries.filter((e) => e.user === 'fake-user'); // the agent's identity; the benchmark uses the admin token
      const requests: Record<string, number> = {};
      for (const e of entries) {
        const k = `${e.verb} ${e.resource ?? ''}`.trim();
        requests[k] = (requests[k] ?? 0) + 1;
      }
      const bare = median(bareRss);
      const r: CaseResult = {
        build: build.name,
        cluster,
        flags: nodeArgs,
        coldStartMs,
        rssMiB: median(agentRss) / MiB,
        bareMiB: bare / MiB,
        overheadMiB: (median(agentRss) - bare) / MiB,
        peakOverheadMiB: (last.hwmBytes - bare) / MiB,
        cpuPercent: ((last.cpuSeconds - first!.cpuSeconds) / elapsedS) * 100,
        requests,
        samplesMiB: agentRss.map((x) => Math.round((x / MiB) * 10) / 10),
      };
      log(
        `${build.name.padEnd(6)} ${cluster.padEnd(24)} ${(nodeArgs.join(' ') || '(no flags)').padEnd(48)} rss ${fmt(r.rssMiB)} MiB, +${fmt(r.overheadMiB)} over bare (${fmt(r.bareMiB)}), peak +${fmt(r.peakOverheadMiB)}, cold start ${fmt(coldStartMs, 0)} ms, cpu ${fmt(r.cpuPercent, 2)} %`,
      );
      return r;
    } finally {
      await nut.agent.stop();
    }
  };

  const results: CaseResult[] = [];
  {
    const server = await startServer({ bookmarkIntervalMs: 60_000 });
    cleanups.push(() => server.stop());
    for (const b of builds) results.push(await measure(server, b, 'empty', []));
    if (WITH_FLAGS) for (const flagsSet of Object.values(FLAG_SETS)) results.push(await measure(server, builds.at(-1)!, 'empty', flagsSet));
    await server.stop();
  }
  if (WITH_OTHERS) {
    for (const paging of [true, false]) {
      const server = await startServer({ bookmarkIntervalMs: 60_000, watchHistory: 5000, paging });
      cleanups.push(() => server.stop());
      const t = performance.now();
      await seedOthers(server, OTHERS);
      log(`seeded ${OTHERS} other HEPs (${paging ? 'paging' : 'unpaged'} server) in ${fmt(performance.now() - t, 0)} ms`);
      for (const b of builds) results.push(await measure(server, b, `${OTHERS} other HEPs, ${paging ? 'paged' : 'unpaged'}`, []));
      if (WITH_FLAGS) results.push(await measure(server, builds.at(-1)!, `${OTHERS} other HEPs, ${paging ? 'paged' : 'unpaged'}`, IMAGE_FLAGS));
      await server.stop();
    }
  }
  const path = saveResult('footprint', modeName(f), {
    windowMs: WINDOW_MS,
    settleMs: SETTLE_MS,
    others: OTHERS,
    builds,
    bundleBytes: after.bytes,
    note: 'RSS median over the window, sampled every 2 s, minus a bare idling node sampled at the same moments; peak = VmHWM at the end minus the bare median',
    results,
  });
  log(`saved ${path}`);
});
