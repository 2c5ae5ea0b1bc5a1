// Convergence latency of the agent as a child process (`run --netns NS`) against the standalone fake
// API server: from the moment the change command returns to the moment the server emits the watch
// event after which the HEP is correct (the benchmark's own watch, admin token).
//
//   node bench/convergence.ts [--quick] [--debounce 100,50]
//
// Per debounce setting (default: 100 ms, the shipped default, and 50 ms), in one run:
//   address  `ip addr add/del` on eth0, alternately (>= 100 changes)
//   label    merge-patch of the Node's labels (>= 100 changes)
//   iface    a new link with an address (`ip -batch`) -> a new HEP (>= 100 changes)
// Baselines in the same run: the floor without the agent, i.e. a HEP write by the benchmark itself
// until its watch event arrives (API round trip + watch fan-out), and `ip addr add` until
// `ip monitor` prints the change.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { bundleEntry, tempDir } from './lib/agent-proc.ts';
import { benchNetns, flags, log, main, modeName, saveResult, sleep } from './lib/common.ts';
import { startServer, V3 } from './lib/fake-server.ts';
import { HepWatch, sameSet } from './lib/hep-watch.ts';
import { addInterfaces, now, startNodeUnderTest } from './lib/scenario.ts';
import { fmtSummary, summarize, type Summary } from './lib/stats.ts';

const f = flags();
const N = f.quick ? 20 : 100;
const di = f.args.indexOf('--debounce');
const debounces = di >= 0 ? f.args[di + 1]!.split(',').map(Number) : [100, 50];
const execP = promisify(execFile);
const TIMEOUT = 10_000;
/**
 * Pause between changes so each is measured alone: longer than the debounce plus the follow-up pass
 * the agent's own write triggers (its HEP watch echoes the write), so a change never lands in a pass
 * that was already scheduled (which would make it look faster than the debounce allows).
 */
let gapBase = 250;
const gap = () => sleep(gapBase + Math.random() * 100);

