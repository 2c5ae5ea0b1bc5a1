// The wire behaviour, over real HTTPS: status codes and Status bodies, resourceVersion rules, watch semantics,
// garbage collection, RBAC, fault controls and the request log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeApiServer, type FakeApiServer } from './index.ts';
import { client, hep, HEPS, node, openWatch, raw, waitFor, type WireMeta } from './testutil.ts';

let s: FakeApiServer;
let api: ReturnType<typeof client>;
before(async () => {
  s = await startFakeApiServer({ calicoGroups: ['projectcalico.org/v3', 'crd.projectcalico.org/v1'], bookmarkIntervalMs: 50, watchHistory: 50 });
  api = client(s);
});
after(() => s.close());

describe('auth, discovery and errors', () => {
  it('answers 401 with a Status body without a valid bearer token', async () => {
    const r = await raw(s, 'GET', '/api/v1/nodes', { token: null });
    assert.equal(r.status, 401);
    assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    assert.equal((await raw(s, 'GET', '/api/v1/nodes', { token: 'wrong' })).status, 401);
  });
  it('serves discovery for the configured groups only', async () => {
    const groups = (await api('GET', '/apis')).json.groups.map((g) => g.name);
    assert.deepEqual(groups.filter((g: string) => g.includes('calico')).sort(), ['crd.projectcalico.org', 'projectcalico.org']);
    assert.ok(groups.includes('coordination.k8s.io') && groups.includes('events.k8s.io'));
    const v3 = (await api('GET', '/apis/projectcalico.org/v3')).json;
    assert.deepEqual(v3.resources.map((r) => r.name).sort(), ['felixconfigurations', 'globalnetworkpolicies', 'hostendpoints', 'tiers']);
    assert.equal((await api('GET', '/api/v1')).json.resources.find((r) => r.name === 'nodes')!.namespaced, false);
    assert.equal((await api('GET', '/version')).json.major, '1');
    const none = await startFakeApiServer({ calicoGroups: [] });
    try {
      const r = await raw(none, 'GET', '/apis/projectcalico.org/v3/hostendpoints', { token: none.adminToken });
      assert.equal(r.status, 404);
      assert.equal(r.json.kind, 'Status');
    } finally {
      await none.close();
    }
  });
  it('404 NotFound and 409 AlreadyExists carry proper Status details', async () => {
    const r = await api('GET', `${HEPS}/nope`);
    assert.equal(r.status, 404);
    assert.equal(r.json.reason, 'NotFound');
    assert.equal(r.json.message, 'hostendpoints.projectcalico.org "nope" not found');
    assert.deepEqual(r.json.details, { name: 'nope', group: 'projectcalico.org', kind: 'hostendpoints' });
    assert.equal((await api('POST', HEPS, { body: hep('dup') })).status, 201);
    const d = await api('POST', HEPS, { body: hep('dup') });
    assert.equal(d.status, 409);
    assert.equal(d.json.reason, 'AlreadyExists');
  });
  it('answers 422 Invalid with details.causes for a bad HostEndpoint', async () => {
    const r = await api('POST', HEPS, { body: hep('bad', { interfaceName: 'way-too-long-iface0' }) });
    assert.equal(r.status, 422);
    assert.equal(r.json.reason, 'Invalid');
    assert.equal(r.json.details.kind, 'HostEndpoint');
    assert.ok(r.json.details.causes.some((c) => c.field === 'spec.interfaceName' && c.reason === 'FieldValueTooLong'));
    assert.match(r.json.message, /^HostEndpoint\.projectcalico\.org "bad" is invalid: /);
  });
  it('prunes unknown fields with a Warning header, or rejects them with fieldValidation=Strict', async () => {
    const w = await api('POST', HEPS, { body: hep('pruned', { extra: true }) });
    assert.equal(w.status, 201);
    assert.equal(w.json.spec.extra, undefined);
    assert.match(String(w.headers.warning), /unknown field \\"spec.extra\\"/);
    const st = await api('POST', `${HEPS}?fieldValidation=Strict`, { body: hep('strict', { extra: true }) });
    assert.equal(st.status, 400);
    assert.match(st.json.message, /strict decoding error: unknown field "spec.extra"/);
  });
});

