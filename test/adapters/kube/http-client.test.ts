// HttpApiClient against the fake API server: every verb, paging, the error model (409/410/403/404/429
// with Retry-After, network causes), watches (resume, bookmarks, ERROR events, abort, cuts, bounded
// lines, idle timeout), request timeouts, TLS with a custom CA, and bearer-token file rotation.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { ApiFailure, WatchEvent } from '../../../src/adapters/kube/api-client.ts';
import { kubeConfigCredentials } from '../../../src/adapters/kube/credentials.ts';
import { ApiError, HttpApiClient, parseRetryAfter, resourceOf, type CredentialSource } from '../../../src/adapters/kube/http-client.ts';
import type { ApiObserver, ApiVerb } from '../../../src/adapters/kube/observer.ts';
import { startFakeApiServer, type FakeApiServer } from '../../fake-apiserver/index.ts';

const HEPS = '/apis/projectcalico.org/v3/hostendpoints';

class Recorder implements ApiObserver {
  readonly calls: Array<[ApiVerb, string, number]> = [];
  request(verb: ApiVerb, resource: string, code: number): void {
    this.calls.push([verb, resource, code]);
  }
  watchRestart(): void {}
}

function fixed(server: string, token: string, ca?: string): CredentialSource {
  return {
    current: () => Promise.resolve({ server, tls: ca !== undefined ? { ca } : {}, headers: { Authorization: `Bearer ${token}` } }),
    invalidate() {},
  };
}

function hep(name: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name, labels },
    spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['10.0.0.1'] },
  };
}

