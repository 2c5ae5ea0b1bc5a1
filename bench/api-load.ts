// API load per node at steady state, with the real agent runtime (N agents in one process, real
// clock, HttpApiClient) against the standalone fake API server, counted from the server's request log.
//
//   node bench/api-load.ts [--quick] [--nodes N] [--minutes M] [--min-watch S]
//
// default 50 nodes for 2 minutes with watches of 10-20 s; issue 13's figure:
//   node --max-old-space-size=4096 bench/api-load.ts --nodes 1000 --minutes 6 --min-watch 60
// Watches are shortened (server-side timeout S..2S s instead of 300-600 s) so that the window holds
// many reconnects; requests per watch cycle do not depend on its length, so the per-hour figure at
// the default timeouts is the measured rate scaled by the ratio of mean watch lengths (450 s / 1.5 S).
// The cluster holds 20,000 other HEPs; 500 of them are updated during the window (other nodes' churn).
import { KubeConfig } from '@kubernetes/client-node';
import { flags, log, main, saveResult, sleep } from './lib/common.ts';
import { nodeObject, startServer } from './lib/fake-server.ts';
import { inProcessAgent } from './lib/in-process-agent.ts';

const f = flags();
const arg = (name: string, dflt: number): number => {
  const i = f.args.indexOf(name);
  return i >= 0 ? Number(f.args[i + 1]) : dflt;
};
const NODES = arg('--nodes', f.quick ? 10 : 50);
const WINDOW_MS = arg('--minutes', f.quick ? 0.5 : 2) * 60_000;
const MIN_WATCH_S = arg('--min-watch', 10);

await main(async (cleanups) => {
  const server = await startServer();
  cleanups.push(() => server.stop());
  const others: object[] = [];
  for (let i = 0; i < 20_000; i++) {
    others.push({
      apiVersion: 'projectcalico.org/v3',
      kind: 'HostEndpoint',
      metadata: { name: `o-${i}`, labels: { 'app.kubernetes.io/managed-by': 'calico-hep-agent', 'calico-hep-agent.io/node': `o-${i}` } },
      spec: { node: `o-${i}`, interfaceName: 'eth0' },
    });
  }
  for (let i = 0; i < others.length; i += 1000) await server.admin.seed(...(others.slice(i, i + 1000) as never[]));
  const names = Array.from({ length: NODES }, (_, i) => `load-${i}`);
  await server.admin.seed(...(names.map((n) => nodeObject(n, { role: 'worker', 'kubernetes.io/hostname': n })) as never[]));
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfig);
  const agents = names.map((nodeName) => inProcessAgent(kc, nodeName, (http) => http, { minWatchTimeoutSeconds: MIN_WATCH_S }));
  cleanups.push(async () => {
    for (const a of agents) await a.stop();
  });
  const startedAt = Date.now();
  const fromStart = (await server.admin.log()).total;
  for (const a of agents) a.agent.start();
  // Converge (and let the start-up lists finish) before counting.
  const end = Date.now() + Math.max(60_000, NODES * 600);
  while (!agents.every((a) => a.agent.status().ready)) {
    if (Date.now() > end) throw new Error('agents did not converge');
    await sleep(100);
  }
  const convergedMs = Date.now() - startedAt;
  log(`${NODES} agents ready ${(convergedMs / 1000).toFixed(1)} s after start`);
  await sleep(2_000);
  const from = (await server.admin.log()).total;
  const startEntries = (await server.admin.log(fromStart)).entries.slice(0, from - fromStart).filter((e: { user?: string }) => e.user !== 'fake-admin');
  const startByVerb: Record<string, number> = {};
  for (const e of startEntries as { verb: string }[]) startByVerb[e.verb] = (startByVerb[e.verb] ?? 0) + 1;
  const t0 = Date.now();
  // Other nodes' churn: 500 updates of HEPs this agent does not select.
  for (let i = 0; i < 500; i++) {
    const o = others[i] as { metadata: { labels: Record<string, string> } };
    o.metadata.labels['rev'] = String(i);
  }
  await server.admin.seed(...(others.slice(0, 500) as never[]));
  await sleep(WINDOW_MS - (Date.now() - t0));
  const windowMs = Date.now() - t0;
  const entries = (await server.admin.log(from)).entries.filter((e: { user?: string }) => e.user !== 'fake-admin');
  const byVerb: Record<string, number> = {};
  for (const e of entries as { verb: string }[]) byVerb[e.verb] = (byVerb[e.verb] ?? 0) + 1;
  const byVerbResource: Record<string, number> = {};
  for (const e of entries as { verb: string; resource?: string; code: number }[]) {
    const k = `${e.verb} ${e.resource ?? ''} ${e.code}`;
    byVerbResource[k] = (byVerbResource[k] ?? 0) + 1;
  }
  const perNodePerHourShort = Object.fromEntries(Object.entries(byVerb).map(([v, n]) => [v, (n / NODES) * (3_600_000 / windowMs)]));
  const scale = (1.5 * MIN_WATCH_S) / 450;
  const perNodePerHourDefault = Object.fromEntries(Object.entries(perNodePerHourShort).map(([v, n]) => [v, v === 'watch' ? n * scale : n]));
  const totalDefault = Object.values(perNodePerHourDefault).reduce((a, b) => a + b, 0);
  log(`${NODES} nodes, ${(windowMs / 1000).toFixed(0)} s, watch timeouts ${MIN_WATCH_S}-${2 * MIN_WATCH_S} s: requests by verb ${JSON.stringify(byVerb)}`);
  log(
    `per node per hour at the default watch timeouts (300-600 s): ${JSON.stringify(Object.fromEntries(Object.entries(perNodePerHourDefault).map(([k, v]) => [k, Number(v.toFixed(1))])))}, total ${totalDefault.toFixed(1)}`,
  );
  log(`by verb, resource and code: ${JSON.stringify(byVerbResource)}; at start (all ${NODES}): ${JSON.stringify(startByVerb)}`);
  log(`projection: 1,000 nodes ${((totalDefault * 1000) / 3600).toFixed(1)} requests/s; 5,000 nodes ${((totalDefault * 5000) / 3600).toFixed(1)} requests/s`);
  log(
    `saved ${saveResult('api-load', f.quick ? 'quick' : NODES === 50 ? 'full' : `${NODES}-nodes`, { nodes: NODES, windowMs, minWatchTimeoutSeconds: MIN_WATCH_S, convergedMs, startByVerb, byVerb, byVerbResource, perNodePerHourDefault, totalDefault, projectionRequestsPerSecond: { 1000: (totalDefault * 1000) / 3600, 5000: (totalDefault * 5000) / 3600 } })}`,
  );
});
