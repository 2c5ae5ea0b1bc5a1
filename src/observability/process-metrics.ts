// The process metrics people alert on, and nothing that costs more than it tells. prom-client's
// default set also runs an event-loop-delay histogram on a timer (a wake-up every sample period),
// a PerformanceObserver on every GC, per-space V8 heap statistics, and per-type handle and request
// counts, and pulls @opentelemetry/api in for exemplars; docs/benchmarks.md has what that cost.
// Kept, with prom-client's names: CPU seconds, resident memory, open and max file descriptors,
// start time, and the V8 heap in use (the leak signal), all read only when scraped.
import { readdir, readFile } from 'node:fs/promises';
import { Counter, Gauge, type Registry } from 'prom-client';

export function registerProcessMetrics(registry: Registry, prefix: string): void {
  const registers = [registry];
  let last = process.cpuUsage();
  // The first registered is collected first: its collect sets all three, as prom-client does.
  const user: Counter = new Counter({
    name: `${prefix}process_cpu_user_seconds_total`,
    help: 'Total user CPU time spent in seconds.',
    registers,
    collect() {
      const now = process.cpuUsage();
      const u = (now.user - last.user) / 1e6;
      const s = (now.system - last.system) / 1e6;
      last = now;
      user.inc(u);
      system.inc(s);
      total.inc(u + s);
    },
  });
  const system = new Counter({ name: `${prefix}process_cpu_system_seconds_total`, help: 'Total system CPU time spent in seconds.', registers });
  const total = new Counter({ name: `${prefix}process_cpu_seconds_total`, help: 'Total user and system CPU time spent in seconds.', registers });
  new Gauge({
    name: `${prefix}process_resident_memory_bytes`,
    help: 'Resident memory size in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage.rss());
    },
  });
  new Gauge({
    name: `${prefix}process_start_time_seconds`,
    help: 'Start time of the process since unix epoch in seconds.',
    registers,
  }).set(Math.round((Date.now() - process.uptime() * 1000) / 1000));
  if (process.platform === 'linux') {
    new Gauge({
      name: `${prefix}process_open_fds`,
      help: 'Number of open file descriptors.',
      registers,
      async collect() {
        try {
          this.set((await readdir('/proc/self/fd')).length - 1); // minus the descriptor readdir itself holds
        } catch {
          // /proc unreadable: leave the last value
        }
      },
    });
    new Gauge({
      name: `${prefix}process_max_fds`,
      help: 'Maximum number of open file descriptors.',
      registers,
      async collect() {
        try {
          const m = /Max open files\s+(\d+)/.exec(await readFile('/proc/self/limits', 'utf8'));
          if (m !== null) this.set(Number(m[1]));
        } catch {
          // /proc unreadable
        }
      },
    });
  }
  new Gauge({
    name: `${prefix}nodejs_heap_size_used_bytes`,
    help: 'Process heap size used from Node.js in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage().heapUsed);
    },
  });
  new Gauge({
    name: `${prefix}nodejs_heap_size_total_bytes`,
    help: 'Process heap size from Node.js in bytes.',
    registers,
    collect() {
      this.set(process.memoryUsage().heapTotal);
    },
  });
}
