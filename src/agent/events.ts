// Kubernetes Events on the agent's Node, so `kubectl describe node` shows what the agent did.
// Like client-go's recorder: repeated events are aggregated (count++ on the existing Event), a
// token bucket limits the rate, and a failure to record never blocks or fails a reconcile.
import type { ApiClient } from '../adapters/kube/api-client.ts';
import type { Clock } from '../core/clock.ts';
import type { Action, Drift } from '../core/reconcile.ts';
import type { Logger } from '../logger.ts';

export interface AgentEvents {
  wrote(action: Action): void;
  conflict(drift: Drift): void;
  /** policy guard: a write held because it would drop traffic allowed today (drift kind policy-held). */
  policyHeld(drift: Drift): void;
}

export const NO_EVENTS: AgentEvents = { wrote() {}, conflict() {}, policyHeld() {} };

/** Node events live in `default`, as the kubelet's do. */
const EVENT_NAMESPACE = 'default';
const EVENTS_PATH = `/api/v1/namespaces/${EVENT_NAMESPACE}/events`;
const COMPONENT = 'calico-hep-agent';
const BURST = 25;
const REFILL_MS = 10_000;
const AGGREGATE_WINDOW_MS = 10 * 60_000;

interface Recorded {
  name: string;
  count: number;
  lastAt: number;
}

export class NodeEventRecorder implements AgentEvents {
  readonly #api: ApiClient;
  readonly #nodeName: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  #tokens = BURST;
  #refilledAt: number;
  readonly #recent = new Map<string, Recorded>();
  #queue: Promise<void> = Promise.resolve();
  dropped = 0;

  /** Requests are reported to metrics by the ApiClient itself. */
  constructor(api: ApiClient, nodeName: string, deps: { logger: Logger; clock: Clock }) {
    this.#api = api;
    this.#nodeName = nodeName;
    this.#logger = deps.logger;
    this.#clock = deps.clock;
    this.#refilledAt = deps.clock.now();
  }

  wrote(action: Action): void {
    const name = action.type === 'delete' ? action.name : action.object.metadata.name;
    const reason = { create: 'HostEndpointCreated', update: 'HostEndpointUpdated', delete: 'HostEndpointDeleted' }[action.type];
    const repaired = action.repairs.kind === 'missing' ? '' : ` (repaired ${action.repairs.kind} drift: ${action.repairs.detail})`;
    this.#record('Normal', reason, `${action.type}d HostEndpoint ${name}${repaired}`);
  }

  conflict(drift: Drift): void {
    this.#record('Warning', 'HostEndpointConflict', drift.detail);
  }

  policyHeld(drift: Drift): void {
    this.#record('Warning', 'HostEndpointHeldByPolicyGuard', drift.detail);
  }

  /** Resolves when every queued event has been sent (or dropped); for tests and shutdown. */
  flush(): Promise<void> {
    return this.#queue;
  }

  #take(now: number): boolean {
    const refill = Math.floor((now - this.#refilledAt) / REFILL_MS);
    if (refill > 0) {
      this.#tokens = Math.min(BURST, this.#tokens + refill);
      this.#refilledAt += refill * REFILL_MS;
    }
    if (this.#tokens <= 0) return false;
    this.#tokens--;
    return true;
  }

  #record(type: 'Normal' | 'Warning', reason: string, message: string): void {
    this.#queue = this.#queue
      .then(() => this.#send(type, reason, message))
      .catch((err: unknown) => {
        this.#logger.warn({ err, reason }, 'could not record a Kubernetes Event');
      });
  }

  async #send(type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const now = this.#clock.now();
    const key = `${type}/${reason}/${message}`;
    const previous = this.#recent.get(key);
    if (!this.#take(now)) {
      this.dropped++;
      return;
    }
    const timestamp = new Date(now);
    if (previous !== undefined && now - previous.lastAt < AGGREGATE_WINDOW_MS) {
      previous.count++;
      previous.lastAt = now;
      const patch = { count: previous.count, lastTimestamp: timestamp.toISOString() };
      try {
        // A JSON merge patch: the count bump needs no strategic merge.
        await this.#api.patch(`${EVENTS_PATH}/${encodeURIComponent(previous.name)}`, patch);
        return;
      } catch {
        // The Event expired or was deleted: create a new one below.
      }
    }
    const event = {
      metadata: { generateName: `${this.#nodeName}.`, namespace: EVENT_NAMESPACE },
      // uid = node name: the kubelet's convention for Node events, which `kubectl describe node` searches by.
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: this.#nodeName, uid: this.#nodeName },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: COMPONENT, host: this.#nodeName },
      reportingComponent: COMPONENT,
      reportingInstance: this.#nodeName,
      firstTimestamp: timestamp.toISOString(),
      lastTimestamp: timestamp.toISOString(),
      count: 1,
    };
    const created = (await this.#api.create(EVENTS_PATH, event)) as { metadata?: { name?: unknown } } | null;
    const createdName = created?.metadata?.name;
    this.#recent.set(key, { name: typeof createdName === 'string' ? createdName : '', count: 1, lastAt: now });
    // Bounded memory: forget aggregation keys older than the window.
    for (const [k, r] of this.#recent) if (now - r.lastAt > AGGREGATE_WINDOW_MS) this.#recent.delete(k);
  }
}
