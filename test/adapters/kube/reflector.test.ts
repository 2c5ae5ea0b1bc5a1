// The reflector's client-go guards, on fake time against an in-memory ApiClient: assertions are on
// counters after a stretch of fake time, never on wall-clock waits.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReflectorFactory, type Reflector } from '../../../src/adapters/kube/reflector.ts';
import { NO_OBSERVER } from '../../../src/adapters/kube/observer.ts';
import { silentLogger } from '../../../src/logger.ts';
import { ManualClock } from '../../helpers/manual-clock.ts';
import { MemoryApi, failure, type Obj } from '../../helpers/memory-api.ts';

const PATH = '/apis/projectcalico.org/v3/hostendpoints';

interface Hep extends Obj {
  spec?: { node?: string };
}

function setup(opts: { optional?: boolean; labelSelector?: string } = {}) {
  const api = new MemoryApi();
  const clock = new ManualClock();
  const changes: string[] = [];
  const factory = new ReflectorFactory({
    api,
    observer: NO_OBSERVER,
    logger: silentLogger,
    clock,
    random: () => 0.5,
    onChange: (_resource, reason) => changes.push(reason),
  });
  const r: Reflector<Hep> = factory.create<Hep>({
    resource: 'hostendpoints',
    path: PATH,
    labelSelector: opts.labelSelector,
    optional: opts.optional,
    parse: (raw) => {
      const o = raw as Hep;
      return typeof o?.metadata?.name === 'string' && o.metadata.name !== 'garbage' ? o : undefined;
    },
  });
  return { api, clock, changes, r, factory };
}

const hep = (name: string, labels: Record<string, string> = {}): Obj => ({ metadata: { name, labels }, spec: { node: 'n1' } });

test('lists, then keeps the cache current from the watch; objects that do not parse are dropped', async () => {
  const { api, clock, changes, r, factory } = setup();
  api.put(PATH, hep('a'));
  api.put(PATH, hep('garbage'));
  r.start();
  await clock.advance(0);
  assert.equal(r.synced, true);
  assert.deepEqual([...r.cache.keys()], ['a']);
  assert.equal(r.stats.dropped, 1);
  api.put(PATH, hep('b'));
  api.remove(PATH, 'a');
  await clock.advance(0);
  assert.deepEqual([...r.cache.keys()], ['b']);
  assert.deepEqual(changes, ['hostendpoints listed', 'hostendpoints added: b', 'hostendpoints deleted: a']);
  await factory.stopAll();
});

test('a label selector narrows the list and the watch', async () => {
  const { api, clock, r, factory } = setup({ labelSelector: 'app.kubernetes.io/managed-by!=calico-hep-agent' });
  api.put(PATH, hep('ours', { 'app.kubernetes.io/managed-by': 'calico-hep-agent' }));
  api.put(PATH, hep('theirs'));
  r.start();
  await clock.advance(0);
  api.put(PATH, hep('ours2', { 'app.kubernetes.io/managed-by': 'calico-hep-agent' }));
  api.put(PATH, hep('theirs2'));
  await clock.advance(0);
  assert.deepEqual([...r.cache.keys()].sort(), ['theirs', 'theirs2']);
  await factory.stopAll();
});

test('a watch the server ends normally resumes from its resourceVersion: no relist', async () => {
  const { api, clock, r, factory } = setup();
  r.start();
  await clock.advance(0);
  for (let i = 0; i < 5; i++) {
    api.put(PATH, hep(`h${i}`));
    await clock.advance(0);
    api.closeWatches();
    await clock.advance(0);
  }
  assert.equal(r.stats.lists, 1, 'listed once');
  assert.equal(r.stats.watches, 6);
  assert.equal(r.stats.failures, 0);
  assert.equal(r.cache.size, 5);
  await factory.stopAll();
});

test('a watch that closes at once without events is a failure and backs off; connecting does not reset the backoff', async () => {
  const { api, clock, r, factory } = setup();
  api.watchMode = 'closeEmpty';
  r.start();
  await clock.advance(60_000);
  // 800 ms doubling to 30 s, jitter 0.75 of the ceiling: about 8 attempts in a minute, not thousands.
  assert.ok(r.stats.watches >= 4 && r.stats.watches <= 10, `watches in 60 s: ${r.stats.watches}`);
  assert.equal(r.stats.failures, r.stats.watches);
  assert.equal(r.stats.lists, 1, 'the position is kept: no relist for an empty watch');
  await factory.stopAll();
});