describe('writes and resourceVersions', () => {
  it('creates with uid, creationTimestamp, generation and generateName; dryRun persists nothing', async () => {
    const c = await api('POST', HEPS, { body: { ...hep(''), metadata: { generateName: 'gen-' } } });
    assert.equal(c.status, 201);
    assert.match(c.json.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.ok(c.json.metadata.uid && c.json.metadata.creationTimestamp);
    assert.equal(c.json.metadata.generation, 1);
    const rv = s.store.resourceVersion;
    const d = await api('POST', `${HEPS}?dryRun=All`, { body: hep('dry') });
    assert.equal(d.status, 201);
    assert.equal(s.store.resourceVersion, rv);
    assert.equal((await api('GET', `${HEPS}/dry`)).status, 404);
  });
  it('409 Conflict on a stale resourceVersion; CR updates require one; no-op writes keep the resourceVersion', async () => {
    const c = (await api('POST', HEPS, { body: hep('rv1') })).json;
    const u = await api('PUT', `${HEPS}/rv1`, { body: { ...c, spec: { ...c.spec, interfaceName: 'eth1' } } });
    assert.equal(u.status, 200);
    assert.equal(u.json.metadata.generation, 2);
    const stale = await api('PUT', `${HEPS}/rv1`, { body: { ...c, spec: { ...c.spec, interfaceName: 'eth2' } } });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.reason, 'Conflict');
    assert.match(stale.json.message, /the object has been modified; please apply your changes to the latest version and try again/);
    const noRv: { metadata: Partial<WireMeta> } = structuredClone(u.json);
    delete noRv.metadata.resourceVersion;
    const nr = await api('PUT', `${HEPS}/rv1`, { body: noRv });
    assert.equal(nr.status, 422);
    assert.equal(nr.json.details.causes[0]!.field, 'metadata.resourceVersion');
    const same = await api('PUT', `${HEPS}/rv1`, { body: u.json });
    assert.equal(same.json.metadata.resourceVersion, u.json.metadata.resourceVersion, 'no-op update keeps RV');
    const mp = await api('PATCH', `${HEPS}/rv1`, { body: { spec: { interfaceName: 'eth1' } }, contentType: 'application/merge-patch+json' });
    assert.equal(mp.json.metadata.resourceVersion, u.json.metadata.resourceVersion, 'no-op patch keeps RV');
    const label = await api('PATCH', `${HEPS}/rv1`, { body: { metadata: { labels: { a: 'b' } } }, contentType: 'application/merge-patch+json' });
    assert.equal(label.json.metadata.generation, 2, 'metadata-only change keeps generation');
    const pre = await api('PATCH', `${HEPS}/rv1`, {
      body: { metadata: { resourceVersion: '1' }, spec: { interfaceName: 'eth3' } },
      contentType: 'application/merge-patch+json',
    });
    assert.equal(pre.status, 409, 'a resourceVersion in a patch is a precondition');
  });
  it('patch content types: json-patch, SSA (fieldManager required), 415 for strategic on CRs, strategic on nodes', async () => {
    await api('POST', HEPS, { body: hep('p1') });
    const jp = await api('PATCH', `${HEPS}/p1`, {
      body: [{ op: 'replace', path: '/spec/interfaceName', value: 'eth9' }],
      contentType: 'application/json-patch+json',
    });
    assert.equal(jp.json.spec.interfaceName, 'eth9');
    const smp = await api('PATCH', `${HEPS}/p1`, { body: { spec: { interfaceName: 'x' } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(smp.status, 415);
    assert.equal(smp.json.reason, 'UnsupportedMediaType');
    const noFm = await api('PATCH', `${HEPS}/p2`, { body: hep('p2'), contentType: 'application/apply-patch+yaml' });
    assert.equal(noFm.status, 422);
    const ssa = await api('PATCH', `${HEPS}/p2?fieldManager=agent`, { body: hep('p2'), contentType: 'application/apply-patch+yaml' });
    assert.equal(ssa.status, 201, 'apply creates');
    assert.equal(ssa.json.metadata.managedFields[0]!.manager, 'agent');
    const again = await api('PATCH', `${HEPS}/p2?fieldManager=agent`, { body: hep('p2'), contentType: 'application/apply-patch+yaml' });
    assert.equal(again.status, 200);
    assert.equal(again.json.metadata.resourceVersion, ssa.json.metadata.resourceVersion, 'identical apply is a no-op');
    await api('POST', '/api/v1/nodes', { body: node('smp', { a: '1' }) });
    const n = await api('PATCH', '/api/v1/nodes/smp', { body: { metadata: { labels: { b: '2' } } }, contentType: 'application/strategic-merge-patch+json' });
    assert.equal(n.status, 200);
    assert.deepEqual(n.json.metadata.labels, { a: '1', b: '2' });
    assert.equal(n.json.metadata.generation, undefined, 'nodes carry no generation');
  });
  it('nodes allow unconditional update; core lists omit item kinds; DELETE answers Status for nodes and the object for CRs', async () => {
    await api('POST', '/api/v1/nodes', { body: node('u1') });
    const u = await api('PUT', '/api/v1/nodes/u1', { body: node('u1', { z: '1' }) });
    assert.equal(u.status, 200);
    const l = (await api('GET', '/api/v1/nodes?labelSelector=z%3D1')).json;
    assert.equal(l.kind, 'NodeList');
    assert.equal(l.items.length, 1);
    assert.equal(l.items[0]!.kind, undefined);
    const hl = (await api('GET', `${HEPS}?fieldSelector=metadata.name%3Dp1`)).json;
    assert.equal(hl.items[0]!.kind, 'HostEndpoint');
    assert.equal((await api('GET', `${HEPS}?fieldSelector=spec.node%3Dn1`)).status, 400);
    const dn = await api('DELETE', '/api/v1/nodes/u1');
    assert.equal(dn.json.kind, 'Status');
    assert.equal(dn.json.status, 'Success');
    const dh = await api('DELETE', `${HEPS}/p1`);
    assert.equal(dh.json.kind, 'HostEndpoint');
    assert.equal((await api('DELETE', `${HEPS}/p1`)).status, 404);
  });
  it('paginates with limit/continue, and an expired continue token answers 410', async () => {
    for (const n of ['pg-a', 'pg-b', 'pg-c']) await api('POST', '/api/v1/nodes', { body: node(n, { pg: 'x' }) });
    const p1 = (await api('GET', '/api/v1/nodes?labelSelector=pg&limit=2')).json;
    assert.equal(p1.items.length, 2);
    assert.ok(p1.metadata.continue);
    await api('DELETE', '/api/v1/nodes/pg-c');
    const p2 = (await api('GET', `/api/v1/nodes?labelSelector=pg&limit=2&continue=${p1.metadata.continue}`)).json;
    assert.deepEqual(
      p2.items.map((i) => i.metadata.name),
      ['pg-c'],
      'continue reads the snapshot of the first page',
    );
    s.controls.compact();
    const gone = await api('GET', `/api/v1/nodes?limit=2&continue=${p1.metadata.continue}`);
    assert.equal(gone.status, 410);
    assert.equal(gone.json.reason, 'Expired');
    assert.equal((await api('GET', `/api/v1/nodes?resourceVersion=${p1.metadata.resourceVersion}&resourceVersionMatch=Exact`)).status, 410);
    assert.equal((await api('GET', '/api/v1/nodes?resourceVersion=999999999')).status, 504);
  });
  it('events need an existing namespace; both event APIs work', async () => {
    const ev = { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e1' }, involvedObject: { kind: 'Node', name: 'n1' }, reason: 'R', message: 'm' };
    assert.equal((await api('POST', '/api/v1/namespaces/nope/events', { body: ev })).status, 404);
    assert.equal((await api('POST', '/api/v1/namespaces/default/events', { body: ev })).status, 201);
    assert.equal((await api('GET', '/api/v1/events?fieldSelector=involvedObject.name%3Dn1')).json.items.length, 1);
    const ev2 = {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'e2', namespace: 'default' },
      regarding: { kind: 'Node', name: 'n1' },
      reason: 'R',
      action: 'A',
      reportingController: 'c',
      reportingInstance: 'i',
      eventTime: new Date().toISOString(),
    };
    assert.equal((await api('POST', '/apis/events.k8s.io/v1/namespaces/default/events', { body: ev2 })).status, 201);
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: { holderIdentity: 'me' } };
    assert.equal(
      (await api('PUT', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l', { body: lease })).status,
      201,
      'leases allow create on update',
    );
  });
});

describe('watch', () => {
  it('sends synthetic ADDED for RV "", then changes; resumes from an RV; bookmarks; selector transitions', async () => {
    await api('POST', '/api/v1/nodes', { body: node('w1', { role: 'w' }) });
    const w = openWatch(s, '/api/v1/nodes?watch=true&labelSelector=role%3Dw&allowWatchBookmarks=true', s.adminToken);
    await waitFor(() => w.events.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'w1'), 'initial ADDED');
    assert.equal(w.events[0]!.object.kind, 'Node');
    await api('PATCH', '/api/v1/nodes/w1', { body: { metadata: { labels: { role: 'other' } } }, contentType: 'application/merge-patch+json' });
    await waitFor(() => w.events.some((e) => e.type === 'DELETED'), 'DELETED when leaving the selector');
    await waitFor(() => w.events.some((e) => e.type === 'BOOKMARK'), 'bookmark');
    const bm = w.events.find((e) => e.type === 'BOOKMARK');
    assert.deepEqual(Object.keys(bm!.object.metadata), ['resourceVersion']);
    w.stop();
    const rv = s.store.resourceVersion;
    await api('PATCH', '/api/v1/nodes/w1', { body: { metadata: { labels: { role: 'w' } } }, contentType: 'application/merge-patch+json' });
    const r = openWatch(s, `/api/v1/nodes?watch=true&resourceVersion=${rv}&labelSelector=role%3Dw`, s.adminToken);
    await waitFor(() => r.events.length === 1, 'resumed event');
    assert.equal(r.events[0]!.type, 'ADDED', 'entering the selector is ADDED');
    assert.equal(r.events[0]!.object.metadata.resourceVersion, String(Number(rv) + 1));
    r.stop();
  });
  it('delivers 410 Expired as an ERROR event for a compacted resourceVersion, then closes', async () => {
    const rv = s.store.resourceVersion;
    await api('POST', '/api/v1/nodes', { body: node('w2') });
    s.controls.compact();
    const w = openWatch(s, `/api/v1/nodes?watch=true&resourceVersion=${rv}`, s.adminToken);
    await waitFor(() => w.ended, 'watch closed');
    assert.equal(w.status, 200);
    assert.equal(w.events.length, 1);
    assert.equal(w.events[0]!.type, 'ERROR');
    assert.equal(w.events[0]!.object.code, 410);
    assert.equal(w.events[0]!.object.reason, 'Expired');
    assert.match(w.events[0]!.object.message, /too old resource version/);
  });
  it('honours timeoutSeconds, sendInitialEvents, dropWatches and hangWatches', async () => {
    const t = openWatch(s, '/api/v1/nodes?watch=true&timeoutSeconds=1&resourceVersion=' + s.store.resourceVersion, s.adminToken);
    const init = openWatch(
      s,
      '/api/v1/nodes?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&labelSelector=role%3Dw',
      s.adminToken,
    );
    await waitFor(
      () => init.events.some((e) => e.type === 'BOOKMARK' && e.object.metadata.annotations?.['k8s.io/initial-events-end'] === 'true'),
      'initial-events-end bookmark',
    );
    assert.equal(init.events[0]!.type, 'ADDED');
    await waitFor(() => t.ended, 'timeoutSeconds ends the watch', 3000);
    const d = openWatch(s, '/api/v1/nodes?watch=true&resourceVersion=' + s.store.resourceVersion, s.adminToken);
    await waitFor(() => s.controls.activeWatches() >= 2, 'watches open');
    assert.ok(s.controls.dropWatches() >= 2);
    await waitFor(() => d.ended && init.ended, 'dropped');
    const h = openWatch(s, '/api/v1/nodes?watch=true&resourceVersion=' + s.store.resourceVersion, s.adminToken);
    await waitFor(() => s.controls.activeWatches() === 1, 'watch open');
    s.controls.hangWatches(true);
    const sentBefore = s.controls.watchEventsSent();
    await api('POST', '/api/v1/nodes', { body: node('hung') });
    // The store fans an event out to the watches while the POST is handled, so by its answer any write has happened.
    assert.equal(s.controls.watchEventsSent(), sentBefore, 'the server writes nothing to a hung watch');
    assert.equal(h.events.length, 0, 'a hung watch delivers nothing');
    s.controls.hangWatches(false);
    h.stop();
  });
});

describe('garbage collection and finalizers', () => {
  it('deleting a Node removes the HEPs it owns (by uid), not others; stale-uid owners are collected too', async () => {
    const n = (await api('POST', '/api/v1/nodes', { body: node('gc1') })).json;
    const owner = { apiVersion: 'v1', kind: 'Node', name: 'gc1', uid: n.metadata.uid };
    await api('POST', HEPS, { body: hep('gc1-eth0', {}, { ownerReferences: [owner] }) });
    await api('POST', HEPS, { body: hep('gc1-unowned') });
    await api('POST', HEPS, { body: hep('gc1-stale', {}, { ownerReferences: [{ ...owner, uid: 'not-the-uid' }] }) });
    await waitFor(async () => (await api('GET', `${HEPS}/gc1-stale`)).status === 404, 'stale-owner HEP collected');
    assert.equal((await api('GET', `${HEPS}/gc1-eth0`)).status, 200);
    await api('DELETE', '/api/v1/nodes/gc1');
    await waitFor(async () => (await api('GET', `${HEPS}/gc1-eth0`)).status === 404, 'owned HEP collected');
    assert.equal((await api('GET', `${HEPS}/gc1-unowned`)).status, 200);
  });
  it('Orphan propagation strips the owner reference instead', async () => {
    const n = (await api('POST', '/api/v1/nodes', { body: node('gc2') })).json;
    await api('POST', HEPS, { body: hep('gc2-eth0', {}, { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'gc2', uid: n.metadata.uid }] }) });
    await api('DELETE', '/api/v1/nodes/gc2', { body: { propagationPolicy: 'Orphan' } });
    const h = (await api('GET', `${HEPS}/gc2-eth0`)).json;
    assert.equal(h.metadata.ownerReferences, undefined);
  });
  it('finalizers hold a delete (202 + deletionTimestamp) until removed; delete preconditions are checked', async () => {
    await api('POST', HEPS, { body: hep('fin', {}, { finalizers: ['example.com/x'] }) });
    const bad = await api('DELETE', `${HEPS}/fin`, { body: { preconditions: { uid: 'nope' } } });
    assert.equal(bad.status, 409);
    const d = await api('DELETE', `${HEPS}/fin`);
    assert.equal(d.status, 202);
    assert.ok(d.json.metadata.deletionTimestamp);
    await api('PATCH', `${HEPS}/fin`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
    assert.equal((await api('GET', `${HEPS}/fin`)).status, 404);
  });
});

describe('faults, RBAC and the request log', () => {
  it('failNext / conflictBurst / latency / 503 outage answer like a struggling apiserver', async () => {
    s.controls.failNext(1, 429, { retryAfterSeconds: 2 });
    const r = await api('GET', '/api/v1/nodes');
    assert.equal(r.status, 429);
    assert.equal(r.headers['retry-after'], '2');
    assert.equal(r.json.reason, 'TooManyRequests');
    s.controls.failNext(1, 500, { verb: 'create' });
    assert.equal((await api('GET', '/api/v1/nodes')).status, 200, 'filter by verb');
    assert.equal((await api('POST', '/api/v1/nodes', { body: node('f1') })).status, 500);
    s.controls.conflictBurst(2);
    const p = () => api('PATCH', '/api/v1/nodes/w1', { body: { metadata: { labels: { q: '1' } } }, contentType: 'application/merge-patch+json' });
    assert.equal((await p()).status, 409);
    assert.equal((await p()).status, 409);
    assert.equal((await p()).status, 200);
    await s.controls.outage(100, '503');
    assert.equal((await api('GET', '/api/v1/nodes')).status, 503);
    await waitFor(async () => (await api('GET', '/api/v1/nodes')).status === 200, 'outage over');
  });
  it('refuse-mode outage closes the port for its duration', async () => {
    await s.controls.outage(150, 'refuse');
    await assert.rejects(api('GET', '/api/v1/nodes'), (e) => (e as NodeJS.ErrnoException).code === 'ECONNREFUSED');
    await waitFor(async () => {
      try {
        return (await api('GET', '/api/v1/nodes')).status === 200;
      } catch {
        return false;
      }
    }, 'listening again');
  });
  it('logs every request with verb, path, code, watch flag and user', async () => {
    s.clearRequestLog();
    await api('GET', '/api/v1/nodes?limit=1');
    await api('GET', `${HEPS}/nope`);
    assert.deepEqual(
      s.requestLog.map((e) => [e.verb, e.path, e.code, e.watch, e.user]),
      [
        ['list', '/api/v1/nodes', 200, false, 'fake-admin'],
        ['get', `${HEPS}/nope`, 404, false, 'fake-admin'],
      ],
    );
    assert.equal(s.requestLog[0]!.query, 'limit=1');
    assert.equal(s.requests({ resource: 'hostendpoints.projectcalico.org' }).length, 1);
  });
  it('RBAC: a ClusterRole allows exactly its rules; denials are 403 Forbidden and logged', async () => {
    const role = {
      kind: 'ClusterRole',
      metadata: { name: 'agent' },
      rules: [
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['projectcalico.org'], resources: ['hostendpoints'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['agent-prune'], verbs: ['get', 'update'] },
      ],
    };
    const r = await startFakeApiServer({ rbac: { clusterRole: role, user: 'system:serviceaccount:x:agent' } });
    try {
      const as = client(r, r.token);
      assert.equal((await as('GET', '/api/v1/nodes')).status, 200);
      assert.equal((await as('GET', '/apis')).status, 200, 'discovery is open to authenticated users');
      assert.equal((await as('POST', HEPS, { body: hep('r1') })).status, 201);
      const del = await as('DELETE', `${HEPS}/r1`);
      assert.equal(del.status, 403);
      assert.equal(del.json.reason, 'Forbidden');
      assert.equal(
        del.json.message,
        'hostendpoints.projectcalico.org "r1" is forbidden: User "system:serviceaccount:x:agent" cannot delete resource "hostendpoints" in API group "projectcalico.org" at the cluster scope',
      );
      assert.equal((await as('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/agent-prune')).status, 404, 'named lease allowed (absent)');
      assert.equal((await as('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/other')).status, 403);
      assert.equal((await as('GET', '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases')).status, 403, 'resourceNames never grant list');
      assert.equal((await client(r)('DELETE', `${HEPS}/r1`)).status, 200, 'the admin token bypasses RBAC');
      assert.deepEqual(
        r.requests({ denied: true }).map((e) => e.verb),
        ['delete', 'get', 'list'],
      );
    } finally {
      await r.close();
    }
  });
});
