// Interface discovery through netlink, by way of iproute2's JSON output.
//
// Why `ip` and not Node: `os.networkInterfaces()` omits interfaces without carrier (getifaddrs only
// lists IFF_RUNNING ones with addresses), and `systeminformation` keeps one address per family and runs
// a synchronous command per interface. `ip -j -d addr show` is one netlink dump of every link with every
// address, its kind and its state.

import type { NetInterface } from '../../core/model.ts';
import { DiscoveryError } from './errors.ts';
import { parseIpAddrJson } from './parse.ts';
import { DUMP_INTERRUPTED, runIp, type RunIpResult } from './run-ip.ts';

export { DiscoveryError, type DiscoveryErrorCode } from './errors.ts';

export interface DiscoverOptions {
  /** The iproute2 `ip` executable (name on PATH or absolute path). Default `ip`. */
  readonly ipCommand?: string | undefined;
  /** Inspect this named network namespace (`ip -n NS`) instead of the current one; for tests. */
  readonly netns?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Limit for each `ip` run, in ms. Default 10 000. */
  readonly timeoutMs?: number | undefined;
  /** Retries when the kernel reports a dump interrupted by concurrent changes. Default 2. */
  readonly interruptedRetries?: number | undefined;
}

export const DEFAULT_DISCOVERY_TIMEOUT_MS = 10_000;
const MAX_OUTPUT_BYTES = 256 * 1024 * 1024;

/** The three `ip` invocations discovery runs (without `-n NS`). */
export const DISCOVERY_COMMANDS = {
  addr: ['-j', '-d', 'addr', 'show'],
  routesV4: ['-j', '-4', 'route', 'show', 'default', 'table', 'main'],
  routesV6: ['-j', '-6', 'route', 'show', 'default', 'table', 'main'],
} as const;

/**
 * Every interface of the network namespace with all of its addresses, whatever the link state, and
 * whether a main-table default route (IPv4 or IPv6) leaves through it.
 *
 * Resolves only with a complete answer from a successful run; every failure (no `ip`, non-zero exit,
 * unparseable output, timeout, abort) rejects with a DiscoveryError. An empty array therefore means
 * the kernel really listed no interfaces (which never happens in practice: `lo` always exists) -
 * still, a caller must not delete HostEndpoints because of an empty or suddenly much smaller answer.
 */
export async function discoverInterfaces(opts: DiscoverOptions = {}): Promise<NetInterface[]> {
  const retries = opts.interruptedRetries ?? 2;
  for (let attempt = 0; ; attempt++) {
    let outputs: [RunIpResult, RunIpResult, RunIpResult] | undefined;
    try {
      outputs = await runAll(opts);
    } catch (err) {
      // `ip` exited non-zero because of the interruption: retry like the warning-only case below.
      if (!(err instanceof DiscoveryError && err.code === 'interrupted')) throw err;
    }
    if (outputs !== undefined && !outputs.some((o) => DUMP_INTERRUPTED.test(o.stderr))) {
      const [addr, v4, v6] = outputs;
      return parseIpAddrJson(addr.stdout, v4.stdout, v6.stdout);
    }
    if (attempt >= retries) {
      throw new DiscoveryError(
        'interrupted',
        `the kernel interrupted the netlink dump ${attempt + 1} times because interfaces kept changing; try again later.`,
      );
    }
  }
}

async function runAll(opts: DiscoverOptions): Promise<[RunIpResult, RunIpResult, RunIpResult]> {
  // One controller for the three children: the first failure kills the other two.
  const local = new AbortController();
  const signal = opts.signal === undefined ? local.signal : AbortSignal.any([opts.signal, local.signal]);
  const common = {
    ipCommand: opts.ipCommand,
    netns: opts.netns,
    signal,
    timeoutMs: opts.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS,
    maxOutputBytes: MAX_OUTPUT_BYTES,
  };
  const runs = [runIp(DISCOVERY_COMMANDS.addr, common), runIp(DISCOVERY_COMMANDS.routesV4, common), runIp(DISCOVERY_COMMANDS.routesV6, common)] as const;
  try {
    return await Promise.all(runs);
  } catch (err) {
    local.abort();
    // Let the siblings settle (they were just killed) so no child outlives the call.
    await Promise.allSettled(runs);
    throw err;
  }
}
