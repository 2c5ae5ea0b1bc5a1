import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyGracePeriod } from '../../src/core/grace.ts';

const GRACE = 300_000;

test('a missing interface is held for the grace period, then released', () => {
  const first = applyGracePeriod({ hepInterfaces: ['eth0', 'eth1'], wanted: new Set(['eth0']), goneSince: new Map(), now: 1000, graceMs: GRACE });
  assert.deepEqual([...first.held], ['eth1']);
  assert.equal(first.nextExpiryAt, 1000 + GRACE);
  const later = applyGracePeriod({
    hepInterfaces: ['eth0', 'eth1'],
    wanted: new Set(['eth0']),
    goneSince: first.goneSince,
    now: 1000 + GRACE - 1,
    graceMs: GRACE,
  });
  assert.deepEqual([...later.held], ['eth1']);
  const expired = applyGracePeriod({
    hepInterfaces: ['eth0', 'eth1'],
    wanted: new Set(['eth0']),
    goneSince: later.goneSince,
    now: 1000 + GRACE,
    graceMs: GRACE,
  });
  assert.deepEqual([...expired.held], []);
  assert.equal(expired.nextExpiryAt, undefined);
});

test('an interface that comes back resets its clock', () => {
  const gone = applyGracePeriod({ hepInterfaces: ['eth1'], wanted: new Set(), goneSince: new Map(), now: 0, graceMs: GRACE });
  const back = applyGracePeriod({ hepInterfaces: ['eth1'], wanted: new Set(['eth1']), goneSince: gone.goneSince, now: 10, graceMs: GRACE });
  assert.equal(back.goneSince.size, 0);
  const goneAgain = applyGracePeriod({ hepInterfaces: ['eth1'], wanted: new Set(), goneSince: back.goneSince, now: GRACE + 5, graceMs: GRACE });
  assert.deepEqual([...goneAgain.held], ['eth1']);
});

test('zero grace releases at once', () => {
  const r = applyGracePeriod({ hepInterfaces: ['eth1'], wanted: new Set(), goneSince: new Map(), now: 0, graceMs: 0 });
  assert.deepEqual([...r.held], []);
});
