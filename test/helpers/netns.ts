// Test helper: throwaway Linux network namespaces driven through iproute2.
//
// Every namespace is named `<prefix><pid>-<random>` (default prefix `hepagt-`), so a run can remove
// the leftovers of earlier crashed runs (`cleanupLeftoverNetns`) without touching the namespaces of
// test processes that are still alive (node --test runs files in parallel processes).
//
// Usage:
//   const skip = prereq(await canUseNetns());   // helpers/prereq.ts: under CI=true a missing prerequisite fails
//   test('...', { skip }, async (t) => {
//     const ns = await Netns.create();
//     t.after(() => ns.destroy());
//     await ns.addVeth('v0', 'v0p');
//   });
//
// Nothing here touches the host namespace except `ip netns add/del` themselves.

import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

export const NETNS_PREFIX = 'hepagt-';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit status, `null` when killed by a signal. */
  readonly code: number | null;
}

export class CommandError extends Error {
  override readonly name = 'CommandError';
  readonly result: ExecResult;
  readonly argv: readonly string[];
  constructor(argv: readonly string[], result: ExecResult) {
    super(`\`${argv.join(' ')}\` exited with ${result.code ?? 'a signal'}: ${result.stderr.trim() || result.stdout.trim()}`);
    this.argv = argv;
    this.result = result;
  }
}

/** Run a command without a shell; resolves with its output whatever the exit status. */
export function run(cmd: string, args: readonly string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      cmd,
      [...args],
      { timeout: opts.timeoutMs ?? 10_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string') {
          reject(err); // spawn failure (ENOENT, EACCES): not an exit status
          return;
        }
        const code = err ? ((err as { code?: number | null }).code ?? null) : 0;
        resolve({ stdout, stderr, code: typeof code === 'number' ? code : null });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Run a command and fail with its stderr when it exits non-zero. */
export async function runOk(cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<string> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) throw new CommandError([cmd, ...args], result);
  return result.stdout;
}

/**
 * Why namespace tests cannot run here, or `null` when they can. Pass it through `prereq()` as `{ skip }`
 * so `node --test` prints the reason.
 */
export async function canUseNetns(): Promise<string | null> {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'network namespace tests need root (ip netns add); run the tests as root or in a privileged container';
  }
  const probe = `${NETNS_PREFIX}${process.pid}-probe${randomBytes(3).toString('hex')}`;
  try {
    const added = await run('ip', ['netns', 'add', probe]);
    if (added.code !== 0) return `\`ip netns add\` does not work here: ${added.stderr.trim()}`;
    const lo = await run('ip', ['-n', probe, 'link', 'set', 'lo', 'up']);
    if (lo.code !== 0) return `cannot configure links inside a network namespace: ${lo.stderr.trim()}`;
    return null;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ENOENT' ? '`ip` (iproute2) is not on PATH' : `cannot run \`ip netns\`: ${e.message}`;
  } finally {
    await run('ip', ['netns', 'del', probe]).catch(() => undefined);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names from `ip netns list` (its lines look like `name (id: 3)` or just `name`). */
export async function listNetns(): Promise<string[]> {
  const out = await runOk('ip', ['netns', 'list']);
  return out
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0] ?? '')
    .filter((name) => name !== '');
}

/**
 * Delete namespaces left by crashed runs: those named `<prefix><pid>-...` whose pid is no longer
 * running. Namespaces of live test processes are kept. Returns the names deleted.
 */
export async function cleanupLeftoverNetns(prefix: string = NETNS_PREFIX): Promise<string[]> {
  const deleted: string[] = [];
  for (const name of await listNetns()) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && (pid === process.pid || pidAlive(pid))) continue;
    const r = await run('ip', ['netns', 'del', name]);
    if (r.code === 0) deleted.push(name);
  }
  return deleted;
}

/** Run `cmd args` inside namespace `ns` (`ip netns exec`) and collect its output. */
export function execInNetns(ns: string, cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
  return run('ip', ['netns', 'exec', ns, cmd, ...args], opts);
}

/**
 * Start `cmd args` inside namespace `ns`. `ip netns exec` execs the command, so the child's pid is the
 * command's own pid and signals reach it directly.
 */
export function spawnInNetns(ns: string, cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'pipe', ...opts });
}

export interface AddrOptions {
  /** IPv6: skip duplicate address detection so the address is not `tentative`. Default true for IPv6. */
  readonly nodad?: boolean;
  /** IPv4 address label such as `eth0:1`. */
  readonly label?: string;
}

/** One throwaway namespace. Create with `Netns.create()`, always `destroy()` in an `after` hook. */
export class Netns {
  readonly name: string;
  #children = new Set<ChildProcess>();
  #destroyed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /** Create a fresh namespace with `lo` up, removing leftovers of crashed runs first. */
  static async create(prefix: string = NETNS_PREFIX): Promise<Netns> {
    await cleanupLeftoverNetns(prefix).catch(() => undefined);
    const name = `${prefix}${process.pid}-${randomBytes(4).toString('hex')}`;
    await runOk('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    try {
      await ns.ip('link', 'set', 'lo', 'up');
    } catch (err) {
      await ns.destroy();
      throw err;
    }
    return ns;
  }

