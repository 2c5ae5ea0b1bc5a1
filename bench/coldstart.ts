// Cold start: process start to every HEP correct in the API, for a new node (no HEPs yet).
//
//   node bench/coldstart.ts [--quick] [--bundle-only]
//
// Interleaved in one run (so machine noise hits each alike): the bundled build, the source (type
// stripping), and as the baseline a bare `node -e 0` from spawn to exit. 20 runs each (--quick: 5).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { bundleEntry, SOURCE_ENTRY, spawnAgent, tempDir, writeConfig } from './lib/agent-proc.ts';
import { benchNetns, flags, log, main, modeName, saveResult } from './lib/common.ts';
import { nodeObject, startServer } from './lib/fake-server.ts';
import { HepWatch } from './lib/hep-watch.ts';
import { addInterfaces, allCorrect, now } from './lib/scenario.ts';
import { fmtSummary, summarize } from './lib/stats.ts';

const f = flags();
const RUNS = f.quick ? 5 : 20;

await main(async (cleanups) => {
  const bundle = await bundleEntry();
  const server = await startServer();
  cleanups.push(() => server.stop());
  const ns = await benchNetns();
  cleanups.push(() => ns.destroy());
  const dir = await tempDir('cold');
  const expected = await addInterfaces(ns, 4);
  const config = await writeConfig(dir, '');
  const watch = await HepWatch.open({ url: server.url, caPem: server.caPem, adminToken: server.adminToken });
  cleanups.push(() => watch.close());
  const samples: Record<string, number[]> = { bundle: [], source: [], 'node -e 0 (spawn to exit)': [] };
  let i = 0;
  for (let r = 0; r < RUNS; r++) {
    // --bundle-only: the image's build alone (e.g. under V8 flags that source runs cannot take:
    // --lite-mode disables WebAssembly, which Node's type stripping needs).
    const builds = f.args.includes('--bundle-only')
      ? ([['bundle', bundle.path]] as const)
      : ([
          ['bundle', bundle.path],
          ['source', SOURCE_ENTRY],
        ] as const);
    for (const [label, entry] of builds) {
      const nodeName = `cold-${i++}`;
      await server.admin.seed(nodeObject(nodeName, { role: 'worker' }));
      const agent = spawnAgent({ entry, kubeconfig: server.kubeconfig, config, netns: ns.name, nodeName, logFile: join(dir, `${nodeName}.log`) });
      const t = await watch.until(allCorrect(watch, nodeName, expected), 30_000, `${nodeName} (${agent.logFile})`);
      samples[label]!.push(t - agent.spawnedAt);
      await agent.stop();
    }
    const t0 = now();
    await new Promise<void>((resolve) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('exit', () => resolve()));
    samples['node -e 0 (spawn to exit)']!.push(now() - t0);
  }
  const summaries = Object.fromEntries(
    Object.entries(samples)
      .filter(([, v]) => v.length > 0)
      .map(([k, v]) => [k, { ...summarize(v), samples: v }]),
  );
  for (const [k, s] of Object.entries(summaries)) log(`${k}: ${fmtSummary(s)}`);
  const path = saveResult('coldstart', modeName(f), {
    bundle: { kind: bundle.kind, bytes: bundle.bytes },
    interfaces: expected.size,
    runs: RUNS,
    results: summaries,
  });
  log(`saved ${path}`);
});
