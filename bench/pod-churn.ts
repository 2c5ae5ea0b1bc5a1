// Pod churn on excluded interfaces (issue 13), with the real agent (bundled build, `run --netns`):
// two agents side by side in the same run, each in its own network namespace with two selected
// interfaces; in one namespace veth/cali links are created and deleted, 100 links per minute, the
// other stays quiet. Measured from outside: CPU time of each agent (utime+stime), of its `ip monitor`
// child and of the short `ip` runs it waited for (cutime+cstime), every `ip` it spawned (a wrapper
// first in PATH logs each spawn with its parent pid), and its reconciles (/metrics). The difference
// churn - quiet is what the churn costs. Also, in the churn namespace, two bare `ip monitor`
// supervisors with and without the agent's link filter count the change signals (the work the churn
// would cause without the filter).
//
//   node bench/pod-churn.ts [--quick] [--minutes N]      (root: network namespaces)
//
// default 10 minutes (--quick: 1); 50 veth pairs per minute named veth<i>/cali<i>, each deleted
// ~0.6 s after creation; then one address change on a selected interface in each namespace as a control.
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NetlinkMonitor, type MonitorChange } from '../src/adapters/netlink/monitor.ts';
import { interfaceNameFilter } from '../src/core/select.ts';
import { bundleEntry, tempDir } from './lib/agent-proc.ts';
import { benchNetns, flags, log, main, saveResult, sleep } from './lib/common.ts';
import { startServer } from './lib/fake-server.ts';
import { machine } from './lib/machine.ts';
import { childPids, MiB, readProc } from './lib/procfs.ts';
import { addInterfaces, scrape, startNodeUnderTest, type NodeUnderTest } from './lib/scenario.ts';
import { execFileSync } from 'node:child_process';

const f = flags();
const mi = f.args.indexOf('--minutes');
const MINUTES = mi >= 0 ? Number(f.args[mi + 1]) : f.quick ? 1 : 10;
const PAIRS_PER_MINUTE = 50;
const WARMUP_MS = 15_000;

