// What the Kubernetes adapters report about their own work; the metrics module implements it.
// An interface rather than prom-client calls here, so adapters stay testable and metric-agnostic.

export type ApiVerb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface ApiObserver {
  /** One API request finished: HTTP code, or 0 when no response came (refused, reset, timeout). */
  request(verb: ApiVerb, resource: string, code: number): void;
  /** A watch had to be re-established after an error (not after a normal server-side close). */
  watchRestart(resource: string): void;
}

export const NO_OBSERVER: ApiObserver = { request() {}, watchRestart() {} };