test('a watch that connects again after failures reports it, so a change held back during an outage can go at once', async () => {
  const { api, clock, changes, r, factory } = setup();
  r.start();
  await clock.advance(0);
  api.failNext('watch', 4, () => failure(0));
  api.put(PATH, hep('x'));
  await clock.advance(0);
  api.closeWatches(); // a clean close; the next four watches get no response
  await clock.advance(60_000);
  assert.equal(r.stats.failures, 4);
  assert.equal(changes.filter((c) => c === 'hostendpoints reconnected').length, 1, changes.join(', '));
  api.put(PATH, hep('y'));
  await clock.advance(0);
  api.closeWatches(); // a normal server-side close is no recovery
  await clock.advance(0);
  assert.equal(changes.filter((c) => c === 'hostendpoints reconnected').length, 1);
  await factory.stopAll();
});

test('a persistent 410 relists with backoff, not in a loop', async () => {
  const { api, clock, r, factory } = setup();
  api.watchMode = 'expired';
  r.start();
  await clock.advance(10_000);
  assert.ok(r.stats.lists <= 5, `lists in 10 s of persistent 410: ${r.stats.lists}`);
  const lists10s = r.stats.lists;
  await clock.advance(110_000);
  assert.ok(r.stats.lists - lists10s <= 5, `lists in the next 110 s: ${r.stats.lists - lists10s}`);
  await factory.stopAll();
});

test('compaction (410 on resume) relists once and the cache matches the server', async () => {
  const { api, clock, r, factory } = setup();
  api.put(PATH, hep('a'));
  r.start();
  await clock.advance(0);
  api.closeWatches();
  api.remove(PATH, 'a');
  api.put(PATH, hep('b'));
  api.compact();
  await clock.advance(0); // the resume gets 410
  assert.equal(r.stats.failures, 1);
  await clock.advance(2_000); // backoff (<= 800 ms) then relist
  assert.equal(r.stats.lists, 2);
  assert.deepEqual([...r.cache.keys()], ['b']);
  await factory.stopAll();
});

test('the failure count resets only after a stable period', async () => {
  const { api, clock, r, factory } = setup();
  r.start();
  await clock.advance(0);
  // Three watch failures in a row grow the delay...
  api.failNext('watch', 3, () => failure(0, 'ECONNREFUSED'));
  api.put(PATH, hep('x')); // a watch with an event that ends normally is no failure
  api.closeWatches();
  await clock.advance(20_000);
  assert.equal(r.stats.failures, 3);
  // ...and 2 minutes of calm start the next streak from the base delay again.
  await clock.advance(120_000);
  api.failNext('watch', 1, () => failure(0, 'ECONNREFUSED'));
  api.put(PATH, hep('y'));
  api.closeWatches();
  const before = r.stats.watches;
  await clock.advance(700); // base 800 ms jittered into [400, 800): 600 ms with random 0.5
  assert.equal(r.stats.failures, 4);
  assert.equal(r.stats.watches, before + 2, 'retried at the base delay');
  await factory.stopAll();
});

test('a 403 is kept as lastError (for /readyz and metrics) and the list is retried with backoff', async () => {
  const { api, clock, r, factory } = setup();
  api.failNext('list', 100, () => failure(403, 'Forbidden'));
  r.start();
  await clock.advance(60_000);
  assert.equal(r.synced, false);
  assert.equal(r.lastError?.code, 403);
  assert.ok(r.stats.failures <= 10, `attempts in 60 s: ${r.stats.failures}`);
  await factory.stopAll();
});

test('an optional resource that is not served (404) is an empty synced cache, probed again rarely', async () => {
  const { api, clock, r, factory } = setup({ optional: true });
  api.failNext('list', 100, () => failure(404, 'NotFound'));
  r.start();
  await clock.advance(3_600_000);
  assert.equal(r.synced, true);
  assert.equal(r.notServed, true);
  assert.equal(r.lastError, undefined);
  assert.ok(api.count('list') <= 7, `lists in an hour: ${api.count('list')}`);
  await factory.stopAll();
});

test('stop() ends the loop during a backoff sleep and during a watch', async () => {
  const { api, clock, r } = setup();
  r.start();
  await clock.advance(0);
  assert.equal(api.activeWatches, 1);
  await r.stop();
  assert.equal(api.activeWatches, 0);
  const s = setup();
  s.api.failNext('list', 10, () => failure(500));
  s.r.start();
  await s.clock.advance(0);
  await s.r.stop();
  assert.equal(s.clock.pending, 0);
});
