// main.ts as a separate process: the ready line, the written kubeconfigs, control over /__fake/, RBAC from a
// YAML file, and a clean exit on SIGTERM.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { connectFakeApiServer } from './index.ts';
import { hep, raw } from './testutil.ts';
import { parseJson } from '../helpers/json.ts';

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url));
const ROLE = `apiVersion: v1
kind: ServiceAccount
metadata: {name: agent, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agent}
rules:
  - apiGroups: [""]
    resources: [nodes]
    verbs: [get, list, watch]
  - apiGroups: [crd.projectcalico.org]
    resources: [hostendpoints]
    verbs: [get, list, watch, create, update, patch]
`;

describe('standalone main.ts', () => {
  let dir: string;
  let child: ReturnType<typeof spawn>;
  let ready: { url: string; kubeconfig: string; adminKubeconfig: string; pid: number; token: string; adminToken: string; caFile: string };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fake-standalone-'));
    await writeFile(join(dir, 'role.yaml'), ROLE);
    child = spawn(
      process.execPath,
      [
        MAIN,
        '--port',
        '0',
        '--groups',
        'crd.projectcalico.org/v1',
        '--kubeconfig-out',
        join(dir, 'kc', 'kubeconfig'),
        '--rbac-clusterrole',
        join(dir, 'role.yaml'),
        '--rbac-user',
        'system:serviceaccount:kube-system:agent',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    ready = parseJson<typeof ready>(line);
  });
  after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('prints {url, kubeconfig, pid} and serves the configured group through the written kubeconfig', async () => {
    assert.match(ready.url, /^https:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(ready.pid, child.pid);
    assert.equal(ready.kubeconfig, join(dir, 'kc', 'kubeconfig'));
    const kc = new KubeConfig();
    kc.loadFromFile(ready.kubeconfig);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const G = { group: 'crd.projectcalico.org', version: 'v1', plural: 'hostendpoints' };
    await custom.createClusterCustomObject({ ...G, body: hep('s1', {}, {}, 'crd.projectcalico.org/v1') });
    const l = (await custom.listClusterCustomObject(G)) as { items: unknown[] };
    assert.equal(l.items.length, 1);
    const caPem = await readFile(ready.caFile, 'utf8');
    assert.equal(
      (await raw({ url: ready.url, caPem }, 'GET', '/apis/projectcalico.org/v3/hostendpoints', { token: ready.adminToken })).status,
      404,
      'v3 not served',
    );
    assert.equal(
      (await raw({ url: ready.url, caPem }, 'DELETE', '/apis/crd.projectcalico.org/v1/hostendpoints/s1', { token: ready.token })).status,
      403,
      'RBAC from the YAML file',
    );
    await kc.makeApiClient(CoreV1Api).listNode();
  });

  it('is controllable over /__fake/: seed, faults, request log, state', async () => {
    const caPem = await readFile(ready.caFile, 'utf8');
    const admin = connectFakeApiServer({ url: ready.url, caPem, token: ready.token });
    await admin.clearLog();
    await admin.seed({ apiVersion: 'v1', kind: 'Node', metadata: { name: 'seeded' } });
    assert.equal((await admin.get('nodes', 'seeded'))?.metadata.name, 'seeded');
    await admin.controls({ failNext: { n: 1, code: 503, retryAfterSeconds: 1 } });
    const r = await raw({ url: ready.url, caPem }, 'GET', '/api/v1/nodes', { token: ready.token });
    assert.equal(r.status, 503);
    assert.equal(r.headers['retry-after'], '1');
    const log = await admin.log();
    assert.deepEqual(
      log.entries.filter((e) => e.verb !== 'admin').map((e) => [e.verb, e.code, e.injected]),
      [['list', 503, true]],
    );
    const st = await admin.state();
    assert.ok(Number(st.resourceVersion) > 0);
    assert.equal(await admin.delete('nodes', 'seeded'), true);
  });

  it('exits 0 on SIGTERM', async () => {
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGTERM');
    });
    assert.equal(code, 0);
  });
});
