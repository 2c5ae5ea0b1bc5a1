// Kubernetes Events on the agent's Node, so `kubectl describe node` shows what the agent did.
// Like client-go's recorder: repeated events are aggregated (count++ on the existing Event), a
// token bucket limits the rate, and a failure to record never blocks or fails a reconcile.
import { CoreV1Api, PatchStrategy, setHeaderOptions, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node';
import { observed } from '../adapters/kube/calls.ts';
import type { ApiObserver } from '../adapters/kube/observer.ts';
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
  readonly #api: CoreV1Api;
  readonly #nodeName: string;
  readonly #observer: ApiObserver;
  readonly #logger: Logger;
  readonly #clock: Clock;
  #tokens = BURST;
  #refilledAt: number;
  readonly #recent = new Map<string, Recorded>();
  #queue: Promise<void> = Promise.resolve();
  dropped = 0;

  constructor(kc: KubeConfig, nodeName: string, deps: { observer: ApiObserver; logger: Logger; clock: Clock }) {
    this.#api = kc.makeApiClient(CoreV1Api);
    this.#nodeName = nodeName;
    this.#observer = deps.observer;
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
    this.#queue = this.#queue.then(() => this.#send(type, reason, message)).catch((err: unknown) => {
      this.#logger.warn({ err: String(err), reason }, 'could not record a Kubernetes Event');
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
        await observed(this.#observer, 'patch', 'events', () =>
          // client-node sends JSON-patch by default; a count bump is a merge patch.
          this.#api.patchNamespacedEvent(
            { name: previous.name, namespace: EVENT_NAMESPACE, body: patch },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
        );
        return;
      } catch {
        // The Event expired or was deleted: create a new one below.
      }
    }
    const event: CoreV1Event = {
      metadata: { generateName: `${this.#nodeName}.`, namespace: EVENT_NAMESPACE },
      // uid = node name: the kubelet's convention for Node events, which `kubectl describe node` searches by.
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: this.#nodeName, uid: this.#nodeName },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: COMPONENT, host: this.#nodeName },
      reportingComponent: COMPONENT,
      reportingInstance: this.#nodeName,
      firstTimestamp: timestamp,
      lastTimestamp: timestamp,
      count: 1,
    };
    const created = await observed(this.#observer, 'create', 'events', () =>
      this.#api.createNamespacedEvent({ namespace: EVENT_NAMESPACE, body: event }),
    );
    this.#recent.set(key, { name: created.metadata?.name ?? '', count: 1, lastAt: now });
    // Bounded memory: forget aggregation keys older than the window.
    for (const [k, r] of this.#recent) if (now - r.lastAt > AGGREGATE_WINDOW_MS) this.#recent.delete(k);
  }
}
