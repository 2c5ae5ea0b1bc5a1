// The agent's Prometheus metrics, on a Registry the caller owns (never prom-client's global one).
// Names follow Prometheus conventions: one prefix, base units (seconds), `_total` for counters,
// labels bounded to small fixed sets (kind, result, verb, code, resource).
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApiObserver, ApiVerb } from '../adapters/kube/observer.ts';
import { DRIFT_KINDS, type DriftKind } from '../core/reconcile.ts';
import { registerProcessMetrics } from './process-metrics.ts';

export const METRIC_PREFIX = 'calico_hep_agent_';

export type ReconcileResult = 'success' | 'error' | 'skipped';

export interface StateSnapshot {
  readonly desired: number;
  readonly actual: number;
  readonly interfacesSeen: number;
  readonly interfacesSelected: number;
  readonly expectedIps: number;
}

export class AgentMetrics implements ApiObserver {
  readonly registry: Registry;
  readonly #drift: Gauge<'kind'>;
  readonly #driftDetected: Counter<'kind'>;
  readonly #driftRepaired: Counter<'kind'>;
  readonly #driftOldest: Gauge;
  readonly #hepsDesired: Gauge;
  readonly #hepsActual: Gauge;
  readonly #ifacesSeen: Gauge;
  readonly #ifacesSelected: Gauge;
  readonly #expectedIps: Gauge;
  readonly #reconciles: Counter<'result'>;
  readonly #reconcileDuration: Histogram;
  readonly #lastSuccess: Gauge;
  readonly #apiRequests: Counter<'verb' | 'resource' | 'code'>;
  readonly #watchRestarts: Counter<'resource'>;
  readonly #convergence: Histogram;
  readonly #info: Gauge<'version' | 'calico_api' | 'mode'>;

