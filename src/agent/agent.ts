// The agent: keeps this node's HostEndpoints equal to the desired state, shaped like a
// controller-runtime controller:
// - inputs (kernel events, the cluster view's watches) only add the one key (this node) to the work
//   loop, which owns all scheduling (debounce, rate-limited requeue, Retry-After);
// - reconcile() reads a snapshot (the cluster view's caches, the interfaces), plans with the pure core
//   and writes; it returns when it wants to run again (`requeueAfter`: grace expiry, periodic rescan
//   and resync, a write held back from a fight) instead of arming timers of its own;
// - the policy guard is one pure call before the writes (src/core/policy/guard.ts): it reads the
//   view's policies, and their watch events add the key, so held writes are retried when they change;
// - writes come back into the view through the watches; nothing mutates a reflector's cache.
import type { ApiClient } from '../adapters/kube/api-client.ts';
import { errorMessage } from '../core/error-message.ts';
import { CalicoApiUnavailable, apiVersionOf, chooseCalicoApi, type CalicoApiGroup } from '../adapters/kube/calico-api.ts';
import { toWire } from '../adapters/kube/hostendpoints.ts';
import { ReflectorFactory, asFailure } from '../adapters/kube/reflector.ts';
import { policyGuardConfig, type Config } from '../config/schema.ts';
import { backoffDelay } from '../core/backoff.ts';
import type { Clock } from '../core/clock.ts';
import { desiredStateBuilder, type NodeFacts } from '../core/desired.ts';
import { DriftTracker } from '../core/drift-tracker.ts';
import { applyGracePeriod } from '../core/grace.ts';
import type { HostEndpoint, NetInterface } from '../core/model.ts';
import { isManaged } from '../core/ownership.ts';
import { decidePolicyGuard, type PolicySnapshot } from '../core/policy/index.ts';
import { planReconcile, type Action, type Drift, type FieldChange, type ReconcilePlan } from '../core/reconcile.ts';
import type { Logger } from '../logger.ts';
import type { AgentMetrics } from '../observability/metrics.ts';
import { ClusterView, parseHostEndpoint } from './cluster-view.ts';
import type { AgentEvents } from './events.ts';
import { RetryableError, WorkLoop, type ChangeSource, type ReconcileResult, type RunReport } from './work-loop.ts';

/** A source of "the kernel changed" signals (the supervised `ip monitor`). */
export interface KernelEvents {
  start(): void;
  stop(): Promise<void>;
  readonly health: { readonly alive: boolean; readonly restarts: number; readonly downSince: number | undefined };
}

export interface AgentDeps {
  readonly config: Config;
  readonly nodeName: string;
  readonly api: ApiClient;
  readonly discover: () => Promise<NetInterface[]>;
  /** Built by the caller with `onChange` wired to `agent.kernelChanged()`. */
  readonly kernelEvents?: KernelEvents | undefined;
  readonly metrics: AgentMetrics;
  readonly events: AgentEvents;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly random?: (() => number) | undefined;
  readonly version: string;
  /** Watch timeouts of the reflectors (default 300-600 s); tests shorten it. */
  readonly minWatchTimeoutSeconds?: number | undefined;
}

export interface AgentStatus {
  /** The last reconcile succeeded and the Calico API is there. */
  readonly ready: boolean;
  /** Every supervised loop is alive (or restarting within its backoff). */
  readonly live: boolean;
  readonly calicoApi: string | undefined;
  readonly lastError: string | undefined;
  readonly lastSuccessAt: number | undefined;
  /** Resources the API server refuses to this agent (HTTP 403). */
  readonly forbidden: readonly string[];
}

const MAX_CONFLICT_RETRIES = 5;
/** A watch loop with no progress for two full watch timeouts is stuck beyond its supervisor. */
const STUCK_AFTER_MS = 2 * 660_000;
/** The `ip monitor` supervisor down this long (not merely restarting) fails /healthz. */
const MONITOR_DOWN_MS = 120_000;
/**
 * Rewrites of one HEP with the same content: two in a row are free, then each waits (another writer
 * keeps undoing ours). A write of new content (the kernel or the Node changed) starts a new streak.
 */