await main(async (cleanups) => {
  const bundle = await bundleEntry();
  const server = await startServer();
  cleanups.push(() => server.stop());
  const dir = await tempDir('conv');
  const results: Record<string, Record<string, Summary & { samples?: number[] }>> = {};

  // Baseline 1: API write -> watch event, no agent involved.
  {
    const w = await HepWatch.open({ url: server.url, caPem: server.caPem, adminToken: server.adminToken, labelSelector: 'bench=floor' });
    cleanups.push(() => w.close());
    const samples: number[] = [];
    const hep = (ips: string[]) => ({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: 'floor-eth0', labels: { bench: 'floor' } },
      spec: { node: 'floor', interfaceName: 'eth0', expectedIPs: ips },
    });
    await server.call('POST', '/apis/projectcalico.org/v3/hostendpoints', hep(['192.0.2.1']));
    for (let i = 0; i < N; i++) {
      const ips = [`192.0.2.${(i % 200) + 2}`];
      await w.until(() => w.heps.has('floor-eth0'), TIMEOUT, 'floor HEP');
      const cur = w.heps.get('floor-eth0')!;
      const r = await server.call('PUT', '/apis/projectcalico.org/v3/hostendpoints/floor-eth0', {
        ...hep(ips),
        metadata: { ...hep(ips).metadata, resourceVersion: cur.metadata.resourceVersion },
      });
      const t0 = now();
      if (r.status !== 200) throw new Error(`floor PUT: ${r.status}`);
      const t1 = await w.until(() => sameSet(w.heps.get('floor-eth0')?.spec.expectedIPs, ips), TIMEOUT, 'floor');
      samples.push(Math.max(0, t1 - t0));
      await sleep(30);
    }
    results['baseline'] = { 'api write response -> watch event': { ...summarize(samples) } };
    w.close();
  }
  // Baseline 2: ip addr add returns -> ip monitor line (kernel + iproute2, no agent).
  {
    const ns = await benchNetns();
    cleanups.push(() => ns.destroy());
    await addInterfaces(ns, 1);
    const mon = spawn('ip', ['-n', ns.name, '-o', 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    cleanups.push(() => mon.kill('SIGKILL'));
    let lastLine = 0;
    let lines = 0;
    mon.stdout.on('data', () => {
      lastLine = now();
      lines++;
    });
    await sleep(300);
    const samples: number[] = [];
    const cmd: number[] = [];
    for (let i = 0; i < N; i++) {
      const before = lines;
      const ts = now();
      await execP('ip', ['-n', ns.name, 'addr', i % 2 === 0 ? 'add' : 'del', '203.0.113.200/32', 'dev', 'eth0']);
      const t0 = now();
      cmd.push(t0 - ts);
      for (let k = 0; k < 200 && lines === before; k++) await sleep(1);
      samples.push(lastLine - t0); // signed: negative when the line arrived before `ip` had exited
      await sleep(30);
    }
    mon.kill('SIGKILL');
    results['baseline']['ip addr returns -> ip monitor line (signed)'] = summarize(samples);
    results['baseline']['ip addr command, spawn to exit'] = summarize(cmd);
    await ns.destroy();
  }

  for (const debounce of debounces) {
    const key = `debounce ${debounce} ms`;
    results[key] = {};
    const ns = await benchNetns();
    cleanups.push(() => ns.destroy());
    const expected = await addInterfaces(ns, 4);
    const nodeName = `conv-${debounce}`;
    const nut = await startNodeUnderTest({
      server,
      ns,
      dir,
      entry: bundle.path,
      nodeName,
      expected,
      configYaml: debounce === 100 ? '' : `intervals: { debounceMilliseconds: ${debounce} }`,
    });
    cleanups.push(() => nut.agent.stop());
    const w = nut.watch;
    cleanups.push(() => w.close());
    await sleep(2000);
    const hepName = `${nodeName}-eth0`;
    gapBase = debounce + 200;

    // Address added / removed.
    const addr: number[] = [];
    const base = expected.get('eth0')!;
    for (let i = 0; i < N; i++) {
      const extra = `198.51.100.${200 + (Math.floor(i / 2) % 50)}`;
      const add = i % 2 === 0;
      await execP('ip', ['-n', ns.name, 'addr', add ? 'add' : 'del', `${extra}/32`, 'dev', 'eth0']);
      const t0 = now();
      const want = add ? [...base, extra] : base;
      const t1 = await w.until(() => sameSet(w.heps.get(hepName)?.spec.expectedIPs, want), TIMEOUT, `address change ${i}`);
      addr.push(Math.max(0, t1 - t0));
      await gap();
    }
    results[key]['address add/remove'] = { ...summarize(addr), samples: addr };
    log(`${key} address: ${fmtSummary(summarize(addr))}`);

    // Node label change.
    const lab: number[] = [];
    for (let i = 0; i < N; i++) {
      const value = `v${i}`;
      const r = await server.call('PATCH', `/api/v1/nodes/${nodeName}`, { metadata: { labels: { 'bench/rev': value } } }, 'application/merge-patch+json');
      const t0 = now();
      if (r.status !== 200) throw new Error(`patch node: ${r.status} ${JSON.stringify(r.json)}`);
      const t1 = await w.until(
        () => [...expected.keys()].every((ifc) => w.heps.get(`${nodeName}-${ifc}`)?.metadata.labels?.['bench/rev'] === value),
        TIMEOUT,
        `label change ${i}`,
      );
      lab.push(Math.max(0, t1 - t0));
      await gap();
    }
    results[key]['node label change (4 HEPs)'] = { ...summarize(lab), samples: lab };
    log(`${key} label: ${fmtSummary(summarize(lab))}`);

    // New interface -> new HEP.
    const nif: number[] = [];
    for (let i = 0; i < N; i++) {
      const name = `new${i}`;
      const ip = `2001:db8:ffff::${(i + 1).toString(16)}`;
      await ns.batch([`link add ${name} type ifb`, `addr add ${ip}/64 nodad dev ${name}`]);
      const t0 = now();
      const t1 = await w.until(() => sameSet(w.heps.get(`${nodeName}-${name}`)?.spec.expectedIPs, [ip]), TIMEOUT, `new interface ${i}`);
      nif.push(Math.max(0, t1 - t0));
      await gap();
    }
    results[key]['new interface -> new HEP'] = { ...summarize(nif), samples: nif };
    log(`${key} new interface: ${fmtSummary(summarize(nif))}`);

    // Bursts: 10 address changes 20 ms apart (a flapping link, a DHCP renewal storm). The cost of a short
    // debounce: HEP writes per burst; the benefit: time from the burst's last change to the final HEP.
    const BURSTS = f.quick ? 5 : 20;
    const writes: number[] = [];
    const settle: number[] = [];
    const logBefore = async () => (await server.admin.log()).total;
    for (let b = 0; b < BURSTS; b++) {
      const since = await logBefore();
      let want = base;
      let tLast = 0;
      for (let k = 0; k < 10; k++) {
        const extra = `203.0.113.${100 + k}`;
        await execP('ip', ['-n', ns.name, 'addr', 'add', `${extra}/32`, 'dev', 'eth0']);
        tLast = now();
        want = [...want, extra];
        await sleep(20);
      }
      const final = want;
      const t1 = await w.until(() => sameSet(w.heps.get(hepName)?.spec.expectedIPs, final), TIMEOUT, `burst ${b}`);
      settle.push(Math.max(0, t1 - tLast));
      await sleep(debounce + 300);
      const entries = (await server.admin.log(since)).entries;
      writes.push(entries.filter((e) => e.user !== 'fake-admin' && e.verb === 'update' && e.name === hepName).length);
      // Remove the burst's addresses again (one command) and let it settle before the next burst.
      await ns.batch(Array.from({ length: 10 }, (_, k) => `addr del 203.0.113.${100 + k}/32 dev eth0`));
      await w.until(() => sameSet(w.heps.get(hepName)?.spec.expectedIPs, base), TIMEOUT, `burst ${b} reset`);
      await sleep(debounce + 300);
    }
    results[key]['burst of 10 changes 20 ms apart: last change -> correct'] = { ...summarize(settle), samples: settle };
    results[key]['burst of 10 changes 20 ms apart: HEP writes per burst'] = { ...summarize(writes), samples: writes };
    log(`${key} bursts: settle ${fmtSummary(summarize(settle))}; writes per burst ${fmtSummary(summarize(writes), '', 0)}`);
    w.close();
    await nut.agent.stop();
    await ns.destroy();
  }
  for (const [k, v] of Object.entries(results)) for (const [m, s] of Object.entries(v)) log(`${k} | ${m}: ${fmtSummary(s)}`);
  const path = saveResult('convergence', modeName(f), {
    build: `bundle:${bundle.kind}`,
    changesPerKind: N,
    results,
    note: `${V3} observed through a watch; t0 = the change command returned`,
  });
  log(`saved ${path}`);
});
