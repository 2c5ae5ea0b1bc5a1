// The agent: keeps this node's HostEndpoints equal to the desired state. Inputs (kernel events,
// Node and HEP watches, timers) only mark work as due; one reconcile loop does the work, debounced
// and never concurrent with itself, with jittered backoff on API errors.
import type { ApiClient } from '../adapters/kube/api-client.ts';
import { NODES_PATH, asNode, type NodeObject } from '../adapters/kube/nodes.ts';
import { Reflector } from '../adapters/kube/reflector.ts';
import { CalicoApiUnavailable, apiVersionOf, chooseCalicoApi, servedGroupVersions, type CalicoApiGroup } from '../adapters/kube/calico-api.ts';
import { apiFailure } from '../adapters/kube/errors.ts';
import { HostEndpointApi } from '../adapters/kube/hostendpoints.ts';
import { CalicoPolicyApi, asPolicy, type RawObject } from '../adapters/kube/policies.ts';
import type { Config } from '../config/schema.ts';
import { API_BACKOFF, backoffDelay } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';
import { desiredStateBuilder, type NodeFacts } from '../core/desired.ts';
import { DriftTracker } from '../core/drift-tracker.ts';
import { applyGracePeriod } from '../core/grace.ts';
import { managedSelector } from '../core/labels.ts';
import type { HostEndpoint, NetInterface } from '../core/model.ts';
import { isManaged } from '../core/ownership.ts';
import { parsePolicy, unguardedHostEndpoints } from '../core/policy/index.ts';
import { planReconcile, type Action, type Drift, type FieldChange, type ReconcilePlan } from '../core/reconcile.ts';
import type { Logger } from '../logger.ts';
import type { AgentMetrics } from '../observability/metrics.ts';
import type { AgentEvents } from './events.ts';
import { acquireLease } from './prune-sweep.ts';
import { prune } from './prune.ts';

/** A source of "the kernel changed" signals (the supervised `ip monitor`). */
export interface KernelEvents {
  start(): void;
  stop(): Promise<void>;
  readonly alive: boolean;
}

export interface AgentDeps {
  readonly config: Config;
  readonly nodeName: string;
  /** The Kubernetes API; it reports every request to the metrics itself. */
  readonly client: ApiClient;
  readonly discover: () => Promise<NetInterface[]>;
  /** Built by the caller with `onChange` wired to `agent.kernelChanged()`. */
  readonly kernelEvents?: KernelEvents | undefined;
  readonly metrics: AgentMetrics;
  readonly events: AgentEvents;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random?: () => number;
  readonly version: string;
  /** Namespace of the prune sweep's Lease (the agent's own namespace, from the downward API). */
  readonly leaseNamespace?: string | undefined;
}

export interface AgentStatus {
  /** The first reconcile succeeded and the Calico API is there. */
  readonly ready: boolean;
  /** Every supervised loop is alive (or restarting within its backoff). */
  readonly live: boolean;
  readonly calicoApi: string | undefined;
  readonly lastError: string | undefined;
  readonly lastSuccessAt: number | undefined;
}

const MAX_CONFLICT_RETRIES = 5;