await main(async (cleanups) => {
  const m = machine();
  const bundle = await bundleEntry();
  const dir = await tempDir('churn');
  // Count every `ip` the agents spawn: a wrapper first in PATH logs "<parent pid> <args>" and execs ip.
  const realIp = execFileSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).trim();
  const spawnLog = join(dir, 'ip-spawns.log');
  writeFileSync(spawnLog, '');
  writeFileSync(join(dir, 'ip'), `#!/bin/sh\necho "$PPID $*" >> ${spawnLog}\nexec ${realIp} "$@"\n`);
  chmodSync(join(dir, 'ip'), 0o755);
  process.env['PATH'] = `${dir}:${process.env['PATH'] ?? ''}`;
  const spawnsOf = (pid: number): string[] =>
    readFileSync(spawnLog, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith(`${pid} `));

  const server = await startServer({ bookmarkIntervalMs: 60_000 });
  cleanups.push(() => server.stop());
  const nsChurn = await benchNetns();
  cleanups.push(() => nsChurn.destroy());
  const nsQuiet = await benchNetns();
  cleanups.push(() => nsQuiet.destroy());
  const expChurn = await addInterfaces(nsChurn, 2);
  const expQuiet = await addInterfaces(nsQuiet, 2);
  const agents: Record<'churn' | 'quiet', NodeUnderTest> = {
    churn: await startNodeUnderTest({ server, ns: nsChurn, dir, entry: bundle.path, nodeName: 'churn-1', expected: expChurn }),
    quiet: await startNodeUnderTest({ server, ns: nsQuiet, dir, entry: bundle.path, nodeName: 'quiet-1', expected: expQuiet }),
  };
  for (const a of Object.values(agents)) cleanups.push(() => a.agent.stop());
  const ports = { churn: await agents.churn.metricsPort(), quiet: await agents.quiet.metricsPort() };

  // The monitor-level comparison in the churn namespace (bench process, not the agents).
  const filteredEvents: MonitorChange[] = [];
  const unfilteredEvents: MonitorChange[] = [];
  const count = (into: MonitorChange[]) => (c: MonitorChange) => {
    if (c.reason === 'event') into.push(c);
  };
  const filtered = new NetlinkMonitor({
    netns: nsChurn.name,
    onChange: count(filteredEvents),
    linkFilter: interfaceNameFilter({ include: ['*'], exclude: [], useDefaultExcludes: true }),
  });
  const unfiltered = new NetlinkMonitor({ netns: nsChurn.name, onChange: count(unfilteredEvents) });
  filtered.start();
  unfiltered.start();
  cleanups.push(
    () => filtered.stop(),
    () => unfiltered.stop(),
  );
  log(`agents converged; warming up ${WARMUP_MS / 1000} s, then ${MINUTES} min of churn in ${nsChurn.name}`);
  await sleep(WARMUP_MS);

  const reconciles = async (port: number) => {
    let n = 0;
    for (const [k, v] of await scrape(port)) if (k.startsWith('calico_hep_agent_reconciles_total')) n += v;
    return n;
  };
  const snap = async (k: 'churn' | 'quiet') => {
    const pid = agents[k].agent.pid;
    const self = readProc(pid, m.clkTck)!;
    const kids = childPids(pid)
      .map((c) => readProc(c, m.clkTck)?.cpuSeconds ?? 0)
      .reduce((a, b) => a + b, 0);
    return {
      cpu: self.cpuSeconds,
      reaped: self.childCpuSeconds,
      monitor: kids,
      spawns: spawnsOf(pid).length,
      reconciles: await reconciles(ports[k]),
      rss: self.rssBytes,
    };
  };
  const before = { churn: await snap('churn'), quiet: await snap('quiet') };
  const t0 = Date.now();
  const pairs = Math.round(MINUTES * PAIRS_PER_MINUTE);
  const intervalMs = 60_000 / PAIRS_PER_MINUTE;
  for (let i = 0; i < pairs; i++) {
    const started = Date.now();
    await nsChurn.batch([`link add veth${i} type veth peer name cali${i}`, `link set veth${i} up`, `link set cali${i} up`]);
    await sleep(600);
    await nsChurn.batch([`link del veth${i}`]);
    if (i % 50 === 49) log(`${i + 1} pairs (${2 * (i + 1)} links) created and deleted`);
    await sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
  const churnMs = Date.now() - t0;
  const after = { churn: await snap('churn'), quiet: await snap('quiet') };
  const signalsDuring = { filtered: filteredEvents.length, unfiltered: unfilteredEvents.length };
  // Control: a selected interface still causes work in both agents.
  for (const ns of [nsChurn, nsQuiet]) await ns.batch(['addr add 203.0.113.77/24 dev eth0']);
  await sleep(2_000);
  const control = { churn: await snap('churn'), quiet: await snap('quiet') };

  const delta = (k: 'churn' | 'quiet') => {
    const a = after[k],
      b = before[k];
    return {
      cpuSeconds: a.cpu - b.cpu,
      reapedIpCpuSeconds: a.reaped - b.reaped,
      monitorCpuSeconds: a.monitor - b.monitor,
      cpuPercentOfCore: (100 * (a.cpu - b.cpu)) / (churnMs / 1000),
      cpuPercentWithIp: (100 * (a.cpu - b.cpu + a.reaped - b.reaped + a.monitor - b.monitor)) / (churnMs / 1000),
      ipSpawns: a.spawns - b.spawns,
      reconciles: a.reconciles - b.reconciles,
      rssMiB: a.rss / MiB,
    };
  };
  const d = { churn: delta('churn'), quiet: delta('quiet') };
  const result = {
    minutes: MINUTES,
    churnMs,
    linksCreatedAndDeleted: pairs * 2,
    agents: d,
    extraFromChurn: {
      cpuSeconds: d.churn.cpuSeconds - d.quiet.cpuSeconds,
      cpuSecondsWithIp:
        d.churn.cpuSeconds +
        d.churn.reapedIpCpuSeconds +
        d.churn.monitorCpuSeconds -
        (d.quiet.cpuSeconds + d.quiet.reapedIpCpuSeconds + d.quiet.monitorCpuSeconds),
      percentOfCoreWithIp: d.churn.cpuPercentWithIp - d.quiet.cpuPercentWithIp,
      ipSpawns: d.churn.ipSpawns - d.quiet.ipSpawns,
      reconciles: d.churn.reconciles - d.quiet.reconciles,
    },
    control: {
      ipSpawns: { churn: control.churn.spawns - after.churn.spawns, quiet: control.quiet.spawns - after.quiet.spawns },
      reconciles: { churn: control.churn.reconciles - after.churn.reconciles, quiet: control.quiet.reconciles - after.quiet.reconciles },
    },
    monitorSignals: { withFilter: signalsDuring.filtered, linesFiltered: filtered.health.filtered, withoutFilter: signalsDuring.unfiltered },
    clkTck: m.clkTck,
    bundle: { kind: bundle.kind, bytes: bundle.bytes },
  };
  log(`${pairs * 2} links in ${(churnMs / 1000).toFixed(0)} s. churn agent: ${JSON.stringify(d.churn)}`);
  log(`quiet agent: ${JSON.stringify(d.quiet)}`);
  log(`extra from churn: ${JSON.stringify(result.extraFromChurn)}; control (eth0 address): ${JSON.stringify(result.control)}`);
  log(`monitor signals with filter ${signalsDuring.filtered} (${filtered.health.filtered} lines dropped), without ${signalsDuring.unfiltered}`);
  log(`saved ${saveResult('pod-churn', f.quick ? 'quick' : 'full', result)}`);
});