  constructor(registry: Registry, opts: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    const p = METRIC_PREFIX;
    const registers = [registry];
    // Process metrics (CPU, RSS, fds, start time, heap), not prom-client's whole default set.
    if (opts.defaultMetrics !== false) registerProcessMetrics(registry, p);
    this.#drift = new Gauge({ name: `${p}drift`, help: 'Current drift between desired and actual HostEndpoints, by kind.', labelNames: ['kind'], registers });
    this.#driftDetected = new Counter({
      name: `${p}drift_detected_total`,
      help: 'Drift occurrences detected, by kind (each counted once when it appears).',
      labelNames: ['kind'],
      registers,
    });
    this.#driftRepaired = new Counter({
      name: `${p}drift_repaired_total`,
      help: 'Drift repaired by a successful write, by kind.',
      labelNames: ['kind'],
      registers,
    });
    this.#driftOldest = new Gauge({ name: `${p}drift_oldest_seconds`, help: 'How long the oldest current drift has lasted; 0 when there is none.', registers });
    this.#hepsDesired = new Gauge({ name: `${p}host_endpoints_desired`, help: 'HostEndpoints this node should have.', registers });
    this.#hepsActual = new Gauge({ name: `${p}host_endpoints_actual`, help: "This node's managed HostEndpoints in the cluster.", registers });
    this.#ifacesSeen = new Gauge({ name: `${p}interfaces_seen`, help: 'Network interfaces discovered on the node.', registers });
    this.#ifacesSelected = new Gauge({ name: `${p}interfaces_selected`, help: 'Interfaces selected for a HostEndpoint.', registers });
    this.#expectedIps = new Gauge({ name: `${p}expected_ips`, help: 'expectedIPs summed over the desired HostEndpoints.', registers });
    this.#reconciles = new Counter({ name: `${p}reconciles_total`, help: 'Reconcile runs, by result.', labelNames: ['result'], registers });
    this.#reconcileDuration = new Histogram({
      name: `${p}reconcile_duration_seconds`,
      help: 'Duration of reconcile runs.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#lastSuccess = new Gauge({ name: `${p}last_successful_reconcile_timestamp_seconds`, help: 'Unix time of the last successful reconcile.', registers });
    this.#apiRequests = new Counter({
      name: `${p}api_requests_total`,
      help: 'Kubernetes API requests, by verb, resource and HTTP code (0: no response).',
      labelNames: ['verb', 'resource', 'code'],
      registers,
    });
    this.#watchRestarts = new Counter({
      name: `${p}watch_restarts_total`,
      help: 'Watches re-established after an error, by resource.',
      labelNames: ['resource'],
      registers,
    });
    this.#convergence = new Histogram({
      name: `${p}convergence_latency_seconds`,
      help: 'From detecting a change (kernel, Node or HostEndpoint event) to the HostEndpoints being correct in the API.',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.#info = new Gauge({
      name: `${p}build_info`,
      help: 'Always 1; labels say the version, the Calico API in use and the mode.',
      labelNames: ['version', 'calico_api', 'mode'],
      registers,
    });
    for (const kind of DRIFT_KINDS) {
      this.#drift.set({ kind }, 0);
      this.#driftDetected.inc({ kind }, 0);
      this.#driftRepaired.inc({ kind }, 0);
    }
    for (const result of ['success', 'error', 'skipped'] as const) this.#reconciles.inc({ result }, 0);
  }

  request(verb: ApiVerb, resource: string, code: number): void {
    this.#apiRequests.inc({ verb, resource, code: String(code) });
  }

  watchRestart(resource: string): void {
    this.#watchRestarts.inc({ resource });
  }

  info(version: string, calicoApi: string, mode: string): void {
    this.#info.reset();
    this.#info.set({ version, calico_api: calicoApi, mode }, 1);
  }

  drift(countByKind: Record<DriftKind, number>, appeared: readonly { kind: DriftKind }[], oldestAgeMs: number): void {
    for (const kind of DRIFT_KINDS) this.#drift.set({ kind }, countByKind[kind]);
    for (const d of appeared) this.#driftDetected.inc({ kind: d.kind });
    this.#driftOldest.set(oldestAgeMs / 1000);
  }

  repaired(kind: DriftKind): void {
    this.#driftRepaired.inc({ kind });
  }

  state(s: StateSnapshot): void {
    this.#hepsDesired.set(s.desired);
    this.#hepsActual.set(s.actual);
    this.#ifacesSeen.set(s.interfacesSeen);
    this.#ifacesSelected.set(s.interfacesSelected);
    this.#expectedIps.set(s.expectedIps);
  }

  reconciled(result: ReconcileResult, durationMs: number, nowMs: number): void {
    this.#reconciles.inc({ result });
    if (result !== 'skipped') this.#reconcileDuration.observe(durationMs / 1000);
    if (result === 'success') this.#lastSuccess.set(nowMs / 1000);
  }

  converged(latencyMs: number): void {
    this.#convergence.observe(latencyMs / 1000);
  }

  /**
   * Health read at scrape time: the `ip monitor` supervisor (up, restarts) and the resources the API
   * refuses to this agent (403), so an RBAC gap is named in the metrics, not only in the logs.
   */
  health(source: () => HealthSnapshot): void {
    const registers = [this.registry];
    const p = 'calico_hep_agent_';
    new Gauge({
      name: `${p}netlink_monitor_up`,
      help: '1 while the ip monitor child runs; 0 while it is being restarted (or cannot start).',
      registers,
      collect() {
        this.set(source().monitorUp ? 1 : 0);
      },
    });
    new Gauge({
      name: `${p}netlink_monitor_restarts`,
      help: 'Times the ip monitor child was restarted since the agent started.',
      registers,
      collect() {
        this.set(source().monitorRestarts);
      },
    });
    new Gauge({
      name: `${p}api_forbidden`,
      help: '1 for each resource the API server refuses to this agent (HTTP 403: RBAC).',
      labelNames: ['resource'],
      registers,
      collect() {
        this.reset();
        for (const resource of source().forbidden) this.set({ resource }, 1);
      },
    });
  }
}

export interface HealthSnapshot {
  readonly monitorUp: boolean;
  readonly monitorRestarts: number;
  readonly forbidden: readonly string[];
}
