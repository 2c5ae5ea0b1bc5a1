// The agent's real client library against the fake: CRUD, patch content types, Watch, informers, and recovery
// from dropped watches (resume by resourceVersion) and from 410 Expired (relist).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  makeInformer,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type KubernetesObject,
  type V1Node,
} from '@kubernetes/client-node';
import { startFakeApiServer, type FakeApiServer } from './index.ts';
import { hep, waitFor } from './testutil.ts';
import { parseJson } from '../helpers/json.ts';

const G = { group: 'projectcalico.org', version: 'v3', plural: 'hostendpoints' };
let s: FakeApiServer;
let core: CoreV1Api;
let custom: CustomObjectsApi;
before(async () => {
  s = await startFakeApiServer({ bookmarkIntervalMs: 0 });
  const kc = s.kubeConfig();
  core = kc.makeApiClient(CoreV1Api);
  custom = kc.makeApiClient(CustomObjectsApi);
});
after(() => s.close());

const codeOf = async (p: Promise<unknown>) => {
  try {
    await p;
    return 200;
  } catch (e) {
    return (e as ApiException<unknown>).code;
  }
};

describe('@kubernetes/client-node against the fake', () => {
  it('does CRUD on nodes with CoreV1Api (merge patch via setHeaderOptions)', async () => {
    const created = await core.createNode({ body: { metadata: { name: 'cn1', labels: { a: '1' } } } });
    assert.ok(created.metadata?.uid);
    const patched = await core.patchNode(
      { name: 'cn1', body: { metadata: { labels: { b: '2' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    assert.deepEqual(patched.metadata?.labels, { a: '1', b: '2' });
    const smp = await core.patchNode(
      { name: 'cn1', body: { metadata: { labels: { c: '3' } } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    assert.equal(smp.metadata?.labels?.c, '3');
    const list = await core.listNode({ labelSelector: 'a=1,c' });
    assert.deepEqual(
      list.items.map((n) => n.metadata?.name),
      ['cn1'],
    );
    await core.deleteNode({ name: 'cn1' });
    assert.equal(await codeOf(core.readNode({ name: 'cn1' })), 404);
  });

  it('does CRUD on hostendpoints with CustomObjectsApi, incl. merge patch, SSA and 422', async () => {
    await custom.createClusterCustomObject({ ...G, body: hep('c1', {}, { labels: { managed: 'yes' } }) });
    const got = (await custom.getClusterCustomObject({ ...G, name: 'c1' })) as KubernetesObject & { spec: { interfaceName: string } };
    assert.equal(got.spec.interfaceName, 'eth0');
    const mp = (await custom.patchClusterCustomObject(
      { ...G, name: 'c1', body: { spec: { interfaceName: 'eth1' } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    )) as { spec: { interfaceName: string } };
    assert.equal(mp.spec.interfaceName, 'eth1');
    // Without an explicit content type client-node sends json-patch; a merge-patch body is then refused.
    assert.notEqual(await codeOf(custom.patchClusterCustomObject({ ...G, name: 'c1', body: { spec: { interfaceName: 'eth2' } } })), 200);
    const applied = (await custom.patchClusterCustomObject(
      { ...G, name: 'c2', body: hep('c2'), fieldManager: 'calico-hep-agent', force: true },
      setHeaderOptions('Content-Type', PatchStrategy.ServerSideApply),
    )) as KubernetesObject;
    assert.equal(applied.metadata?.managedFields?.[0]?.manager, 'calico-hep-agent');
    const l = (await custom.listClusterCustomObject({ ...G, labelSelector: 'managed=yes' })) as { items: KubernetesObject[] };
    assert.deepEqual(
      l.items.map((i) => i.metadata?.name),
      ['c1'],
    );
    let err: ApiException<string> | undefined;
    try {
      await custom.createClusterCustomObject({ ...G, body: hep('bad', { interfaceName: 'bad iface' }) });
    } catch (e) {
      err = e as ApiException<string>;
    }
    assert.equal(err?.code, 422);
    assert.equal(parseJson<{ details: { causes: { field: string }[] } }>(err.body).details.causes[0]!.field, 'spec.interfaceName');
    await custom.deleteClusterCustomObject({ ...G, name: 'c1' });
    await custom.deleteClusterCustomObject({ ...G, name: 'c2' });
  });

  it('Watch: streams events, ends when the server drops it, resumes from the last resourceVersion', async () => {
    const w = new Watch(s.kubeConfig());
    const seen: string[] = [];
    let lastRv = '';
    let done = false;
    await w.watch(
      '/api/v1/nodes',
      { resourceVersion: s.store.resourceVersion },
      (type, obj: V1Node) => {
        seen.push(`${type}:${obj.metadata?.name}`);
        lastRv = obj.metadata!.resourceVersion!;
      },
      () => {
        done = true;
      },
    );
    await core.createNode({ body: { metadata: { name: 'wn1' } } });
    await waitFor(() => seen.includes('ADDED:wn1'), 'ADDED');
    s.controls.dropWatches();
    await waitFor(() => done, 'done callback');
    await core.patchNode({ name: 'wn1', body: { metadata: { labels: { x: 'y' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const req = await w.watch(
      '/api/v1/nodes',
      { resourceVersion: lastRv },
      (type, obj: V1Node) => {
        seen.push(`${type}:${obj.metadata?.name}`);
      },
      () => {},
    );
    await waitFor(() => seen.includes('MODIFIED:wn1'), 'the change made while disconnected');
    req.abort();
  });

  it('informer: resumes after a dropped watch without relisting, and relists after 410 Expired', async () => {
    const path = '/apis/projectcalico.org/v3/hostendpoints';
    const listFn = () => custom.listClusterCustomObject(G) as Promise<{ items: KubernetesObject[]; metadata: { resourceVersion: string } }>;
    const inf = makeInformer(s.kubeConfig(), path, listFn as never);
    const events: string[] = [];
    inf.on('add', (o) => events.push(`add:${o.metadata?.name}`));
    inf.on('update', (o) => events.push(`update:${o.metadata?.name}`));
    inf.on('delete', (o) => events.push(`delete:${o.metadata?.name}`));
    s.store.put(hep('i1'));
    await inf.start();
    await waitFor(() => events.includes('add:i1'), 'listed');
    await waitFor(() => s.requests({ verb: 'watch', resource: 'hostendpoints.projectcalico.org' }).length === 1, 'watching');
    s.clearRequestLog();

    s.controls.dropWatches();
    s.store.put(hep('i2'));
    await waitFor(() => events.includes('add:i2'), 'resumed watch delivers the missed add');
    assert.equal(s.requests({ verb: 'list' }).length, 0, 'a resumable watch does not relist');

    // Compact history, cut the watch, and change things meanwhile: the resume gets 410, the informer relists.
    await waitFor(() => s.controls.activeWatches() === 1, 'watch re-established');
    s.controls.hangWatches(true);
    s.store.put(hep('i3'));
    s.store.delete('hostendpoints', 'i1');
    s.controls.compact();
    s.controls.hangWatches(false);
    s.controls.dropWatches();
    await waitFor(() => events.includes('add:i3') && events.includes('delete:i1'), 'relisted state', 8000);
    assert.ok(s.requests({ verb: 'list', resource: 'hostendpoints.projectcalico.org' }).length >= 1, 'relisted');
    assert.deepEqual(
      inf
        .list()
        .map((o) => o.metadata?.name)
        .sort(),
      ['i2', 'i3'],
    );
    await inf.stop();
  });
});