async function failure(p: Promise<unknown>): Promise<ApiFailure & Error> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `an ApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

describe('HttpApiClient', () => {
  let api: FakeApiServer;
  let obs: Recorder;
  let client: HttpApiClient;

  before(async () => {
    api = await startFakeApiServer({ bookmarkIntervalMs: 50 });
    obs = new Recorder();
    client = new HttpApiClient({ credentials: fixed(api.url, api.token, api.caPem), observer: obs });
  });
  after(async () => {
    client.close();
    await api.close();
  });

  test('create, get, replace, patch (merge), delete with preconditions; each reported with verb, resource and code', async () => {
    obs.calls.length = 0;
    const created = (await client.create(HEPS, hep('h1'))) as { metadata: { resourceVersion: string; uid: string } };
    assert.ok(created.metadata.resourceVersion !== '');
    const got = (await client.get(`${HEPS}/h1`)) as ReturnType<typeof hep> & { metadata: { resourceVersion: string } };
    assert.equal(got.spec.interfaceName, 'eth0');
    const replaced = (await client.replace(`${HEPS}/h1`, { ...got, spec: { ...got.spec, interfaceName: 'eth1' } })) as ReturnType<typeof hep> & {
      metadata: { resourceVersion: string };
    };
    assert.equal(replaced.spec.interfaceName, 'eth1');
    const patched = (await client.patch(`${HEPS}/h1`, { metadata: { labels: { a: 'b' } } })) as {
      metadata: { labels: Record<string, string>; resourceVersion: string };
    };
    assert.deepEqual(patched.metadata.labels, { a: 'b' });
    const stale = await failure(client.delete(`${HEPS}/h1`, { resourceVersion: replaced.metadata.resourceVersion }));
    assert.equal(stale.code, 409);
    await client.delete(`${HEPS}/h1`, { resourceVersion: patched.metadata.resourceVersion, uid: created.metadata.uid });
    assert.equal(api.store.get('hostendpoints.projectcalico.org', 'h1'), undefined);
    const logged = api.requests({ verb: 'patch' });
    assert.equal(logged.at(-1)?.contentType, 'application/merge-patch+json');
    assert.deepEqual(obs.calls, [
      ['create', 'hostendpoints', 201],
      ['get', 'hostendpoints', 200],
      ['update', 'hostendpoints', 200],
      ['patch', 'hostendpoints', 200],
      ['delete', 'hostendpoints', 409],
      ['delete', 'hostendpoints', 200],
    ]);
  });

  test('namespaced and core paths: events created with generateName, merge-patched; resources named for metrics', async () => {
    obs.calls.length = 0;
    const ev = (await client.create('/api/v1/namespaces/default/events', {
      metadata: { generateName: 'n1.' },
      involvedObject: { kind: 'Node', name: 'n1' },
      reason: 'Test',
      message: 'm',
      count: 1,
    })) as { metadata: { name: string } };
    assert.match(ev.metadata.name, /^n1\./);
    const bumped = (await client.patch(`/api/v1/namespaces/default/events/${ev.metadata.name}`, { count: 2 })) as { count: number };
    assert.equal(bumped.count, 2);
    const discovery = (await client.get('/apis')) as { kind: string };
    assert.equal(discovery.kind, 'APIGroupList');
    assert.deepEqual(obs.calls, [
      ['create', 'events', 201],
      ['patch', 'events', 200],
      ['get', 'apis', 200],
    ]);
  });

  test('list pages with limit and continue, over a consistent snapshot', async () => {
    for (let i = 0; i < 5; i++) api.store.put(hep(`p${i}`, { page: 'yes' }));
    api.store.put(hep('other'));
    const names: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await client.list(HEPS, { labelSelector: 'page=yes', limit: 2, continue: cont });
      pages++;
      assert.ok(page.resourceVersion !== '');
      names.push(...page.items.map((i) => (i as { metadata: { name: string } }).metadata.name));
      cont = page.continue;
    } while (cont !== undefined);
    assert.equal(pages, 3);
    assert.deepEqual(names.sort(), ['p0', 'p1', 'p2', 'p3', 'p4']);
  });

  test('404 NotFound, 409 AlreadyExists and Conflict, 422 Invalid carry code, reason and the Status message', async () => {
    const missing = await failure(client.get(`${HEPS}/nope`));
    assert.equal(missing.code, 404);
    assert.equal(missing.reason, 'NotFound');
    assert.match(missing.message, /nope/);
    await client.create(HEPS, hep('dup'));
    const dup = await failure(client.create(HEPS, hep('dup')));
    assert.deepEqual([dup.code, dup.reason], [409, 'AlreadyExists']);
    const stored = (await client.get(`${HEPS}/dup`)) as { metadata: { resourceVersion: string } };
    await client.patch(`${HEPS}/dup`, { metadata: { labels: { x: 'y' } } });
    const conflict = await failure(
      client.replace(`${HEPS}/dup`, { ...hep('dup'), metadata: { name: 'dup', resourceVersion: stored.metadata.resourceVersion } }),
    );
    assert.deepEqual([conflict.code, conflict.reason], [409, 'Conflict']);
    const invalid = await failure(client.create(HEPS, { ...hep('bad'), spec: { node: 'n1', interfaceName: 'x'.repeat(40) } }));
    assert.deepEqual([invalid.code, invalid.reason], [422, 'Invalid']);
  });

  test('429 with Retry-After gives retryAfterSeconds; 503 too', async () => {
    api.controls.failNext(1, 429, { retryAfterSeconds: 7 });
    const limited = await failure(client.list(HEPS));
    assert.equal(limited.code, 429);
    assert.equal(limited.retryAfterSeconds, 7);
    api.controls.failNext(1, 503, { retryAfterSeconds: 2 });
    const unavailable = await failure(client.get('/api/v1/nodes/n1'));
    assert.deepEqual([unavailable.code, unavailable.retryAfterSeconds], [503, 2]);
  });

  test('410 Expired: a continue token from before a compaction', async () => {
    for (let i = 0; i < 3; i++) api.store.put(hep(`c${i}`, { compact: 'yes' }));
    const first = await client.list(HEPS, { labelSelector: 'compact=yes', limit: 1 });
    assert.ok(first.continue !== undefined);
    api.store.put(hep('c9', { compact: 'yes' }));
    api.controls.compact();
    const expired = await failure(client.list(HEPS, { labelSelector: 'compact=yes', limit: 1, continue: first.continue }));
    assert.deepEqual([expired.code, expired.reason], [410, 'Expired']);
  });

  test('watch: events in order from a resourceVersion (resume), bookmarks, server-side timeout resolves', async () => {
    const start = await client.list(HEPS, { limit: 1 });
    api.store.put(hep('w1'));
    api.store.put(hep('w2'));
    api.store.delete('hostendpoints.projectcalico.org', 'w1');
    const events: WatchEvent[] = [];
    let connected = 0;
    await client.watch(HEPS, { resourceVersion: start.resourceVersion, timeoutSeconds: 1, allowWatchBookmarks: true }, (e) => events.push(e), {
      onConnected: () => connected++,
    });
    assert.equal(connected, 1);
    const changes = events.filter((e) => e.type !== 'BOOKMARK').map((e) => `${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`);
    assert.deepEqual(changes, ['ADDED w1', 'ADDED w2', 'DELETED w1']);
    assert.ok(
      events.some((e) => e.type === 'BOOKMARK'),
      'bookmarks arrive',
    );
    const last = events.at(-1)!.object as { metadata: { resourceVersion: string } };
    // Resume after the last seen version: only what happened since.
    api.store.put(hep('w3'));
    const resumed: WatchEvent[] = [];
    await client.watch(HEPS, { resourceVersion: last.metadata.resourceVersion, timeoutSeconds: 1 }, (e) => resumed.push(e));
    assert.deepEqual(
      resumed.map((e) => `${e.type} ${(e.object as { metadata: { name: string } }).metadata.name}`),
      ['ADDED w3'],
    );
  });

  test('watch from a compacted resourceVersion: the 410 arrives as an ERROR event', async () => {
    const old = api.store.resourceVersion;
    api.store.put(hep('gone1'));
    api.controls.compact();
    const events: WatchEvent[] = [];
    await client.watch(HEPS, { resourceVersion: old, timeoutSeconds: 5 }, (e) => events.push(e));
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, 'ERROR');
    assert.equal((events[0]!.object as { code: number }).code, 410);
  });

  test('watch: an abort resolves; a cut connection rejects with code 0; a 403 before the stream rejects', async () => {
    const ac = new AbortController();
    const p = client.watch(HEPS, { resourceVersion: api.store.resourceVersion, timeoutSeconds: 60 }, () => undefined, {
      signal: ac.signal,
      onConnected: () => ac.abort(),
    });
    await p;
    let connected!: () => void;
    const up = new Promise<void>((r) => (connected = r));
    const cut = client.watch(HEPS, { resourceVersion: api.store.resourceVersion, timeoutSeconds: 60 }, () => undefined, { onConnected: () => connected() });
    await up;
    api.controls.dropWatches('reset');
    const err = await failure(cut);
    assert.equal(err.code, 0);
    api.controls.failNext(1, 403, { verb: 'watch' });
    const denied = await failure(client.watch(HEPS, { resourceVersion: '', timeoutSeconds: 1 }, () => undefined));
    assert.equal(denied.code, 403);
  });

  test('watch: a line longer than maxLineBytes aborts the stream instead of buffering it', async () => {
    const small = new HttpApiClient({ credentials: fixed(api.url, api.token, api.caPem), observer: obs, maxLineBytes: 2048 });
    try {
      const rv = api.store.resourceVersion;
      api.store.put(hep('big', { big: 'x'.repeat(60) }));
      api.store.put({ ...hep('bigger'), metadata: { name: 'bigger', annotations: { a: 'y'.repeat(5000) } } });
      const seen: string[] = [];
      const err = await failure(
        small.watch(HEPS, { resourceVersion: rv, timeoutSeconds: 5 }, (e) => seen.push((e.object as { metadata: { name: string } }).metadata.name)),
      );
      assert.deepEqual(seen, ['big']);
      assert.match(err.message, /longer than 2048 bytes/);
    } finally {
      small.close();
    }
  });

  test('timeouts: a slow answer fails after requestTimeoutMs; a silent watch fails after its allowance', async () => {
    const impatient = new HttpApiClient({ credentials: fixed(api.url, api.token, api.caPem), observer: obs, requestTimeoutMs: 100, watchMarginMs: 200 });
    try {
      api.controls.latencyMs = 1000;
      const slow = await failure(impatient.get('/apis'));
      assert.deepEqual([slow.code, slow.reason], [0, 'Timeout']);
      assert.match(slow.message, /no answer within 100 ms/);
      api.controls.latencyMs = 0;
      api.controls.hangWatches(true);
      const silent = await failure(impatient.watch(HEPS, { resourceVersion: api.store.resourceVersion, timeoutSeconds: 0 }, () => undefined));
      assert.deepEqual([silent.code, silent.reason], [0, 'Timeout']);
    } finally {
      api.controls.latencyMs = 0;
      api.controls.hangWatches(false);
      impatient.close();
    }
  });

  test('TLS: the custom CA is required (a server certificate it did not sign is refused, the cause named)', async () => {
    const noCa = new HttpApiClient({ credentials: fixed(api.url, api.token), observer: obs });
    try {
      const err = await failure(noCa.get('/apis'));
      assert.equal(err.code, 0);
      assert.match(err.message, /certificate|CERT/i);
    } finally {
      noCa.close();
    }
  });

  test('a rotated CA (or client certificate) gets a new connection pool; the same identity keeps one', async () => {
    let ca = api.caPem;
    const c = new HttpApiClient({
      credentials: { current: () => Promise.resolve({ server: api.url, tls: { ca }, headers: { Authorization: `Bearer ${api.token}` } }), invalidate() {} },
      observer: obs,
    });
    try {
      await c.get('/api/v1/nodes');
      await c.get('/api/v1/nodes');
      assert.equal(c.pools, 1);
      ca = `${api.caPem}\n`; // the same CA, re-issued bytes: a new identity as far as the pool can tell
      await c.get('/api/v1/nodes');
      assert.equal(c.pools, 2);
    } finally {
      c.close();
    }
  });

  test('403 Forbidden from RBAC carries the reason and the server message', async () => {
    const strict = await startFakeApiServer({ rbac: { clusterRole: { kind: 'ClusterRole', rules: [] }, user: 'system:serviceaccount:x:agent' } });
    const c = new HttpApiClient({ credentials: fixed(strict.url, strict.token, strict.caPem), observer: obs });
    try {
      const denied = await failure(c.list('/api/v1/nodes'));
      assert.deepEqual([denied.code, denied.reason], [403, 'Forbidden']);
      assert.match(denied.message, /cannot list resource "nodes"/);
    } finally {
      c.close();
      await strict.close();
    }
  });

  test('network errors name the cause and never carry the token', async () => {
    const dead = await startFakeApiServer();
    const url = dead.url;
    await dead.close();
    const c = new HttpApiClient({ credentials: fixed(url, 'secret-token-xyz', api.caPem), observer: obs });
    try {
      const err = await failure(c.get('/apis'));
      assert.equal(err.code, 0);
      assert.match(err.message, /ECONNREFUSED/);
      assert.doesNotMatch(`${err.message} ${JSON.stringify(err)}`, /secret-token-xyz|Bearer/);
    } finally {
      c.close();
    }
  });
});

describe('credentials from a kubeconfig', () => {
  let api: FakeApiServer;
  let dir: string;
  before(async () => {
    api = await startFakeApiServer();
    dir = await mkdtemp(join(tmpdir(), 'http-client-'));
  });
  after(async () => {
    await api.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('the service-account token file is re-read every minute and after a 401 (rotation)', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'stale-token\n');
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { name: 'c', server: api.url, caData: Buffer.from(api.caPem).toString('base64'), skipTLSVerify: false },
      { name: 'u', authProvider: { name: 'tokenFile', config: { tokenFile } } },
    );
    let now = 1_000_000;
    const client = new HttpApiClient({ credentials: kubeConfigCredentials(kc, { now: () => now }), observer: new Recorder() });
    try {
      const denied = await failure(client.get('/api/v1/nodes'));
      assert.deepEqual([denied.code, denied.reason], [401, 'Unauthorized']);
      // The kubelet rotates the token; the 401 made the next request read the file again.
      await writeFile(tokenFile, `${api.token}\n`);
      await client.get('/api/v1/nodes');
      // Rotated again: the old token still works until the minute is up, then the new one is read.
      const second = `${api.token}`;
      await writeFile(tokenFile, 'rotated-but-unknown');
      now += 30_000;
      await client.get('/api/v1/nodes');
      now += 31_000;
      const after = await failure(client.get('/api/v1/nodes'));
      assert.equal(after.code, 401, 'the file was re-read after a minute');
      await writeFile(tokenFile, second);
      await client.get('/api/v1/nodes');
    } finally {
      client.close();
    }
  });

  test('a token file that cannot be read fails the request with code 0 and the cause, without sending it', async () => {
    const kc = new KubeConfig();
    kc.loadFromClusterAndUser(
      { name: 'c', server: api.url, caData: Buffer.from(api.caPem).toString('base64'), skipTLSVerify: false },
      { name: 'u', authProvider: { name: 'tokenFile', config: { tokenFile: join(dir, 'missing-token') } } },
    );
    const obs = new Recorder();
    const client = new HttpApiClient({ credentials: kubeConfigCredentials(kc), observer: obs });
    try {
      const before = api.requestLog.length;
      const err = await failure(client.get('/api/v1/nodes'));
      assert.equal(err.code, 0);
      assert.match(err.message, /no credentials: .*ENOENT/);
      assert.equal(api.requestLog.length, before);
      assert.deepEqual(obs.calls, [['get', 'nodes', 0]]);
    } finally {
      client.close();
    }
  });

  test('kubeconfig with CA data and token from the fake server works as is; the pool is kept per TLS identity', async () => {
    const kc = api.kubeConfig();
    const client = new HttpApiClient({ credentials: kubeConfigCredentials(kc), observer: new Recorder() });
    try {
      for (let i = 0; i < 3; i++) await client.get('/api/v1/nodes');
      assert.equal(client.pools, 1);
    } finally {
      client.close();
    }
  });
});

test('resourceOf names the resource of a path for metrics', () => {
  assert.equal(resourceOf('/api/v1/nodes'), 'nodes');
  assert.equal(resourceOf('/api/v1/nodes/n1'), 'nodes');
  assert.equal(resourceOf('/api/v1/namespaces/default/events/x'), 'events');
  assert.equal(resourceOf('/api/v1/namespaces/default'), 'namespaces');
  assert.equal(resourceOf('/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/l'), 'leases');
  assert.equal(resourceOf('/apis/projectcalico.org/v3/hostendpoints?limit=1'), 'hostendpoints');
  assert.equal(resourceOf('/apis'), 'apis');
  assert.equal(resourceOf('/apis/projectcalico.org/v3'), 'apis');
  assert.equal(resourceOf('/version'), 'version');
});

test('parseRetryAfter reads seconds and HTTP dates, ignores junk', () => {
  assert.equal(parseRetryAfter('3'), 3);
  assert.equal(parseRetryAfter(undefined), undefined);
  assert.equal(parseRetryAfter('soon'), undefined);
  assert.equal(parseRetryAfter(new Date(10_000 + 4_000).toUTCString(), 10_000), 4);
});
