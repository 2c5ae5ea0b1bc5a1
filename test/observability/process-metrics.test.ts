// The process metrics kept instead of prom-client's default set: the ones people alert on, with
// prom-client's names, read when scraped.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { registerProcessMetrics } from '../../src/observability/process-metrics.ts';

test("CPU, RSS, fds, start time and heap are exported with prom-client's names and sane values", async () => {
  const registry = new Registry();
  registerProcessMetrics(registry, 'x_');
  const values = new Map<string, number>();
  await registry.getMetricsAsJSON(); // a first scrape, then the one checked: counters agree with each other on every scrape
  for (const m of await registry.getMetricsAsJSON()) values.set(m.name, m.values[0]?.value ?? NaN);
  const expected = [
    'x_process_cpu_user_seconds_total',
    'x_process_cpu_system_seconds_total',
    'x_process_cpu_seconds_total',
    'x_process_resident_memory_bytes',
    'x_process_start_time_seconds',
    'x_nodejs_heap_size_used_bytes',
    'x_nodejs_heap_size_total_bytes',
    ...(process.platform === 'linux' ? ['x_process_open_fds', 'x_process_max_fds'] : []),
  ];
  assert.deepEqual([...values.keys()].sort(), expected.sort());
  for (let i = 0; i < 1e6; i++) Math.sqrt(i); // some CPU time
  assert.ok(values.get('x_process_cpu_seconds_total')! >= 0);
  assert.ok(
    Math.abs(values.get('x_process_cpu_seconds_total')! - values.get('x_process_cpu_user_seconds_total')! - values.get('x_process_cpu_system_seconds_total')!) <
      1e-6,
  );
  assert.ok(values.get('x_process_resident_memory_bytes')! > 10 * 2 ** 20);
  const start = values.get('x_process_start_time_seconds')!;
  assert.ok(start <= Date.now() / 1000 + 1 && start > Date.now() / 1000 - 3600, 'whole seconds, rounded');
  assert.ok(values.get('x_nodejs_heap_size_used_bytes')! > 0);
  assert.ok(values.get('x_nodejs_heap_size_used_bytes')! <= values.get('x_nodejs_heap_size_total_bytes')!);
  if (process.platform === 'linux') {
    assert.ok(values.get('x_process_open_fds')! > 0);
    assert.ok(values.get('x_process_max_fds')! >= values.get('x_process_open_fds')!);
  }
  // No event-loop-lag timer, GC observer or per-space statistics.
  assert.ok(![...values.keys()].some((n) => /eventloop|gc_duration|heap_space|active_handles/.test(n)));
});
