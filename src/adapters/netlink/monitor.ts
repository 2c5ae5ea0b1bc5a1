// Change notifications from the kernel: a supervised `ip -o monitor link address route` child.
//
// The monitor only says "something changed, rescan"; it never carries interface state (the rescan via
// discoverInterfaces is the single source of truth). Lines that arrive together are coalesced into one
// signal; debouncing over time is the agent's job.
//
// Every time a child starts, a `started` change is signalled too: events that happened while no child
// was listening (before the first start, or between a crash and the restart) are lost, so the caller
// must rescan after each start. `started` is signalled only once the child's netlink socket has joined
// its multicast groups (seen in /proc/<pid>/net/netlink), so a rescan triggered by it cannot miss a
// change: anything after the subscription produces an `event`.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { ipArgv } from './run-ip.ts';
import { silentLogger, type Logger } from './logger.ts';
import { errorMessage } from '../../core/error-message.ts';

export interface MonitorChange {
  /** `event`: the kernel reported changes; `started`: a monitor child (re)started, events may have been missed. */
  readonly reason: 'event' | 'started';
  /** Relevant lines coalesced into this signal (0 for `started`). */
  readonly lines: number;
  /** The first relevant line, for debug logging. */
  readonly sample?: string | undefined;
}

export interface MonitorHealth {
  /** A monitor child is running now. */
  readonly alive: boolean;
  /** Children started after the first one (crash restarts). */
  readonly restarts: number;
  readonly pid: number | undefined;
  /** How the last child ended, if one did. */
  readonly lastExit: { readonly code: number | null; readonly signal: string | null; readonly at: number } | undefined;
  /** The last spawn error (e.g. ENOENT), if any. */
  readonly lastError: string | undefined;
  /** Since when no child runs (undefined while one does, and before start). */
  readonly downSince: number | undefined;
  /** Link and address lines dropped because their interface cannot be selected. */
  readonly filtered: number;
}

export interface BackoffOptions {
  /** First restart delay. Default 500 ms. */
  readonly initialMs: number;
  /** Ceiling. Default 30 s. */
  readonly maxMs: number;
  /** Growth per consecutive failure. Default 2. */
  readonly factor: number;
  /** Fraction of the delay randomised: delay * (1 - jitter * random()). Default 0.5. */
  readonly jitter: number;
  /** A child that ran at least this long resets the backoff. Default 30 s. */
  readonly stableAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5, stableAfterMs: 30_000 };

/** Timer functions, injectable so tests control time. */
export interface MonitorTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Defers the coalesced emit past every chunk read in the same I/O phase. */
  setImmediate(fn: () => void): unknown;
  clearImmediate(handle: unknown): void;
}

const realTimers: MonitorTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  setImmediate: (fn) => setImmediate(fn),
  clearImmediate: (h) => clearImmediate(h as ReturnType<typeof setImmediate>),
};

export interface NetlinkMonitorOptions {
  /** Called once per batch of changes; exceptions are logged and swallowed. */
  readonly onChange: (change: MonitorChange) => void;
  /** The iproute2 `ip` executable. Default `ip`. */
  readonly ipCommand?: string | undefined;
  /** Watch this named network namespace (`ip -n NS monitor`); for tests. */
  readonly netns?: string | undefined;
  readonly logger?: Logger | undefined;
  readonly backoff?: Partial<BackoffOptions> | undefined;
  readonly timers?: MonitorTimers | undefined;
  /** Milliseconds clock for backoff bookkeeping. Default Date.now. */
  readonly now?: (() => number) | undefined;
  /** Uniform [0,1) source for jitter. Default Math.random. */
  readonly random?: (() => number) | undefined;
  /** stop() escalates from SIGTERM to SIGKILL after this long. Default 2000 ms. */
  readonly killTimeoutMs?: number | undefined;
  /**
   * How long to wait for a new child's netlink subscription to show in /proc before signalling
   * `started` anyway. Default 2000 ms; 0 signals `started` as soon as the process exists.
   */
  readonly readyTimeoutMs?: number | undefined;
  /**
   * Whether a link name can matter (the interface selection's globs). Link and address lines of
   * other links (pod veths, cali*) are dropped here, before they cause any work. Default: all.
   */
  readonly linkFilter?: ((name: string) => boolean) | undefined;
  /**
   * Command prefix that makes the kernel kill the child when the agent dies (from
   * deathSignalPrefix()): a killed agent must not leave its `ip monitor` behind.
   */
  readonly spawnPrefix?: readonly string[] | undefined;
}