/** Fails a reconcile for a reason the next attempt may not fix soon; carries the server's Retry-After. */
class ReconcileError extends Error {
  readonly retryAfterSeconds: number | undefined;
  constructor(message: string, retryAfterSeconds?: number) {
    super(message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export class Agent {
  readonly #d: AgentDeps;
  readonly #build: ReturnType<typeof desiredStateBuilder>;
  readonly #drift = new DriftTracker();
  #calico: CalicoApiGroup | undefined;
  #heps: HostEndpointApi | undefined;
  #hepReflector: Reflector<HostEndpoint> | undefined;
  #nodeReflector: Reflector<NodeObject> | undefined;
  /** GlobalNetworkPolicies, watched only with `requirePolicy` (the lockout guard). */
  #gnpReflector: Reflector<RawObject> | undefined;
  /** Unmanaged HEPs of this node found by the start-up scan or by name; refreshed on resync. */
  #others = new Map<string, HostEndpoint>();
  #othersScanned = false;
  #scanTimer: ReturnType<typeof setTimeout> | undefined;
  #interfaces: NetInterface[] | undefined;
  #kernelDirty = true;
  #goneSince = new Map<string, number>();

  #stopped = false;
  #running: Promise<void> | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #pendingSince: number | undefined;
  #failures = 0;
  #ready = false;
  #lastError: string | undefined;
  #lastSuccessAt: number | undefined;
  #intervals: ReturnType<typeof setInterval>[] = [];
  #graceTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#build = desiredStateBuilder(deps.config);
  }

  status(): AgentStatus {
    const now = this.#d.clock.now();
    // A watch loop that has made no progress for two full watch timeouts is stuck beyond its supervisor.
    const stuckAfterMs = 2 * 660_000;
    const reflectorsLive = [this.#hepReflector, this.#nodeReflector, this.#gnpReflector].every(
      (r) => r === undefined || now - r.lastProgressAt < stuckAfterMs,
    );
    return {
      ready: this.#ready && this.#calico !== undefined,
      live: !this.#stopped && reflectorsLive,
      calicoApi: this.#calico !== undefined ? apiVersionOf(this.#calico) : undefined,
      lastError: this.#lastError,
      lastSuccessAt: this.#lastSuccessAt,
    };
  }

  start(): void {
    const { config, nodeName, client, clock, logger } = this.#d;
    this.#d.metrics.info(this.#d.version, 'none', this.#mode());
    this.#nodeReflector = new Reflector<NodeObject>({
      resource: 'nodes',
      client,
      path: NODES_PATH,
      fieldSelector: `metadata.name=${nodeName}`,
      list: async () => {
        const res = await client.list(NODES_PATH, { fieldSelector: `metadata.name=${nodeName}` });
        return { items: res.items.map(asNode), resourceVersion: res.resourceVersion };
      },
      fromWatch: asNode,
      onChange: (reason) => this.trigger(reason),
      observer: this.#d.metrics,
      logger,
      clock,
      ...(this.#d.random !== undefined ? { random: this.#d.random } : {}),
    });
    this.#nodeReflector.start();
    this.#d.kernelEvents?.start();
    this.#intervals.push(
      setInterval(() => this.kernelChanged('periodic rescan'), config.intervals.rescanSeconds * 1000),
      setInterval(() => this.#resync(), config.intervals.resyncSeconds * 1000),
    );
    if (config.prune.sweep) {
      this.#intervals.push(setInterval(() => void this.#sweep(), config.prune.intervalSeconds * 1000));
    }
    this.#scheduleConflictScan();
    for (const t of this.#intervals) t.unref();
    logger.info({ node: nodeName, mode: this.#mode() }, 'agent started');
    this.trigger('start');
  }

  /** The kernel reported a change (or the periodic rescan is due): rediscover, then reconcile. */
  kernelChanged(reason = 'kernel event'): void {
    this.#kernelDirty = true;
    this.trigger(reason);
  }

  /** Something may have changed: reconcile after the debounce interval, coalescing bursts. */
  trigger(reason: string): void {
    if (this.#stopped) return;
    this.#pendingSince ??= this.#d.clock.now();
    this.#d.logger.debug({ reason }, 'reconcile triggered');
    if (this.#timer !== undefined || this.#running !== undefined) return;
    this.#schedule(this.#d.config.intervals.debounceMilliseconds);
  }

  /** Stops every loop and leaves every HostEndpoint in place: removing them would open the firewall. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    clearTimeout(this.#graceTimer);
    clearTimeout(this.#scanTimer);
    for (const t of this.#intervals) clearInterval(t);
    await Promise.allSettled([
      this.#running,
      this.#hepReflector?.stop(),
      this.#nodeReflector?.stop(),
      this.#gnpReflector?.stop(),
      this.#d.kernelEvents?.stop(),
    ]);
  }

  /** One elected agent deletes managed HEPs of deleted Nodes; the others skip. Never throws. */
  async #sweep(): Promise<void> {
    const { client, config, nodeName, logger, clock } = this.#d;
    if (this.#heps === undefined || this.#stopped || config.mode === 'audit') return;
    try {
      const leader = await acquireLease(client, {
        namespace: this.#d.leaseNamespace ?? 'kube-system',
        identity: nodeName,
        durationSeconds: 2 * config.prune.intervalSeconds,
        now: clock.now(),
      });
      if (!leader) return;
      const result = await prune(client, this.#heps, { logger, dryRun: config.dryRun });
      logger.info({ orphans: result.orphans.length, deleted: result.deleted.length }, 'prune sweep done');
    } catch (err) {
      logger.warn({ err: apiFailure(err).message }, 'prune sweep failed; next interval retries');
    }
  }

  /** For tests: run the sweep now. */
  sweepNow(): Promise<void> {
    return this.#sweep();
  }

  #mode(): string {
    return this.#d.config.dryRun ? 'dry-run' : this.#d.config.mode;
  }

  #schedule(delayMs: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#running = this.#runOnce().finally(() => {
        this.#running = undefined;
        // Changes that arrived while we worked get their own pass.
        if (this.#pendingSince !== undefined && this.#timer === undefined && !this.#stopped) {
          this.#schedule(this.#d.config.intervals.debounceMilliseconds);
        }
      });
    }, delayMs);
  }

  #resync(): void {
    this.#hepReflector?.resync();
    this.#nodeReflector?.resync();
    this.#gnpReflector?.resync();
    this.kernelChanged('periodic resync');
  }

