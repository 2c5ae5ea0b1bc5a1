// Standalone fake API server for end-to-end tests and benchmarks. Prints one JSON line when ready:
//   {"url":..., "kubeconfig":..., "adminKubeconfig":..., "pid":..., "token":..., "adminToken":..., "caFile":...}
// and exits 0 on SIGTERM/SIGINT. Usage: see README.md (`node test/fake-apiserver/main.ts --help`).
import { writeFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CALICO_GROUPS, startFakeApiServer, type CalicoGroup } from './index.ts';

const HELP = `usage: node test/fake-apiserver/main.ts [options]
  --port N                       listen port on 127.0.0.1 (default 0 = any)
  --groups G[,G]                 projectcalico.org/v3, crd.projectcalico.org/v1, both, or "none" (default projectcalico.org/v3)
  --kubeconfig-out PATH          where to write the kubeconfig (default: a temp dir)
  --admin-kubeconfig-out PATH    also write an unrestricted kubeconfig (admin token)
  --token T / --admin-token T    fixed tokens (default random)
  --rbac-clusterrole PATH        YAML with the ClusterRole(s) the token's user is limited to
  --rbac-user NAME               user name for the token (e.g. system:serviceaccount:ns:sa)
  --watch-history N              watch events retained (default 1000)
  --no-paging                    ignore \`limit\`: every list comes whole (a server that does not page)
  --bookmark-interval-ms N       BOOKMARK interval (default 1000)
  --no-calico-rules              only the CRD schema, not Calico's interfaceName/expectedIPs rules`;

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    groups: { type: 'string', default: 'projectcalico.org/v3' },
    'kubeconfig-out': { type: 'string' },
    'admin-kubeconfig-out': { type: 'string' },
    token: { type: 'string' },
    'admin-token': { type: 'string' },
    'rbac-clusterrole': { type: 'string' },
    'rbac-user': { type: 'string', default: 'system:serviceaccount:calico-hep-agent:calico-hep-agent' },
    'watch-history': { type: 'string', default: '1000' },
    'bookmark-interval-ms': { type: 'string', default: '1000' },
    'no-calico-rules': { type: 'boolean', default: false },
    'no-paging': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const groups =
  values.groups === 'none'
    ? []
    : values.groups
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
for (const g of groups) {
  if (!(CALICO_GROUPS as readonly string[]).includes(g)) {
    console.error(`unknown group ${g}; use ${CALICO_GROUPS.join(', ')} or none`);
    process.exit(2);
  }
}

const server = await startFakeApiServer({
  port: Number(values.port),
  calicoGroups: groups as CalicoGroup[],
  token: values.token,
  adminToken: values['admin-token'],
  rbac: values['rbac-clusterrole'] ? { clusterRole: values['rbac-clusterrole'], user: values['rbac-user'] } : undefined,
  watchHistory: Number(values['watch-history']),
  bookmarkIntervalMs: Number(values['bookmark-interval-ms']),
  calicoRules: !values['no-calico-rules'],
  paging: !values['no-paging'],
});
const dir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
const kubeconfig = values['kubeconfig-out'] ?? join(dir, 'kubeconfig');
await server.writeKubeconfig(kubeconfig);
const adminKubeconfig = values['admin-kubeconfig-out'] ?? join(dir, 'admin.kubeconfig');
await server.writeKubeconfig(adminKubeconfig, { admin: true });
const caFile = join(dir, 'ca.crt');
await writeFile(caFile, server.caPem);

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  // The temp dir holds kubeconfigs with tokens and the CA: remove it (files written elsewhere
  // with --kubeconfig-out/--admin-kubeconfig-out are the caller's).
  void server.close().then(() => {
    rmSync(dir, { recursive: true, force: true });
    process.exit(0);
  });
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
console.log(JSON.stringify({ url: server.url, kubeconfig, adminKubeconfig, pid: process.pid, token: server.token, adminToken: server.adminToken, caFile }));