/** `ip` arguments of the monitor child (without `-n NS`). */
export const MONITOR_ARGS = ['-o', 'monitor', 'link', 'address', 'route'] as const;

/**
 * The interface a link or address line is about: `3: eth0: <...>`, `Deleted 12: veth1a2b@if3: ...`,
 * `3: eth0    inet 192.0.2.1/24 ...`; undefined for other lines (routes).
 */
export function monitorLineLink(line: string): string | undefined {
  const m = /^(?:Deleted\s+)?\d+:\s+([^\s:@]+)/.exec(line.trim());
  return m?.[1];
}

/**
 * `setpriv --pdeathsig KILL --` when util-linux's setpriv is on PATH: it sets PR_SET_PDEATHSIG and
 * execs `ip` (same pid, so the netlink readiness check still works), and the kernel SIGKILLs the
 * child when the agent dies, even by SIGKILL. Empty when setpriv is missing (then a killed agent's
 * child lives until its next write to the closed pipe fails).
 */
export async function deathSignalPrefix(path = process.env['PATH'] ?? ''): Promise<string[]> {
  const { access, constants } = await import('node:fs/promises');
  for (const dir of path.split(':').filter((d) => d !== '')) {
    try {
      await access(`${dir}/setpriv`, constants.X_OK);
      return [`${dir}/setpriv`, '--pdeathsig', 'KILL', '--'];
    } catch {
      // not here
    }
  }
  return [];
}

/** The restart delay after `failures` consecutive failures (1 = first restart). */
export function backoffDelay(failures: number, backoff: BackoffOptions, random: () => number): number {
  const exp = backoff.initialMs * backoff.factor ** Math.max(0, failures - 1);
  const capped = Math.min(backoff.maxMs, exp);
  const jitter = Math.min(1, Math.max(0, backoff.jitter));
  return Math.max(0, Math.round(capped * (1 - jitter * random())));
}

// Route destinations that can change which interface has a default route.
const DEFAULT_ROUTE_LINE = /^(?:Deleted\s+)?(?:[a-z]+\s+)?(?:default|0\.0\.0\.0\/0|::\/0)(?:\s|$)/;
// Link and address lines start with the ifindex: `3: eth0: <...>` / `Deleted 3: eth0    inet ...`.
const LINK_OR_ADDRESS_LINE = /^(?:Deleted\s+)?\d+:\s/;

/**
 * Whether one `ip -o monitor link address route` line can change discovery's answer. Link and address
 * events always can; route events only when they concern a default route (the per-pod and local-table
 * routes a Kubernetes node churns through cannot).
 */
export function isRelevantMonitorLine(line: string): boolean {
  const l = line.trim();
  if (l === '') return false;
  return LINK_OR_ADDRESS_LINE.test(l) || DEFAULT_ROUTE_LINE.test(l);
}

const MAX_LINE = 64 * 1024;

type State = 'idle' | 'running' | 'stopping' | 'stopped';

export class NetlinkMonitor {
  readonly #opts: NetlinkMonitorOptions;
  readonly #log: Logger;
  readonly #timers: MonitorTimers;
  readonly #backoff: BackoffOptions;
  readonly #now: () => number;
  readonly #random: () => number;