  /** `ip -n NS args...`; returns stdout, throws `CommandError` on failure. */
  ip(...args: string[]): Promise<string> {
    return runOk('ip', ['-n', this.name, ...args]);
  }

  /**
   * Run many `ip` commands in one process (`ip -n NS -batch -`): one line per command, without the
   * leading `ip`, e.g. `link set eth0 up`. Much faster than one process per command. Stops at the
   * first failing line.
   */
  async batch(lines: readonly string[]): Promise<void> {
    const argv = ['-n', this.name, '-batch', '-'];
    const result = await run('ip', argv, { input: `${lines.join('\n')}\n` });
    if (result.code !== 0) throw new CommandError(['ip', ...argv], result);
  }

  /** `ip -n NS -j args...` parsed. */
  async ipJson(...args: string[]): Promise<unknown> {
    const out = await runOk('ip', ['-n', this.name, '-j', ...args]);
    return out.trim() === '' ? [] : JSON.parse(out);
  }

  /** A veth pair `name`–`peer`; the peer lives in `peerNetns` when given (moved there), else here too. */
  async addVeth(name: string, peer: string, opts: { peerNetns?: Netns | string } = {}): Promise<void> {
    const args = ['link', 'add', name, 'type', 'veth', 'peer', 'name', peer];
    if (opts.peerNetns !== undefined) {
      args.push('netns', typeof opts.peerNetns === 'string' ? opts.peerNetns : opts.peerNetns.name);
    }
    await this.ip(...args);
  }

  async addBridge(name: string): Promise<void> {
    await this.ip('link', 'add', name, 'type', 'bridge');
  }

  /** A macvlan on `parent`; name it e.g. `eth0.100` to stand in for a VLAN (vlan does not work here). */
  async addMacvlan(name: string, parent: string, mode: string = 'bridge'): Promise<void> {
    await this.ip('link', 'add', 'link', parent, 'name', name, 'type', 'macvlan', 'mode', mode);
  }

  async addVxlan(name: string, vni: number, opts: { local?: string; dstport?: number } = {}): Promise<void> {
    const args = ['link', 'add', name, 'type', 'vxlan', 'id', String(vni), 'dstport', String(opts.dstport ?? 4789)];
    if (opts.local !== undefined) args.push('local', opts.local);
    await this.ip(...args);
  }

  async addIfb(name: string): Promise<void> {
    await this.ip('link', 'add', name, 'type', 'ifb');
  }

  async setMaster(name: string, master: string): Promise<void> {
    await this.ip('link', 'set', name, 'master', master);
  }

  async setUp(...names: string[]): Promise<void> {
    for (const name of names) await this.ip('link', 'set', name, 'up');
  }

  async setDown(...names: string[]): Promise<void> {
    for (const name of names) await this.ip('link', 'set', name, 'down');
  }

  async delLink(name: string): Promise<void> {
    await this.ip('link', 'del', name);
  }

  /** Add `cidr` (e.g. `192.0.2.1/24`, `2001:db8::1/64`) to `dev`. IPv6 defaults to `nodad`. */
  async addAddr(dev: string, cidr: string, opts: AddrOptions = {}): Promise<void> {
    const args = ['addr', 'add', cidr, 'dev', dev];
    if (opts.label !== undefined) args.push('label', opts.label);
    if (cidr.includes(':') && (opts.nodad ?? true)) args.push('nodad');
    await this.ip(...args);
  }

  async delAddr(dev: string, cidr: string): Promise<void> {
    await this.ip('addr', 'del', cidr, 'dev', dev);
  }

  /** Main-table default route through `dev`, with a gateway when `via` is given. */
  async addDefaultRoute(dev: string, opts: { via?: string; family?: 4 | 6; metric?: number } = {}): Promise<void> {
    await this.ip(...this.#defaultRouteArgs('add', dev, opts));
  }

  async delDefaultRoute(dev: string, opts: { via?: string; family?: 4 | 6; metric?: number } = {}): Promise<void> {
    await this.ip(...this.#defaultRouteArgs('del', dev, opts));
  }

  #defaultRouteArgs(verb: 'add' | 'del', dev: string, opts: { via?: string; family?: 4 | 6; metric?: number }): string[] {
    const family = opts.family ?? (opts.via?.includes(':') ? 6 : 4);
    const args = [`-${family}`, 'route', verb, 'default'];
    if (opts.via !== undefined) args.push('via', opts.via);
    args.push('dev', dev);
    if (opts.metric !== undefined) args.push('metric', String(opts.metric));
    return args;
  }

  /** Run a command inside this namespace and collect its output. */
  exec(cmd: string, args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return execInNetns(this.name, cmd, args, opts);
  }

  /** Start a command inside this namespace; `destroy()` kills it if it is still running. */
  spawn(cmd: string, args: readonly string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawnInNetns(this.name, cmd, args, opts);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    child.once('error', () => this.#children.delete(child));
    return child;
  }

  /** Kill children started by `spawn`, then delete the namespace (and so every link in it). Idempotent. */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(
      [...this.#children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGKILL');
          }),
      ),
    );
    this.#children.clear();
    const r = await run('ip', ['netns', 'del', this.name]);
    if (r.code !== 0 && !/No such file|not found/i.test(r.stderr)) {
      throw new CommandError(['ip', 'netns', 'del', this.name], r);
    }
  }
}
