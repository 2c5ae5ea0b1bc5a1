// The agent's whole use of the Kubernetes API: plain JSON over API paths. The production
// implementation speaks HTTPS with node:https and one keep-alive pool (http-client.ts); tests may
// implement it in memory. Callers above the kube adapter never see HTTP.

/** A failed request, normalised: the fields decide how a caller reacts (409 re-read, 410 relist, ...). */
export interface ApiFailure {
  /** HTTP status; 0 when no response arrived (refused, reset, TLS, timeout); the cause is in `message`. */
  readonly code: number;
  /** Status.reason, e.g. `Conflict`, `AlreadyExists`, `NotFound`, `Expired`, `Invalid`, `Forbidden`. */
  readonly reason: string | undefined;
  readonly message: string;
  /** Seconds from Retry-After (429/503), when the server sent it. */
  readonly retryAfterSeconds: number | undefined;
}

export interface RequestOptions {
  /** Aborts the request (or the watch stream); an aborted watch resolves, an aborted request rejects. */
  readonly signal?: AbortSignal | undefined;
}

export interface ListQuery {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly limit?: number | undefined;
  readonly continue?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly resourceVersionMatch?: 'NotOlderThan' | 'Exact' | undefined;
}

export interface ListPage {
  readonly items: unknown[];
  readonly resourceVersion: string;
  /** The continue token of the next page; undefined on the last page. */
  readonly continue: string | undefined;
}

export interface WatchQuery {
  readonly labelSelector?: string | undefined;
  readonly fieldSelector?: string | undefined;
  readonly resourceVersion: string;
  /** Server-side timeout; the client allows the stream to stay quiet this long (plus a margin). */
  readonly timeoutSeconds: number;
  readonly allowWatchBookmarks?: boolean | undefined;
}

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  readonly type: WatchEventType;
  /** The object; for ERROR a metav1.Status. */
  readonly object: unknown;
}

/** Preconditions of a DELETE: it fails with 409 when the stored object differs. */
export interface DeletePreconditions {
  readonly resourceVersion?: string | undefined;
  readonly uid?: string | undefined;
}

export interface ApiClient {
  /** GET of an object or any JSON path (discovery documents). Rejects with an ApiFailure-shaped error, 404 included. */
  get(path: string, options?: RequestOptions): Promise<unknown>;
  /** One page of a collection. */
  list(collectionPath: string, query?: ListQuery, options?: RequestOptions): Promise<ListPage>;
  /** POST to a collection; 409 AlreadyExists when the name is taken. */
  create(collectionPath: string, body: object, options?: RequestOptions): Promise<unknown>;
  /** PUT of a whole object; 409 Conflict when `body.metadata.resourceVersion` is stale. */
  replace(objectPath: string, body: object, options?: RequestOptions): Promise<unknown>;
  /** JSON merge patch (application/merge-patch+json): strategic merge is rejected on custom resources. */
  patch(objectPath: string, body: object, options?: RequestOptions): Promise<unknown>;
  /** DELETE; 404 rejects (callers decide whether "already gone" is success). */
  delete(objectPath: string, preconditions?: DeletePreconditions, options?: RequestOptions): Promise<void>;
  /**
   * One watch stream. `onEvent` is called per event, in order, as each line arrives (never buffered
   * whole). Resolves when the server closes the stream or `signal` aborts it; rejects when the
   * request fails (an HTTP 410 rejects with code 410; an ERROR event is delivered to onEvent).
   * `onConnected` runs once the server answered 200.
   */
  watch(
    collectionPath: string,
    query: WatchQuery,
    onEvent: (event: WatchEvent) => void,
    options?: RequestOptions & { readonly onConnected?: (() => void) | undefined },
  ): Promise<void>;
}
