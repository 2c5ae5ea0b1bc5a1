// Measures the bundled agent's footprint for the DaemonSet's requests and limits (docs/install.md):
// `node dist/calico-hep-agent.mjs run` against the fake API server, watching a network namespace
// with a few interfaces, for DURATION seconds with an address change every few seconds. Reports
// RSS (current and peak) and CPU time from /proc. Needs root (netns) and `npm run build` first.
//   node test/deploy/measure.ts [seconds]
import { spawn } from 'node:child_process';
import { readFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeApiServer } from '../fake-apiserver/index.ts';
import { Netns } from '../helpers/netns.ts';

const seconds = Number(process.argv[2] ?? 60);
const bundle = fileURLToPath(new URL('../../dist/calico-hep-agent.mjs', import.meta.url));
const ticks = 100; // USER_HZ

async function procStats(pid: number): Promise<{ rssKiB: number; hwmKiB: number; cpuSeconds: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? NaN);
  const stat = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return { rssKiB: kib('VmRSS'), hwmKiB: kib('VmHWM'), cpuSeconds: (Number(stat[11]) + Number(stat[12])) / ticks };
}

const ns = await Netns.create();
let dir: string | undefined;
const server = await startFakeApiServer({ seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { 'node-role.kubernetes.io/control-plane': '' } } }] as never });
try {
  for (let i = 0; i < 4; i++) {
    await ns.addVeth(`eth${i}`, `peer${i}`);
    await ns.setUp(`eth${i}`, `peer${i}`);
    await ns.addAddr(`eth${i}`, `192.0.2.${10 + i}/24`);
  }
  dir = await mkdtemp(join(tmpdir(), 'hep-measure-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig, { admin: true });
  const config = join(dir, 'config.yaml');
  const shipped = await readFile(fileURLToPath(new URL('../../deploy/config.yaml', import.meta.url)), 'utf8');
  await writeFile(config, shipped.replace(/port: 9808/, 'port: 0').replace(/address: 0\.0\.0\.0/, 'address: 127.0.0.1'));
  const started = performance.now();
  const agent = spawn(process.execPath, [bundle, 'run', '--kubeconfig', kubeconfig, '--config', config, '--netns', ns.name], {
    env: { PATH: process.env['PATH'] ?? '', NODE_NAME: 'n1', NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  let listeningMs: number | undefined;
  let firstHepMs: number | undefined;
  agent.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (listeningMs === undefined && out.includes('listening for probes')) listeningMs = performance.now() - started;
  });
  const pid = agent.pid!;
  let peakRss = 0;
  let changes = 0;
  const samples: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  let i = 0;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 1000));
    if (firstHepMs === undefined && server.store.list('hostendpoints.projectcalico.org').length >= 4) firstHepMs = performance.now() - started;
    if (++i % 5 === 0) {
      // churn: add then remove an address (each a netlink event, a rediscovery and a HEP update)
      const addr = `198.51.100.${i % 250}/24`;
      await ns.addAddr(`eth${i % 4}`, addr);
      changes++;
    }
    const s = await procStats(pid);
    peakRss = Math.max(peakRss, s.rssKiB);
    samples.push(s.rssKiB);
  }
  const end = await procStats(pid);
  agent.kill('SIGTERM');
  await new Promise((r) => agent.once('close', r));
  const heps = server.store.list('hostendpoints.projectcalico.org').length;
  const writes = server.requestLog.filter((e) => ['create', 'update', 'delete'].includes(e.verb)).length;
  process.stdout.write(
    `${JSON.stringify(
      {
        seconds,
        listeningMs: Math.round(listeningMs ?? NaN),
        firstHepsMs: Math.round(firstHepMs ?? NaN),
        heps,
        addressChanges: changes,
        apiWrites: writes,
        rssMiB: { end: +(end.rssKiB / 1024).toFixed(1), peakSampled: +(peakRss / 1024).toFixed(1), peakKernel: +(end.hwmKiB / 1024).toFixed(1) },
        rssEvery10sMiB: samples.filter((_, k) => k % 10 === 9).map((v) => +(v / 1024).toFixed(1)),
        cpuSeconds: end.cpuSeconds,
        cpuMillicoresAverage: Math.round((end.cpuSeconds / seconds) * 1000),
      },
      null,
      2,
    )}\n`,
  );
} finally {
  await server.close();
  await ns.destroy();
  // The kubeconfig holds the fake server's token: leave nothing behind.
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}