  /**
   * The scan for hand-written HEPs pages through every HEP of the cluster, so it runs at start and
   * then only every `conflictScanSeconds` (0: never again), jittered by up to 20 % so the nodes of a
   * DaemonSet rollout do not all scan together. Resyncs do not scan: at 5,000 nodes that would be
   * every HEP downloaded by every node every 10 minutes (docs/benchmarks.md).
   */
  #scheduleConflictScan(): void {
    const seconds = this.#d.config.intervals.conflictScanSeconds;
    if (seconds === 0 || this.#stopped) return;
    const delayMs = seconds * 1000 * (1 + 0.2 * (this.#d.random ?? Math.random)());
    this.#scanTimer = setTimeout(() => {
      this.#othersScanned = false;
      this.trigger('periodic conflict scan');
      this.#scheduleConflictScan();
    }, delayMs);
    this.#scanTimer.unref();
  }

  async #runOnce(): Promise<void> {
    const { clock, metrics, logger } = this.#d;
    const started = clock.now();
    const changedSince = this.#pendingSince;
    this.#pendingSince = undefined;
    let result: 'success' | 'error' | 'skipped';
    try {
      result = await this.#reconcile();
      this.#failures = 0;
      this.#lastError = undefined;
      if (result === 'success') {
        this.#ready = true;
        this.#lastSuccessAt = clock.now();
        if (changedSince !== undefined) metrics.converged(clock.now() - changedSince);
      }
    } catch (err) {
      result = 'error';
      this.#failures++;
      this.#lastError = err instanceof Error ? err.message : String(err);
      if (err instanceof CalicoApiUnavailable) this.#ready = false;
      const retryAfter = err instanceof ReconcileError ? err.retryAfterSeconds : undefined;
      const delay = backoffDelay(this.#failures, API_BACKOFF, (this.#d.random ?? Math.random)(), retryAfter);
      logger.warn({ err: this.#lastError, attempt: this.#failures, retryInMs: delay }, 'reconcile failed');
      // Keep the original change time so convergence latency includes the failed attempts.
      this.#pendingSince = Math.min(this.#pendingSince ?? Infinity, changedSince ?? clock.now());
      if (!this.#stopped) this.#schedule(delay);
    }
    metrics.reconciled(result, clock.now() - started, clock.now());
  }

  /** Chooses the Calico API once, then starts the HEP watch in it. */
  async #ensureCalicoApi(): Promise<HostEndpointApi> {
    if (this.#heps !== undefined) return this.#heps;
    const { client, metrics, config, logger, clock, nodeName } = this.#d;
    let served: Set<string>;
    try {
      served = await servedGroupVersions(client);
    } catch (err) {
      const f = apiFailure(err);
      throw new ReconcileError(`API discovery failed: ${f.message}`, f.retryAfterSeconds);
    }
    const calico = chooseCalicoApi(served, config.apiGroup);
    const heps = new HostEndpointApi(client, calico);
    const selector = managedSelector(nodeName);
    this.#hepReflector = new Reflector<HostEndpoint>({
      resource: 'hostendpoints',
      client,
      path: heps.path,
      labelSelector: selector,
      list: async () => {
        // Paged, so a node with many interfaces never asks for one huge response.
        const items: HostEndpoint[] = [];
        let page = await heps.list({ labelSelector: selector, limit: 500 });
        items.push(...page.items);
        while (page.continue !== undefined) {
          page = await heps.list({ labelSelector: selector, limit: 500, continueToken: page.continue });
          items.push(...page.items);
        }
        return { items, resourceVersion: page.resourceVersion };
      },
      fromWatch: (raw) => heps.fromWire(raw),
      onChange: (reason) => this.trigger(reason),
      observer: metrics,
      logger,
      clock,
      ...(this.#d.random !== undefined ? { random: this.#d.random } : {}),
    });
    this.#calico = calico;
    this.#heps = heps;
    metrics.info(this.#d.version, apiVersionOf(calico), this.#mode());
    logger.info({ calicoApi: apiVersionOf(calico) }, 'using Calico API');
    this.#hepReflector.start();
    if (config.requirePolicy) {
      const policies = new CalicoPolicyApi(client, calico);
      this.#gnpReflector = new Reflector<RawObject>({
        resource: 'globalnetworkpolicies',
        client,
        path: policies.globalNetworkPoliciesPath,
        list: () => policies.listGlobalNetworkPolicies(),
        fromWatch: (raw) => asPolicy(raw),
        onChange: (reason) => this.trigger(reason),
        observer: metrics,
        logger,
        clock,
        ...(this.#d.random !== undefined ? { random: this.#d.random } : {}),
      });
      this.#gnpReflector.start();
    }
    return heps;
  }

  /** Current interfaces; `trusted` is false when they must not justify deletions. */
  async #interfacesNow(): Promise<{ interfaces: NetInterface[]; trusted: boolean }> {
    if (this.#kernelDirty || this.#interfaces === undefined) {
      this.#kernelDirty = false;
      try {
        this.#interfaces = await this.#d.discover();
      } catch (err) {
        this.#kernelDirty = true;
        if (this.#interfaces === undefined) throw new ReconcileError(`interface discovery failed: ${(err as Error).message}`);
        this.#d.logger.error({ err: (err as Error).message }, 'interface discovery failed; keeping the last known interfaces, deleting nothing');
        return { interfaces: this.#interfaces, trusted: false };
      }
    }
    // An empty list is far more likely a broken netlink view than a node without interfaces.
    return { interfaces: this.#interfaces, trusted: this.#interfaces.length > 0 };
  }

  /**
   * Scans all HEPs once for unmanaged ones on this node (hand-written ones under other names). Returns
   * the names of every HEP it saw when it scanned now (undefined when an earlier scan still holds), so
   * this pass need not GET each desired name again: a name the scan did not see is free, and a HEP
   * created in between makes our create fail with 409, which re-reads it.
   */
  async #scanOthers(heps: HostEndpointApi): Promise<Set<string> | undefined> {
    if (this.#othersScanned) return undefined;
    const found = new Map<string, HostEndpoint>();
    const names = new Set<string>();
    let continueToken: string | undefined;
    do {
      const page = await heps.list({ limit: 500, ...(continueToken !== undefined ? { continueToken } : {}) });
      for (const h of page.items) {
        names.add(h.metadata.name);
        if (h.spec?.node === this.#d.nodeName && !isManaged(h.metadata.labels)) found.set(h.metadata.name, h);
      }
      continueToken = page.continue;
    } while (continueToken !== undefined);
    this.#others = found;
    this.#othersScanned = true;
    return names;
  }

  async #reconcile(): Promise<'success' | 'skipped'> {
    const { config, nodeName, metrics, logger, clock } = this.#d;
    const heps = await this.#ensureCalicoApi();
    const hepReflector = this.#hepReflector!;
    const nodeReflector = this.#nodeReflector!;
    if (!hepReflector.synced || !nodeReflector.synced) return 'skipped'; // their first list triggers again
    const node = nodeReflector.cache.get(nodeName);
    if (node === undefined) {
      // Without the Node there is no owner for the HEPs (GC would delete them) and no labels: wait.
      throw new ReconcileError(`Node ${nodeName} not found`);
    }
    const facts: NodeFacts = { name: nodeName, labels: node.metadata?.labels ?? {}, uid: node.metadata?.uid };
    const { interfaces, trusted } = await this.#interfacesNow();
    let scanned: Set<string> | undefined;
    try {
      scanned = await this.#scanOthers(heps);
    } catch (err) {
      throw this.#apiError('scanning HostEndpoints', err);
    }

    let plan: ReconcilePlan | undefined;
    for (let attempt = 1; ; attempt++) {
      const state = this.#build(facts, interfaces);
      for (const w of state.warnings) logger.warn({}, w);
      const managed = [...hepReflector.cache.values()];
      const grace = applyGracePeriod({
        hepInterfaces: managed.map((h) => h.spec?.interfaceName ?? ''),
        present: new Set(interfaces.map((i) => i.name)),
        goneSince: this.#goneSince,
        now: clock.now(),
        graceMs: config.intervals.removalGraceSeconds * 1000,
      });
      this.#goneSince = grace.goneSince;
      this.#scheduleGraceExpiry(grace.nextExpiryAt);
      await this.#lookUpBlockers(heps, state.hostEndpoints, managed, attempt === 1 ? scanned : undefined);
      const unguarded = config.requirePolicy ? this.#unguarded(state.hostEndpoints) : undefined;
      plan = planReconcile({
        nodeName,
        desired: state.hostEndpoints,
        managed,
        others: [...this.#others.values()],
        adopt: config.adopt,
        held: grace.held,
        allowDeletes: trusted,
        unguarded,
      });
      metrics.state({
        desired: state.hostEndpoints.length,
        actual: managed.length,
        interfacesSeen: state.interfacesSeen,
        interfacesSelected: state.interfacesSelected,
        expectedIps: state.hostEndpoints.reduce((n, h) => n + (h.spec.expectedIPs?.length ?? 0), 0),
      });
      const update = this.#drift.update(plan.drift, clock.now());
      metrics.drift(update.countByKind, update.appeared, update.oldestAgeMs);
      for (const d of update.appeared) {
        logger.warn({ drift: d.kind, hostEndpoint: d.name, interface: d.interfaceName, changes: d.changes }, d.detail);
        if (d.kind === 'conflict') this.#d.events.conflict(d);
      }
      if (config.mode === 'audit' || plan.actions.length === 0) break;
      const retry = await this.#execute(heps, plan.actions);
      if (!retry) {
        if (!config.dryRun) {
          // Repaired drift is gone now, not when our own write's watch event comes back.
          const repaired = new Set(plan.actions.map((a) => a.repairs));
          const rest = this.#drift.update(plan.drift.filter((d) => !repaired.has(d)), clock.now());
          metrics.drift(rest.countByKind, rest.appeared, rest.oldestAgeMs);
        }
        break;
      }
      if (attempt >= MAX_CONFLICT_RETRIES) throw new ReconcileError('conflicting writes: giving up for now');
    }
    return 'success';
  }

  /**
   * The lockout guard's input: desired HEPs without the default-allow profile that no
   * GlobalNetworkPolicy selects. Until the policies have been listed, every such HEP counts as
   * unguarded: not knowing the policies must not open the way to a lockout.
   */
  #unguarded(desired: readonly HostEndpoint[]): Set<string> {
    const r = this.#gnpReflector;
    const policies = r?.synced === true ? [...r.cache.values()].map((o) => parsePolicy(o, 'cluster')) : [];
    return unguardedHostEndpoints(desired, policies);
  }

  /**
   * For desired HEPs without a managed one, a GET by name finds an unmanaged HEP in the way; skipped for
   * names a scan of all HEPs in this very pass did not see (`scanned`).
   */
  async #lookUpBlockers(heps: HostEndpointApi, desired: readonly HostEndpoint[], managed: readonly HostEndpoint[], scanned?: ReadonlySet<string>): Promise<void> {
    const covered = new Set(managed.map((h) => h.spec?.interfaceName));
    for (const want of desired) {
      if (covered.has(want.spec.interfaceName) || this.#others.has(want.metadata.name)) continue;
      if (scanned !== undefined && !scanned.has(want.metadata.name)) continue;
      let found: HostEndpoint | undefined;
      try {
        found = await heps.get(want.metadata.name);
      } catch (err) {
        throw this.#apiError(`reading HostEndpoint ${want.metadata.name}`, err);
      }
      if (found !== undefined && !(isManaged(found.metadata.labels) && this.#hepReflector?.cache.has(found.metadata.name))) {
        this.#others.set(found.metadata.name, found);
      }
    }
  }

  /** Applies the writes. Returns true when a conflict means the plan must be made again. */
  async #execute(heps: HostEndpointApi, actions: readonly Action[]): Promise<boolean> {
    const { logger, metrics, config } = this.#d;
    const cache = this.#hepReflector!.cache;
    let replan = false;
    for (const action of actions) {
      const name = action.type === 'delete' ? action.name : action.object.metadata.name;
      const fields = fieldDiff(action.repairs.changes);
      if (config.dryRun) {
        logger.info({ dryRun: true, action: action.type, hostEndpoint: name, drift: action.repairs.kind, diff: fields }, `would ${action.type} HostEndpoint`);
        continue;
      }
      try {
        if (action.type === 'create') cache.set(name, await heps.create(action.object));
        else if (action.type === 'update') {
          const stored = await heps.replace(action.object);
          cache.set(name, stored);
          this.#others.delete(name);
        } else {
          await heps.delete(name, action.resourceVersion);
          cache.delete(name);
        }
        metrics.repaired(action.repairs.kind);
        logger.info({ action: action.type, hostEndpoint: name, drift: action.repairs.kind, diff: fields }, `${action.type}d HostEndpoint`);
        this.#d.events.wrote(action);
      } catch (err) {
        const f = apiFailure(err);
        if (f.code === 409 || (f.code === 404 && action.type === 'update')) {
          // Our view is behind: read the object again, then plan again.
          logger.info({ action: action.type, hostEndpoint: name, reason: f.reason }, 'write conflict: re-reading');
          let fresh: HostEndpoint | undefined;
          try {
            fresh = await heps.get(name);
          } catch (getErr) {
            throw this.#apiError(`re-reading HostEndpoint ${name}`, getErr);
          }
          if (fresh === undefined) cache.delete(name);
          else if (isManaged(fresh.metadata.labels) && fresh.spec?.node === this.#d.nodeName) cache.set(name, fresh);
          else {
            cache.delete(name);
            this.#others.set(name, fresh);
          }
          replan = true;
          continue;
        }
        throw this.#apiError(`${action.type} HostEndpoint ${name}`, err);
      }
    }
    return replan;
  }

  #apiError(what: string, err: unknown): ReconcileError {
    const f = apiFailure(err);
    return new ReconcileError(`${what}: ${f.code === 0 ? 'no response' : `HTTP ${f.code}`}${f.reason ? ` ${f.reason}` : ''}: ${f.message}`, f.retryAfterSeconds);
  }

  #scheduleGraceExpiry(at: number | undefined): void {
    clearTimeout(this.#graceTimer);
    this.#graceTimer = undefined;
    if (at === undefined || this.#stopped) return;
    this.#graceTimer = setTimeout(() => this.kernelChanged('grace period expired'), Math.max(0, at - this.#d.clock.now()) + 10);
    this.#graceTimer.unref();
  }
}

/** A compact field-level diff for logs: `{ "spec.expectedIPs": { from, to } }`. */
export function fieldDiff(changes: readonly FieldChange[]): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const c of changes) out[c.path] = { from: c.from, to: c.to };
  return out;
}

export type { Drift };