const FIGHT = { baseMs: 1_000, maxMs: 300_000, resetAfterMs: 600_000, free: 2 };
/** A HEP read by name after a 409 stands in for the view until the watch shows it, at most this long. */
const LOOKUP_TTL_MS = 60_000;

interface Fight {
  count: number;
  lastAt: number;
  notBefore: number;
  /** What the last write wrote (labels, annotations, owners, spec; or "delete"). */
  content: string;
}

/** The content a write puts in the cluster, without the server-owned fields that change on every write. */
function writtenContent(action: Action): string {
  if (action.type === 'delete') return 'delete';
  const { metadata, spec } = action.object;
  return JSON.stringify(['put', metadata.labels ?? {}, metadata.annotations ?? {}, metadata.ownerReferences ?? [], spec]);
}

export class Agent {
  readonly #d: AgentDeps;
  readonly #build: ReturnType<typeof desiredStateBuilder>;
  readonly #drift = new DriftTracker();
  readonly #view: ClusterView;
  readonly #loop: WorkLoop;
  readonly #random: () => number;
  #interfaces: NetInterface[] | undefined;
  #kernelDirty = true;
  #goneSince = new Map<string, number>();
  #lastRescanAt: number | undefined;
  #lastRunAt: number | undefined;
  #warnings = new Set<string>();
  /** HEPs read by name after a write conflict, until the view has them (name -> object, read at). */
  readonly #lookups = new Map<string, { hep: HostEndpoint; at: number }>();
  readonly #fights = new Map<string, Fight>();
  #ready = false;
  #lastError: string | undefined;
  #forbidden: string[] = [];
  #lastSuccessAt: number | undefined;
  #started = false;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.#random = deps.random ?? Math.random;
    this.#build = desiredStateBuilder(deps.config);
    const factory = new ReflectorFactory({
      api: deps.api,
      observer: deps.metrics,
      logger: deps.logger,
      clock: deps.clock,
      random: this.#random,
      onChange: (_resource, reason) => this.#add('cluster', reason),
      minWatchTimeoutSeconds: deps.minWatchTimeoutSeconds,
    });
    this.#view = new ClusterView(factory, deps.nodeName);
    this.#loop = new WorkLoop({
      clock: deps.clock,
      random: this.#random,
      debounceMs: deps.config.intervals.debounceMilliseconds,
      reconcile: (signal) => this.#reconcile(signal),
      onRun: (report) => this.#afterRun(report),
    });
    deps.metrics.health(() => {
      const s = this.status();
      const h = deps.kernelEvents?.health;
      return { monitorUp: h?.alive ?? false, monitorRestarts: h?.restarts ?? 0, forbidden: s.forbidden };
    });
  }

  /** Counters of the loop, for tests and benchmarks. */
  get stats(): WorkLoop['stats'] & { discoveries: number } {
    return { ...this.#loop.stats, discoveries: this.#discoveries };
  }

  #discoveries = 0;

  /** A reconcile is running now. */
  get busy(): boolean {
    return this.#loop.busy;
  }

  status(): AgentStatus {
    const now = this.#d.clock.now();
    const reflectorsLive = this.#view.all.every((r) => r.lastProgressAt === 0 || now - r.lastProgressAt < STUCK_AFTER_MS);
    const h = this.#d.kernelEvents?.health;
    const monitorLive = h === undefined || h.alive || h.downSince === undefined || now - h.downSince < MONITOR_DOWN_MS;
    const forbidden = [...new Set([...this.#forbidden, ...this.#view.all.filter((r) => r.lastError?.code === 403).map((r) => r.resource)])].sort();
    const calico = this.#view.calico;
    return {
      ready: this.#ready && calico !== undefined && forbidden.length === 0,
      live: !this.#loop.stopped && reflectorsLive && monitorLive,
      calicoApi: calico !== undefined ? apiVersionOf(calico) : undefined,
      lastError:
        forbidden.length > 0 && this.#lastError?.includes('403') !== true
          ? `forbidden (RBAC) on ${forbidden.join(', ')}${this.#lastError !== undefined ? `; ${this.#lastError}` : ''}`
          : this.#lastError,
      lastSuccessAt: this.#lastSuccessAt,
      forbidden,
    };
  }

  start(): void {
    if (this.#started) return;
    this.#started = true;
    const { nodeName, logger, metrics, version } = this.#d;
    metrics.info(version, 'none', this.#mode());
    this.#view.start();
    this.#d.kernelEvents?.start();
    logger.info({ node: nodeName, mode: this.#mode() }, 'agent started');
    this.#add('start', 'start');
  }

  /** The kernel reported a change on a selectable interface: rediscover, then reconcile. */
  kernelChanged(reason = 'kernel event'): void {
    this.#kernelDirty = true;
    this.#add('kernel', reason);
  }

  /** Stops every loop, skips the remaining writes of a reconcile in progress, leaves every HEP in place. */
  async stop(): Promise<void> {
    await Promise.allSettled([this.#loop.stop(), this.#view.stop(), this.#d.kernelEvents?.stop()]);
  }

  #add(source: ChangeSource, reason: string): void {
    this.#d.logger.debug({ reason }, 'reconcile triggered');
    this.#loop.add(source);
  }

  #mode(): string {
    return this.#d.config.dryRun ? 'dry-run' : this.#d.config.mode;
  }

  #afterRun(report: RunReport): void {
    const { clock, metrics, logger } = this.#d;
    const now = clock.now();
    const duration = this.#lastRunAt !== undefined ? now - this.#lastRunAt : 0;
    metrics.reconciled(report.result, duration, now);
    if (report.result === 'success') {
      this.#ready = true;
      this.#lastError = undefined;
      this.#forbidden = [];
      this.#lastSuccessAt = now;
      if (report.changedSince !== undefined) metrics.converged(now - report.changedSince);
    } else if (report.result === 'error') {
      const err = report.error;
      this.#lastError = errorMessage(err);
      if (err instanceof CalicoApiUnavailable || (err instanceof RetryableError && err.forbidden)) this.#ready = false;
      const log = err instanceof RetryableError && err.forbidden ? logger.error.bind(logger) : logger.warn.bind(logger);
      log({ err, retryInMs: report.nextInMs }, 'reconcile failed');
    }
  }

  /** Chooses the Calico API once (discovery), then starts the Calico part of the view. */
  async #ensureCalicoApi(signal: AbortSignal): Promise<CalicoApiGroup> {
    const known = this.#view.calico;
    if (known !== undefined) return known;
    const { config, metrics, logger, api } = this.#d;
    let served: Set<string>;
    try {
      const doc = (await api.get('/apis', { signal })) as { groups?: { versions?: { groupVersion?: string }[] }[] };
      served = new Set();
      for (const g of doc.groups ?? []) for (const v of g.versions ?? []) if (typeof v.groupVersion === 'string') served.add(v.groupVersion);
    } catch (err) {
      throw this.#apiError('API discovery', err, 'apis');
    }
    const calico = chooseCalicoApi(served, config.apiGroup);
    this.#view.startCalico(calico);
    metrics.info(this.#d.version, apiVersionOf(calico), this.#mode());
    logger.info({ calicoApi: apiVersionOf(calico) }, 'using Calico API');
    return calico;
  }

  /** Current interfaces; `trusted` is false when they must not justify deletions. */
  async #interfacesNow(): Promise<{ interfaces: NetInterface[]; trusted: boolean }> {
    const now = this.#d.clock.now();
    if (this.#lastRescanAt === undefined || now - this.#lastRescanAt >= this.#d.config.intervals.rescanSeconds * 1000) this.#kernelDirty = true;
    if (this.#kernelDirty || this.#interfaces === undefined) {
      this.#kernelDirty = false;
      this.#lastRescanAt = now;
      this.#discoveries++;
      try {
        this.#interfaces = await this.#d.discover();
      } catch (err) {
        this.#kernelDirty = true;
        if (this.#interfaces === undefined) throw new RetryableError(`interface discovery failed: ${errorMessage(err)}`, { cause: err });
        this.#d.logger.error({ err }, 'interface discovery failed; keeping the last known interfaces, deleting nothing');
        return { interfaces: this.#interfaces, trusted: false };
      }
    }
    // An empty list is far more likely a broken netlink view than a node without interfaces.
    return { interfaces: this.#interfaces, trusted: this.#interfaces.length > 0 };
  }

  /** Required reflectors not listed yet: an error naming a failing one, else 'skipped' (their list adds work). */
  #notSynced(): RetryableError | 'skipped' | undefined {
    const pending = this.#view.required().filter((r) => !r.synced);
    if (pending.length === 0) return undefined;
    const failing = pending.find((r) => r.lastError !== undefined);
    if (failing === undefined) return 'skipped';
    const f = failing.lastError!;
    const forbidden = pending.filter((r) => r.lastError?.code === 403).map((r) => r.resource);
    return new RetryableError(
      `listing ${failing.resource}: ${f.code === 0 ? 'no response' : `HTTP ${f.code}`}${f.reason !== undefined ? ` ${f.reason}` : ''}: ${f.message}`,
      { retryAfterSeconds: f.retryAfterSeconds, forbidden: forbidden.length > 0 },
    );
  }

  async #reconcile(signal: AbortSignal): Promise<ReconcileResult | 'skipped'> {
    const { config, nodeName, metrics, logger, clock } = this.#d;
    this.#lastRunAt = clock.now();
    const calico = await this.#ensureCalicoApi(signal);
    const node = this.#view.nodeObject;
    if (node !== undefined) this.#view.startAutoHostEndpoints(node);
    const notSynced = this.#notSynced();
    if (notSynced === 'skipped') return 'skipped';
    if (notSynced !== undefined) throw notSynced;
    if (node === undefined) {
      // Without the Node there is no owner for the HEPs (GC would delete them) and no labels: wait.
      throw new RetryableError(`Node ${nodeName} not found`);
    }
    const facts: NodeFacts = { name: nodeName, labels: node.metadata.labels, uid: node.metadata.uid };
    const { interfaces, trusted } = await this.#interfacesNow();

    let plan: ReconcilePlan | undefined;
    let graceAt: number | undefined;
    let heldUntil: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const now = clock.now();
      const state = this.#build(facts, interfaces);
      this.#logWarnings(state.warnings);
      const managed = this.#managedNow(now);
      // Grace for every interface that stops wanting a HEP: gone from the node or no longer selected.
      const grace = applyGracePeriod({
        hepInterfaces: managed.map((h) => h.spec.interfaceName ?? ''),
        wanted: new Set(state.hostEndpoints.map((h) => h.spec.interfaceName ?? '')),
        goneSince: this.#goneSince,
        now,
        graceMs: config.intervals.removalGraceSeconds * 1000,
      });
      this.#goneSince = grace.goneSince;
      graceAt = grace.nextExpiryAt;
      const others = this.#others(state.hostEndpoints, managed);
      // policy guard: ONE pure call (src/core/policy/guard.ts) decides which creates and label/profile
      // changes are held, and why; planReconcile reports them as drift kind `policy-held`.
      const guard = decidePolicyGuard({
        desired: state.hostEndpoints,
        current: [...managed, ...others],
        snapshot: this.#policySnapshot(),
        config: policyGuardConfig(config),
        node: { name: nodeName, labels: facts.labels },
      });
      plan = planReconcile({
        nodeName,
        desired: state.hostEndpoints,
        managed,
        others,
        adopt: config.adopt,
        held: grace.held,
        allowDeletes: trusted,
        policyHeld: guard.held,
        maxDeleteFraction: config.safety.maxDeleteFraction,
      });
      metrics.state({
        desired: state.hostEndpoints.length,
        actual: managed.length,
        interfacesSeen: state.interfacesSeen,
        interfacesSelected: state.interfacesSelected,
        expectedIps: state.hostEndpoints.reduce((n, h) => n + (h.spec.expectedIPs?.length ?? 0), 0),
      });
      const update = this.#drift.update(plan.drift, now);
      metrics.drift(update.countByKind, update.appeared, update.oldestAgeMs);
      // policy guard: holds on traffic grounds get a warning and a Node Event; holds while the policies
      // are still being listed only an info line.
      const wouldDrop = new Map([...guard.held.values()].filter((h) => h.reason === 'would-drop').map((h) => [h.interfaceName, h]));
      for (const d of update.appeared) {
        const hold = d.kind === 'policy-held' ? wouldDrop.get(d.interfaceName ?? '') : undefined;
        const fields = { drift: d.kind, hostEndpoint: d.name, interface: d.interfaceName, changes: d.changes, ...(hold ? { policies: hold.policies } : {}) };
        if (d.kind === 'policy-held' && hold === undefined) logger.info(fields, d.detail);
        else logger.warn(fields, d.detail);
        if (d.kind === 'conflict') this.#d.events.conflict(d);
        if (hold !== undefined) this.#d.events.policyHeld(d);
      }
      if (config.mode === 'audit' || plan.actions.length === 0) break;
      const outcome = await this.#execute(calico, plan.actions, managed, signal);
      heldUntil = outcome.heldUntil;
      if (!outcome.replan) {
        if (!config.dryRun) {
          // Repaired drift is gone now, not when our own write's watch event comes back.
          const repaired = new Set(outcome.done.map((a) => a.repairs));
          const rest = this.#drift.update(
            plan.drift.filter((d) => !repaired.has(d)),
            clock.now(),
          );
          metrics.drift(rest.countByKind, rest.appeared, rest.oldestAgeMs);
        }
        break;
      }
      if (signal.aborted) break;
      if (attempt >= MAX_CONFLICT_RETRIES) throw new RetryableError('conflicting writes: giving up for now');
    }
    // The writes the guard allowed went out; a policy list refused with 403 still fails the pass, so
    // the RBAC problem is logged at error level, counted as a failed reconcile and retried.
    const denied = this.#view.policyReflectors.filter((r) => !r.synced && r.lastError?.code === 403).map((r) => r.resource);
    if (denied.length > 0) {
      throw new RetryableError(
        `listing ${denied.join(', ')}: HTTP 403: the policy guard holds every write that changes labels or profiles until it can read them`,
        {
          forbidden: true,
        },
      );
    }
    return { requeueAfter: this.#requeueAfter(graceAt, heldUntil) };
  }

  /** The next time this node's state needs a look without any event. */
  #requeueAfter(graceAt: number | undefined, heldUntil: number | undefined): number {
    const { config, clock } = this.#d;
    const now = clock.now();
    const due = [
      (this.#lastRescanAt ?? now) + config.intervals.rescanSeconds * 1000,
      // A resync replays the view's caches (no API request): drift the watches missed gets repaired.
      now + config.intervals.resyncSeconds * 1000,
    ];
    if (graceAt !== undefined) due.push(graceAt + 10);
    if (heldUntil !== undefined) due.push(heldUntil);
    return Math.max(0, Math.min(...due) - now);
  }

  /** This node's managed HEPs: the view, plus HEPs read by name after a conflict that the view lacks. */
  #managedNow(now: number): HostEndpoint[] {
    const managed = [...this.#view.managed];
    const names = new Set(managed.map((h) => h.metadata.name));
    for (const [name, { hep, at }] of this.#lookups) {
      if (names.has(name) || this.#view.unmanagedByName(name) !== undefined || now - at > LOOKUP_TTL_MS) {
        this.#lookups.delete(name);
        continue;
      }
      // Ours by label but invisible to the managed watch (e.g. someone removed our node label): ours to repair.
      if (isManaged(hep.metadata.labels) && hep.spec.node === this.#d.nodeName) managed.push(hep);
    }
    return managed;
  }

  /**
   * Unmanaged HEPs that govern one of this node's interfaces (same node and interfaceName; an
   * expectedIPs-only HEP of this node whose IPs are a desired HEP's; Calico's per-interface auto HEPs),
   * and any unmanaged HEP holding a desired name.
   */
  #others(desired: readonly HostEndpoint[], managed: readonly HostEndpoint[]): HostEndpoint[] {
    const out = new Map<string, HostEndpoint>();
    for (const h of this.#view.unmanagedOfNode) out.set(h.metadata.name, h);
    const covered = new Set(managed.map((h) => h.metadata.name));
    for (const want of desired) {
      if (covered.has(want.metadata.name)) continue;
      const holder = this.#view.unmanagedByName(want.metadata.name) ?? this.#lookups.get(want.metadata.name)?.hep;
      if (holder !== undefined && !(isManaged(holder.metadata.labels) && holder.spec.node === this.#d.nodeName)) out.set(holder.metadata.name, holder);
    }
    return [...out.values()];
  }

  /**
   * policy guard: what it evaluates, from the view. Until all of GlobalNetworkPolicies, staged ones,
   * Tiers and FelixConfigurations are listed (or known not served), `undefined`: the guard then holds
   * every write that changes labels or profiles. Staged policies are listed but not evaluated (Felix
   * does not enforce them).
   */
  #policySnapshot(): PolicySnapshot | undefined {
    const p = this.#view.policies;
    if (!p.synced) return undefined;
    return { globalNetworkPolicies: p.globalNetworkPolicies, tiers: p.tiers, felixConfigurations: p.felixConfigurations };
  }

  /** Each distinct warning once while it lasts (not on every reconcile); logged again if it comes back. */
  #logWarnings(warnings: readonly string[]): void {
    const now = new Set(warnings);
    for (const w of now) if (!this.#warnings.has(w)) this.#d.logger.warn({}, w);
    this.#warnings = now;
  }

  /**
   * Applies the writes, skipping the rest once `signal` aborts (SIGTERM). A HEP written again and
   * again (another writer undoing ours) waits with growing backoff instead of one write per change.
   */
  async #execute(
    calico: CalicoApiGroup,
    actions: readonly Action[],
    managed: readonly HostEndpoint[],
    signal: AbortSignal,
  ): Promise<{ replan: boolean; done: Action[]; heldUntil: number | undefined }> {
    const { logger, metrics, config, clock, api } = this.#d;
    const collection = `/apis/${apiVersionOf(calico)}/hostendpoints`;
    const done: Action[] = [];
    let replan = false;
    let heldUntil: number | undefined;
    for (const action of actions) {
      if (signal.aborted) {
        logger.info({ skipped: actions.length - done.length }, 'stopping: remaining writes skipped');
        break;
      }
      const name = action.type === 'delete' ? action.name : action.object.metadata.name;
      const what = describeWrite(action, managed);
      if (config.dryRun) {
        logger.info({ dryRun: true, action: action.type, hostEndpoint: name, drift: action.repairs.kind, ...what }, `would ${action.type} HostEndpoint`);
        continue;
      }
      const now = clock.now();
      const fight = this.#fights.get(name);
      if (fight !== undefined && fight.notBefore > now) {
        heldUntil = Math.min(heldUntil ?? Infinity, fight.notBefore);
        continue;
      }
      try {
        if (action.type === 'create') {
          const body = toWire(action.object, calico);
          delete body.metadata.resourceVersion;
          await api.create(collection, body, { signal });
        } else if (action.type === 'update') {
          await api.replace(`${collection}/${name}`, toWire(action.object, calico), { signal });
        } else {
          try {
            await api.delete(`${collection}/${name}`, { resourceVersion: action.resourceVersion }, { signal });
          } catch (err) {
            if (asFailure(err).code !== 404) throw err; // already gone: the goal is reached
          }
        }
        done.push(action);
        this.#lookups.delete(name);
        this.#recordWrite(name, writtenContent(action), now);
        metrics.repaired(action.repairs.kind);
        logger.info({ action: action.type, hostEndpoint: name, drift: action.repairs.kind, ...what }, `${action.type}d HostEndpoint`);
        this.#d.events.wrote(action);
      } catch (err) {
        const f = asFailure(err);
        if (signal.aborted) break;
        if (f.code === 409 || (f.code === 404 && action.type === 'update')) {
          // Our view is behind (or someone holds the name): read the object, then plan again.
          logger.info({ action: action.type, hostEndpoint: name, reason: f.reason }, 'write conflict: re-reading');
          await this.#lookUp(collection, name, calico, signal);
          replan = true;
          continue;
        }
        throw this.#apiError(`${action.type} HostEndpoint ${name}`, err, 'hostendpoints');
      }
    }
    return { replan, done, heldUntil };
  }

  async #lookUp(collection: string, name: string, calico: CalicoApiGroup, signal: AbortSignal): Promise<void> {
    const { api, clock } = this.#d;
    try {
      const raw = await api.get(`${collection}/${name}`, { signal });
      const hep = parseHostEndpoint(raw, calico);
      if (hep !== undefined) this.#lookups.set(name, { hep, at: clock.now() });
    } catch (err) {
      const f = asFailure(err);
      if (f.code === 404) {
        this.#lookups.delete(name);
        return;
      }
      throw this.#apiError(`re-reading HostEndpoint ${name}`, err, 'hostendpoints');
    }
  }

  /**
   * Counts rewrites of the same content per HEP; from the third in a streak on, the next one waits with
   * growing backoff. New content (our desired state changed) is not a fight: the streak restarts.
   */
  #recordWrite(name: string, content: string, now: number): void {
    let f = this.#fights.get(name);
    if (f === undefined || now - f.lastAt >= FIGHT.resetAfterMs || f.content !== content) f = { count: 0, lastAt: now, notBefore: now, content };
    f.count++;
    f.lastAt = now;
    f.notBefore = f.count < FIGHT.free ? now : now + backoffDelay(f.count - FIGHT.free + 1, FIGHT, this.#random());
    if (f.count === FIGHT.free + 1) {
      this.#d.logger.warn(
        { hostEndpoint: name, writes: f.count, nextInMs: f.notBefore - now },
        'HostEndpoint rewritten again and again: another writer is changing it; backing off',
      );
    }
    this.#fights.set(name, f);
    for (const [k, v] of this.#fights) if (now - v.lastAt >= FIGHT.resetAfterMs) this.#fights.delete(k);
  }

  #apiError(what: string, err: unknown, resource: string): RetryableError {
    const f = asFailure(err);
    if (f.code === 403 && !this.#forbidden.includes(resource)) this.#forbidden.push(resource);
    return new RetryableError(`${what}: ${f.code === 0 ? 'no response' : `HTTP ${f.code}`}${f.reason !== undefined ? ` ${f.reason}` : ''}: ${f.message}`, {
      retryAfterSeconds: f.retryAfterSeconds,
      forbidden: f.code === 403,
      cause: err,
    });
  }
}

/** What a write changes, for its log line: a create's and a delete's whole HEP, an update's field diff. */
function describeWrite(action: Action, managed: readonly HostEndpoint[]): Record<string, unknown> {
  if (action.type === 'create') {
    const o = action.object;
    return { interface: o.spec.interfaceName, expectedIPs: o.spec.expectedIPs ?? [], profiles: o.spec.profiles ?? [], labels: o.metadata.labels ?? {} };
  }
  if (action.type === 'delete') {
    const o = managed.find((h) => h.metadata.name === action.name);
    return { interface: o?.spec.interfaceName, expectedIPs: o?.spec.expectedIPs ?? [], resourceVersion: action.resourceVersion, reason: action.repairs.detail };
  }
  return { diff: fieldDiff(action.repairs.changes) };
}

/** A compact field-level diff for logs: `{ "spec.expectedIPs": { from, to } }`. */
export function fieldDiff(changes: readonly FieldChange[]): Record<string, { from: unknown; to: unknown }> {
  const out: Record<string, { from: unknown; to: unknown }> = {};
  for (const c of changes) out[c.path] = { from: c.from, to: c.to };
  return out;
}

export type { Drift };
