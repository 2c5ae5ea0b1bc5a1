// Pod churn on excluded interfaces: veth/cali links created and deleted in a network namespace while
// two real `ip monitor` supervisors watch it, one with the agent's link filter (the default interface
// selection) and one without (the behaviour before). Every change signal costs the agent one `ip`
// rediscovery and one reconcile, so the signals are the work the churn causes.
//
//   node bench/pod-churn.ts [--quick]       (root: network namespaces)
//
// 100 links per minute (50 veth pairs named veth<i>/cali<i>, each deleted ~0.6 s after creation),
// for 2 minutes (--quick: 30 s); then one change on a selected interface (eth1) as a control.
import { NetlinkMonitor, type MonitorChange } from '../src/adapters/netlink/monitor.ts';
import { interfaceNameFilter } from '../src/core/select.ts';
import { benchNetns, flags, log, main, saveResult, sleep } from './lib/common.ts';

const f = flags();
const MINUTES = f.quick ? 0.5 : 2;
const PAIRS_PER_MINUTE = 50;

await main(async (cleanups) => {
  const ns = await benchNetns();
  cleanups.push(() => ns.destroy());
  await ns.batch(['link add eth1 type veth peer name eth1p', 'link set eth1 up']);
  const count = (into: MonitorChange[]) => (c: MonitorChange) => {
    if (c.reason === 'event') into.push(c);
  };
  const filteredEvents: MonitorChange[] = [];
  const unfilteredEvents: MonitorChange[] = [];
  const filtered = new NetlinkMonitor({
    netns: ns.name,
    onChange: count(filteredEvents),
    linkFilter: interfaceNameFilter({ include: ['*'], exclude: [], useDefaultExcludes: true }),
  });
  const unfiltered = new NetlinkMonitor({ netns: ns.name, onChange: count(unfilteredEvents) });
  filtered.start();
  unfiltered.start();
  cleanups.push(() => filtered.stop(), () => unfiltered.stop());
  await sleep(1_000);
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  const pairs = Math.round(MINUTES * PAIRS_PER_MINUTE);
  const intervalMs = 60_000 / PAIRS_PER_MINUTE;
  for (let i = 0; i < pairs; i++) {
    const started = Date.now();
    await ns.batch([`link add veth${i} type veth peer name cali${i}`, `link set veth${i} up`, `link set cali${i} up`]);
    await sleep(600);
    await ns.batch([`link del veth${i}`]);
    await sleep(Math.max(0, intervalMs - (Date.now() - started)));
  }
  const churnMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const duringFiltered = filteredEvents.length;
  const duringUnfiltered = unfilteredEvents.length;
  // Control: a selected interface still signals.
  await ns.batch(['addr add 198.51.100.10/24 dev eth1']);
  await sleep(500);
  const result = {
    minutes: MINUTES,
    linksCreatedAndDeleted: pairs * 2,
    churnMs,
    withFilter: { signals: duringFiltered, linesFiltered: filtered.health.filtered, controlSignals: filteredEvents.length - duringFiltered },
    withoutFilter: { signals: duringUnfiltered, controlSignals: unfilteredEvents.length - duringUnfiltered },
    benchProcessCpuMs: (cpu.user + cpu.system) / 1000,
  };
  log(
    `${pairs * 2} links created and deleted in ${(churnMs / 1000).toFixed(0)} s: with the filter ${duringFiltered} signals (${filtered.health.filtered} lines dropped), ` +
      `without ${duringUnfiltered}; the eth1 control signalled ${result.withFilter.controlSignals} / ${result.withoutFilter.controlSignals}`,
  );
  log(`saved ${saveResult('pod-churn', f.quick ? 'quick' : 'full', result)}`);
});