  #state: State = 'idle';
  #child: ChildProcess | undefined;
  #childStartedAt = 0;
  #starts = 0;
  #failures = 0;
  #restartTimer: unknown;
  #emitHandle: unknown;
  #pendingLines = 0;
  #pendingSample: string | undefined;
  #lastExit: MonitorHealth['lastExit'];
  #lastError: string | undefined;
  #stopPromise: Promise<void> | undefined;
  #downSince: number | undefined;
  #filtered = 0;

  constructor(opts: NetlinkMonitorOptions) {
    this.#opts = opts;
    this.#log = opts.logger ?? silentLogger;
    this.#timers = opts.timers ?? realTimers;
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
  }

  get alive(): boolean {
    return this.#child !== undefined;
  }

  get restarts(): number {
    return Math.max(0, this.#starts - 1);
  }

  get health(): MonitorHealth {
    return {
      alive: this.alive,
      restarts: this.restarts,
      pid: this.#child?.pid,
      lastExit: this.#lastExit,
      lastError: this.#lastError,
      downSince: this.#downSince,
      filtered: this.#filtered,
    };
  }

  /** Start watching. Idempotent; a stopped monitor cannot be started again. */
  start(): void {
    if (this.#state !== 'idle') return;
    this.#state = 'running';
    this.#spawn();
  }

  /** Stop watching: cancels a pending restart, ends the child and resolves once it has exited. */
  stop(): Promise<void> {
    if (this.#stopPromise !== undefined) return this.#stopPromise;
    this.#state = this.#child === undefined ? 'stopped' : 'stopping';
    if (this.#restartTimer !== undefined) this.#timers.clearTimeout(this.#restartTimer);
    this.#restartTimer = undefined;
    if (this.#emitHandle !== undefined) this.#timers.clearImmediate(this.#emitHandle);
    this.#emitHandle = undefined;
    const child = this.#child;
    this.#stopPromise =
      child === undefined
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const killTimer = setTimeout(() => child.kill('SIGKILL'), this.#opts.killTimeoutMs ?? 2000);
            child.once('close', () => {
              clearTimeout(killTimer);
              this.#state = 'stopped';
              resolve();
            });
            child.kill('SIGTERM');
          });
    return this.#stopPromise;
  }

  #spawn(): void {
    const ip = this.#opts.ipCommand ?? 'ip';
    const prefix = this.#opts.spawnPrefix ?? [];
    const cmd = prefix[0] ?? ip;
    const argv = [...prefix.slice(1), ...(prefix.length > 0 ? [ip] : []), ...ipArgv(MONITOR_ARGS, this.#opts.netns)];
    let child: ChildProcess;
    try {
      child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    } catch (err) {
      this.#downSince ??= this.#now();
      this.#lastError = errorMessage(err);
      this.#log.error({ err, cmd, argv }, 'cannot start the netlink monitor');
      this.#scheduleRestart();
      return;
    }
    this.#child = child;
    this.#downSince = undefined;
    this.#starts += 1;
    this.#childStartedAt = this.#now();
    let ended = false;
    let partial = '';

    child.once('spawn', () => {
      void this.#awaitSubscribed(child).then((subscribed) => {
        if (ended || this.#child !== child) return;
        this.#log.debug({ pid: child.pid, restarts: this.restarts, subscribed }, 'netlink monitor started');
        this.#emit({ reason: 'started', lines: 0 });
      });
    });

    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      // `ip -o` lines are short; an endless one is garbage, but still a sign something changed.
      if (partial.length > MAX_LINE) {
        this.#queue(partial.slice(0, 200));
        partial = '';
      }
      for (const line of lines) {
        if (this.#relevant(line)) this.#queue(line);
      }
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      const text = chunk.trim();
      if (text !== '') this.#log.warn({ pid: child.pid, stderr: text.slice(0, 1000) }, 'netlink monitor wrote to stderr');
    });

    const onEnd = (code: number | null, signal: string | null, err?: Error): void => {
      if (ended) return;
      ended = true;
      if (partial !== '' && this.#relevant(partial)) this.#queue(partial);
      this.#child = undefined;
      this.#downSince = this.#now();
      const ranMs = this.#now() - this.#childStartedAt;
      this.#lastExit = { code, signal, at: this.#now() };
      if (err !== undefined) this.#lastError = err.message;
      if (this.#state !== 'running') return;
      if (ranMs >= this.#backoff.stableAfterMs) this.#failures = 0;
      this.#log.warn({ code, signal, err, ranMs }, 'netlink monitor exited; restarting');
      this.#scheduleRestart();
    };
    child.once('error', (err) => {
      // Spawn failures (ENOENT) get no `close` when the process never existed.
      if (child.pid === undefined) onEnd(null, null, err);
      else this.#log.error({ err }, 'netlink monitor child error');
    });
    child.once('close', (code, signal) => onEnd(code, signal));
  }

  /**
   * Resolves true once /proc/<pid>/net/netlink shows a NETLINK_ROUTE socket of the child bound to
   * multicast groups, false when that is not seen within readyTimeoutMs (no /proc, the socket got a
   * port id other than the pid, or the child is not `ip`).
   */
  async #awaitSubscribed(child: ChildProcess): Promise<boolean> {
    const pid = child.pid;
    const timeoutMs = this.#opts.readyTimeoutMs ?? 2000;
    if (pid === undefined || timeoutMs <= 0) return false;
    const deadline = this.#now() + timeoutMs;
    for (let delay = 2; ; delay = Math.min(delay * 2, 50)) {
      if (this.#child !== child || this.#state !== 'running') return false;
      if (await netlinkSubscribed(pid)) return true;
      if (this.#now() >= deadline) return false;
      await new Promise<void>((resolve) => this.#timers.setTimeout(resolve, delay));
    }
  }

  #relevant(line: string): boolean {
    if (!isRelevantMonitorLine(line)) return false;
    const filter = this.#opts.linkFilter;
    if (filter === undefined) return true;
    const link = monitorLineLink(line);
    if (link === undefined || filter(link)) return true;
    this.#filtered += 1;
    return false;
  }

  #scheduleRestart(): void {
    this.#failures += 1;
    const delay = backoffDelay(this.#failures, this.#backoff, this.#random);
    this.#log.info({ delayMs: delay, failures: this.#failures }, 'netlink monitor restart scheduled');
    this.#restartTimer = this.#timers.setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#state === 'running') this.#spawn();
    }, delay);
  }

  #queue(line: string): void {
    this.#pendingLines += 1;
    this.#pendingSample ??= line;
    if (this.#emitHandle !== undefined) return;
    this.#emitHandle = this.#timers.setImmediate(() => {
      this.#emitHandle = undefined;
      const change: MonitorChange = { reason: 'event', lines: this.#pendingLines, sample: this.#pendingSample };
      this.#pendingLines = 0;
      this.#pendingSample = undefined;
      this.#emit(change);
    });
  }

  #emit(change: MonitorChange): void {
    if (this.#state !== 'running') return;
    try {
      this.#opts.onChange(change);
    } catch (err) {
      this.#log.error({ err }, 'netlink monitor onChange callback threw');
    }
  }
}

/**
 * Whether process `pid` has a NETLINK_ROUTE socket (protocol 0) with port id `pid` and a non-zero
 * multicast group mask, per /proc/<pid>/net/netlink (which lists the sockets of that process's
 * network namespace). Columns: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode.
 */
export async function netlinkSubscribed(pid: number): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/net/netlink`, 'utf8');
  } catch {
    return false;
  }
  return text.split('\n').some((line) => {
    const cols = line.trim().split(/\s+/);
    return cols[1] === '0' && cols[2] === String(pid) && cols[3] !== undefined && /^[0-9a-f]+$/i.test(cols[3]) && /[1-9a-f]/i.test(cols[3]);
  });
}
