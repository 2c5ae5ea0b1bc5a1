// The work loop on fake time: debounce, one run at a time, requeueAfter, backoff with Retry-After,
// the one-time jump of a backoff by a cluster change, and stop() aborting a run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RetryableError, WorkLoop, type ReconcileResult } from '../../src/agent/work-loop.ts';
import { ManualClock } from '../helpers/manual-clock.ts';

/** `reconcile` may be synchronous: it runs inside an async function, so a throw is a rejected run, as in the agent. */
function loop(reconcile: (signal: AbortSignal) => ReconcileResult | 'skipped' | Promise<ReconcileResult | 'skipped'>, debounceMs = 100) {
  const clock = new ManualClock();
  const reports: string[] = [];
  const l = new WorkLoop({ clock, random: () => 0.5, debounceMs, reconcile: async (signal) => reconcile(signal), onRun: (r) => reports.push(r.result) });
  return { clock, l, reports };
}

test('bursts coalesce into one run after the debounce', async () => {
  let runs = 0;
  const { clock, l } = loop(() => {
    runs++;
    return {};
  });
  for (let i = 0; i < 50; i++) l.add('kernel');
  await clock.advance(99);
  assert.equal(runs, 0);
  await clock.advance(1);
  assert.equal(runs, 1);
  await clock.advance(10_000);
  assert.equal(runs, 1, 'nothing more without a change or a requeue');
});

test('requeueAfter schedules the next run; a change sooner wins', async () => {
  let runs = 0;
  const { clock, l } = loop(() => {
    runs++;
    return { requeueAfter: 60_000 };
  });
  l.add('start');
  await clock.advance(100);
  assert.equal(runs, 1);
  await clock.advance(10_000);
  l.add('kernel');
  await clock.advance(100);
  assert.equal(runs, 2, 'the change did not wait for the requeue');
  await clock.advance(60_000);
  assert.equal(runs, 3);
});

test('a 30-day requeue is held by the timer, not fired at once', async () => {
  let runs = 0;
  const { clock, l } = loop(() => {
    runs++;
    return { requeueAfter: 30 * 86_400_000 };
  });
  l.add('start');
  await clock.advance(86_400_000);
  assert.equal(runs, 1);
});

test('errors back off exponentially, honour Retry-After, and a cluster change jumps the backoff once', async () => {
  let fail = true;
  let runs = 0;
  const { clock, l, reports } = loop(() => {
    runs++;
    if (fail) throw new RetryableError('down', { retryAfterSeconds: runs === 1 ? 20 : undefined });
    return {};
  });
  l.add('start');
  await clock.advance(100);
  assert.equal(runs, 1);
  await clock.advance(19_000);
  assert.equal(runs, 1, 'Retry-After: 20 is a floor');
  await clock.advance(1_000);
  assert.equal(runs, 2);
  // Kernel noise never jumps a backoff.
  l.add('kernel');
  await clock.advance(150);
  assert.equal(runs, 2);
  // Over a minute of failures: a bounded number of attempts.
  await clock.advance(60_000);
  assert.ok(runs <= 10, `attempts: ${String(runs)}`);
  // The API is back (a watch event): the pending backoff is jumped, once.
  fail = false;
  const before: number = runs; // runs is narrowed by the asserts above; it is a count
  l.add('cluster');
  await clock.advance(100);
  assert.equal(runs, before + 1);
  assert.equal(reports.at(-1), 'success');
  assert.equal(l.stats.jumps, 1);
});

test('only one jump per failure: a failing API is not retried per watch event', async () => {
  let runs = 0;
  const { clock, l } = loop(() => {
    runs++;
    throw new RetryableError('still failing');
  });
  l.add('start');
  await clock.advance(100);
  for (let i = 0; i < 100; i++) {
    l.add('cluster');
    await clock.advance(10);
  }
  assert.ok(runs <= 4, `runs: ${runs}`);
});

test('changes during a run get their own run; never two at once', async () => {
  let active = 0;
  let maxActive = 0;
  let runs = 0;
  let release: (() => void) | undefined;
  const { clock, l } = loop(async () => {
    runs++;
    active++;
    maxActive = Math.max(maxActive, active);
    if (runs === 1) await new Promise<void>((r) => (release = r));
    active--;
    return {};
  });
  l.add('start');
  await clock.advance(100);
  l.add('kernel');
  l.add('cluster');
  await clock.advance(1_000);
  assert.equal(runs, 1);
  release?.();
  await clock.advance(100);
  assert.equal(runs, 2);
  assert.equal(maxActive, 1);
});

test('stop() aborts the signal of a run in progress and cancels the schedule', async () => {
  let aborted = false;
  const { clock, l } = loop(
    (signal) =>
      new Promise((resolve) => {
        signal.addEventListener('abort', () => {
          aborted = true;
          resolve({});
        });
      }),
  );
  l.add('start');
  await clock.advance(100);
  await l.stop();
  assert.equal(aborted, true);
  assert.equal(clock.pending, 0);
});

test('a skipped run does not spin', async () => {
  let runs = 0;
  const { clock, l } = loop(() => {
    runs++;
    return 'skipped';
  });
  l.add('start');
  await clock.advance(60_000);
  assert.equal(runs, 1);
});
