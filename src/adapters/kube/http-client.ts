// The ApiClient over node:https (node:http for plain-HTTP servers): plain JSON over API paths, one
// keep-alive connection pool per TLS identity, request timeouts, watch streams read line by line with a
// bounded line size, and failures normalised into ApiError (an ApiFailure: code, reason, message,
// retryAfterSeconds), never carrying raw HTTP headers. Credentials come from a CredentialSource
// (credentials.ts builds one from a kubeconfig); the client asks it before every request and the
// source decides when to re-read (token files every minute, like client-go).
import { Agent as HttpAgent, request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createHash } from 'node:crypto';
import { asError, errorMessage } from '../../core/error-message.ts';
import type { ApiClient, ApiFailure, DeletePreconditions, ListPage, ListQuery, RequestOptions, WatchEvent, WatchEventType, WatchQuery } from './api-client.ts';
import type { ApiObserver, ApiVerb } from './observer.ts';

/** TLS material of one identity: everything that decides which connections may be shared. */
export interface TlsIdentity {
  readonly ca?: string | Buffer | undefined;
  readonly cert?: string | Buffer | undefined;
  readonly key?: string | Buffer | undefined;
  readonly pfx?: string | Buffer | undefined;
  readonly passphrase?: string | undefined;
  readonly rejectUnauthorized?: boolean | undefined;
  readonly servername?: string | undefined;
}

/** Where and as whom to connect, as of now. */
export interface Credentials {
  /** Base URL of the API server, e.g. `https://10.96.0.1:443` (a path prefix is kept). */
  readonly server: string;
  readonly tls: TlsIdentity;
  /** Authentication headers (Authorization, Impersonate-User); never logged, never put in errors. */
  readonly headers: Readonly<Record<string, string>>;
  /**
   * A connection agent to use instead of the client's own pool (a proxy from the kubeconfig's
   * proxy-url). It must be stable for a given identity: the client never closes it.
   */
  readonly agent?: HttpAgent | undefined;
}

export interface CredentialSource {
  /** The credentials to use for the next request; cheap when nothing needs re-reading. */
  current(): Promise<Credentials>;
  /** The server answered 401: the next current() re-reads (rotated token, expired exec credential). */
  invalidate(): void;
}

export interface HttpApiClientOptions {
  readonly credentials: CredentialSource;
  readonly observer: ApiObserver;
  /** Whole-request deadline for everything but watches (connect, send, answer, body). Default 30 s. */
  readonly requestTimeoutMs?: number | undefined;
  /** A watch may stay silent this much longer than its server-side timeoutSeconds. Default 30 s. */
  readonly watchMarginMs?: number | undefined;
  /** Longest accepted watch line (one event); longer aborts the stream. Default 8 MiB (etcd's object limit is 1.5 MiB). */
  readonly maxLineBytes?: number | undefined;
  /** Largest accepted response body; larger aborts the request. Default 64 MiB. */
  readonly maxBodyBytes?: number | undefined;
  /** Idle keep-alive connections are closed after this long. Default 90 s (client-go's IdleConnTimeout). */
  readonly idleTimeoutMs?: number | undefined;
  readonly userAgent?: string | undefined;
}

const DEFAULTS = {
  requestTimeoutMs: 30_000,
  watchMarginMs: 30_000,
  maxLineBytes: 8 * 1024 * 1024,
  maxBodyBytes: 64 * 1024 * 1024,
  idleTimeoutMs: 90_000,
};

/** A failed request. `message` names the cause (Status message, or the network error) and never holds headers. */
export class ApiError extends Error implements ApiFailure {
  override readonly name = 'ApiError';
  readonly code: number;
  readonly reason: string | undefined;
  readonly retryAfterSeconds: number | undefined;
  constructor(failure: ApiFailure) {
    super(failure.message);
    this.code = failure.code;
    this.reason = failure.reason;
    this.retryAfterSeconds = failure.retryAfterSeconds;
  }
}

const WATCH_TYPES: ReadonlySet<string> = new Set<WatchEventType>(['ADDED', 'MODIFIED', 'DELETED', 'BOOKMARK', 'ERROR']);

/**
 * The resource a path addresses, for metrics: `/api/v1/nodes/n1` -> `nodes`,
 * `/api/v1/namespaces/default/events` -> `events`, `/apis/g/v/hostendpoints` -> `hostendpoints`,
 * `/apis` -> `apis` (discovery), `/version` -> `version`.
 */
export function resourceOf(path: string): string {
  const segs = path
    .split('?')[0]!
    .split('/')
    .filter((s) => s !== '');
  const root = segs[0] ?? '';
  let rest: string[];
  if (root === 'api') rest = segs.slice(2);
  else if (root === 'apis') rest = segs.slice(3);
  else return root;
  if (rest.length === 0) return root;
  if (rest[0] === 'namespaces' && rest.length >= 3) return rest[2]!;
  return rest[0]!;
}

/** Retry-After as seconds: delta-seconds or an HTTP-date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function statusFields(body: string): { reason?: string; message?: string } {
  if (body === '') return {};
  try {
    const s = JSON.parse(body) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (s !== null && typeof s === 'object') {
      return {
        ...(typeof s.reason === 'string' && s.reason !== '' ? { reason: s.reason } : {}),
        ...(typeof s.message === 'string' && s.message !== '' ? { message: s.message } : {}),
      };
    }
  } catch {
    // not JSON: a proxy's or a non-API server's page
  }
  // A short, single-line excerpt: enough to recognise a proxy's error page, never a whole document.
  const text = body.replace(/\s+/g, ' ').trim().slice(0, 200);
  return text === '' ? {} : { message: text };
}

/** The network error's cause in words: `connect ECONNREFUSED 127.0.0.1:6443`, `timeout after 30000 ms`. */
function networkMessage(err: unknown, what: string): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown; message?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const msg = errorMessage(err);
  const text = code !== undefined && !msg.includes(code) ? `${code}: ${msg}` : msg;
  return `${what}: ${text}`;
}

function identityKey(server: string, tls: TlsIdentity): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([new URL(server).origin, tls.rejectUnauthorized, tls.servername, tls.passphrase]));
  for (const field of ['ca', 'cert', 'key', 'pfx'] as const) {
    const v = tls[field];
    hash.update(`\0${field}:`);
    if (v !== undefined) hash.update(v);
  }
  return hash.digest('hex');
}

function queryString(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

interface Exchange {
  readonly verb: ApiVerb;
  readonly method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  readonly path: string;
  readonly query?: string;
  readonly body?: object | undefined;
  readonly contentType?: string;
  readonly signal?: AbortSignal | undefined;
}

class AbortedError extends Error {}

interface Opened {
  readonly req: ClientRequest;
  readonly res: IncomingMessage;
  /** The timeout's error, when the timer fired (the stream's own error is then only its echo). */
  readonly timeout: () => ApiError | undefined;
}

export class HttpApiClient implements ApiClient {
  readonly #o: {
    readonly credentials: CredentialSource;
    readonly observer: ApiObserver;
    readonly requestTimeoutMs: number;
    readonly watchMarginMs: number;
    readonly maxLineBytes: number;
    readonly maxBodyBytes: number;
    readonly idleTimeoutMs: number;
    readonly userAgent: string;
  };
  #pool: { key: string; agent: HttpAgent } | undefined;
  #poolsCreated = 0;

  constructor(options: HttpApiClientOptions) {
    this.#o = {
      credentials: options.credentials,
      observer: options.observer,
      requestTimeoutMs: options.requestTimeoutMs ?? DEFAULTS.requestTimeoutMs,
      watchMarginMs: options.watchMarginMs ?? DEFAULTS.watchMarginMs,
      maxLineBytes: options.maxLineBytes ?? DEFAULTS.maxLineBytes,
      maxBodyBytes: options.maxBodyBytes ?? DEFAULTS.maxBodyBytes,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULTS.idleTimeoutMs,
      userAgent: options.userAgent ?? 'calico-hep-agent',
    };
  }

  /** How many connection pools (TLS identities) this client has made; a new one per rotated CA or client certificate. */
  get pools(): number {
    return this.#poolsCreated;
  }

  /** Closes the idle connections of the pool; in-flight requests finish. */
  close(): void {
    this.#pool?.agent.destroy();
    this.#pool = undefined;
  }

  async get(path: string, options?: RequestOptions): Promise<unknown> {
    return this.#json({ verb: 'get', method: 'GET', path, signal: options?.signal });
  }

  async list(collectionPath: string, query: ListQuery = {}, options?: RequestOptions): Promise<ListPage> {
    const qs = queryString({
      labelSelector: query.labelSelector,
      fieldSelector: query.fieldSelector,
      limit: query.limit,
      continue: query.continue,
      resourceVersion: query.resourceVersion,
      resourceVersionMatch: query.resourceVersionMatch,
    });
    const res = (await this.#json({ verb: 'list', method: 'GET', path: collectionPath, query: qs, signal: options?.signal })) as {
      items?: unknown;
      metadata?: { resourceVersion?: unknown; continue?: unknown };
    } | null;
    if (res === null || typeof res !== 'object' || (res.items !== undefined && res.items !== null && !Array.isArray(res.items))) {
      throw new ApiError({ code: 200, reason: undefined, message: `list ${collectionPath}: the answer is not a list`, retryAfterSeconds: undefined });
    }
    const rv = res.metadata?.resourceVersion;
    const cont = res.metadata?.continue;
    return {
      items: Array.isArray(res.items) ? res.items : [],
      resourceVersion: typeof rv === 'string' ? rv : '',
      continue: typeof cont === 'string' && cont !== '' ? cont : undefined,
    };
  }

  async create(collectionPath: string, body: object, options?: RequestOptions): Promise<unknown> {
    return this.#json({ verb: 'create', method: 'POST', path: collectionPath, body, contentType: 'application/json', signal: options?.signal });
  }

  async replace(objectPath: string, body: object, options?: RequestOptions): Promise<unknown> {
    return this.#json({ verb: 'update', method: 'PUT', path: objectPath, body, contentType: 'application/json', signal: options?.signal });
  }

  async patch(objectPath: string, body: object, options?: RequestOptions): Promise<unknown> {
    return this.#json({ verb: 'patch', method: 'PATCH', path: objectPath, body, contentType: 'application/merge-patch+json', signal: options?.signal });
  }

  async delete(objectPath: string, preconditions?: DeletePreconditions, options?: RequestOptions): Promise<void> {
    const pre: Record<string, string> = {};
    if (preconditions?.resourceVersion !== undefined) pre['resourceVersion'] = preconditions.resourceVersion;
    if (preconditions?.uid !== undefined) pre['uid'] = preconditions.uid;
    const body = Object.keys(pre).length > 0 ? { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: pre } : undefined;
    await this.#json({
      verb: 'delete',
      method: 'DELETE',
      path: objectPath,
      ...(body !== undefined ? { body, contentType: 'application/json' } : {}),
      signal: options?.signal,
    });
  }

  async watch(
    collectionPath: string,
    query: WatchQuery,
    onEvent: (event: WatchEvent) => void,
    options?: RequestOptions & { readonly onConnected?: (() => void) | undefined },
  ): Promise<void> {
    const qs = queryString({
      watch: 1,
      labelSelector: query.labelSelector,
      fieldSelector: query.fieldSelector,
      resourceVersion: query.resourceVersion,
      timeoutSeconds: query.timeoutSeconds,
      allowWatchBookmarks: query.allowWatchBookmarks === true ? true : undefined,
    });
    const signal = options?.signal;
    if (signal?.aborted === true) return;
    const resource = resourceOf(collectionPath);
    let opened: Opened;
    try {
      opened = await this.#open(
        { verb: 'watch', method: 'GET', path: collectionPath, query: qs, signal },
        query.timeoutSeconds * 1000 + this.#o.watchMarginMs,
        'idle',
      );
    } catch (err) {
      if (err instanceof AbortedError) return;
      this.#o.observer.request('watch', resource, err instanceof ApiError ? err.code : 0);
      throw err;
    }
    const { req, res } = opened;
    if (res.statusCode !== 200) {
      const err = await this.#failure(opened, collectionPath);
      this.#o.observer.request('watch', resource, err.code);
      throw err;
    }
    this.#o.observer.request('watch', resource, 200);
    options?.onConnected?.();
    const maxLine = this.#o.maxLineBytes;
    return new Promise<void>((resolve, reject) => {
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let done = false;
      const finish = (err?: Error) => {
        if (done) return;
        done = true;
        if (err === undefined) resolve();
        else {
          req.destroy();
          reject(err);
        }
      };
      const lineTooLong = () =>
        finish(
          new ApiError({
            code: 200,
            reason: undefined,
            message: `watch ${collectionPath}: an event is longer than ${maxLine} bytes`,
            retryAfterSeconds: undefined,
          }),
        );
      const deliver = (line: Buffer): boolean => {
        const text = line.toString('utf8').trim();
        if (text === '') return true;
        let event: { type?: unknown; object?: unknown };
        try {
          event = JSON.parse(text) as { type?: unknown; object?: unknown };
        } catch {
          finish(new ApiError({ code: 200, reason: undefined, message: `watch ${collectionPath}: an event is not JSON`, retryAfterSeconds: undefined }));
          return false;
        }
        if (
          event === null ||
          typeof event !== 'object' ||
          typeof event.type !== 'string' ||
          !WATCH_TYPES.has(event.type) ||
          typeof event.object !== 'object' ||
          event.object === null
        ) {
          finish(new ApiError({ code: 200, reason: undefined, message: `watch ${collectionPath}: not a watch event`, retryAfterSeconds: undefined }));
          return false;
        }
        try {
          onEvent({ type: event.type as WatchEventType, object: event.object });
        } catch (err) {
          finish(asError(err));
          return false;
        }
        return true;
      };
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        let start = 0;
        for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
          const piece = chunk.subarray(start, nl);
          start = nl + 1;
          if (pendingBytes + piece.length > maxLine) {
            lineTooLong();
            return;
          }
          const line = pending.length === 0 ? piece : Buffer.concat([...pending, piece]);
          pending = [];
          pendingBytes = 0;
          if (!deliver(line)) return;
        }
        if (start < chunk.length) {
          const rest = chunk.subarray(start);
          pendingBytes += rest.length;
          if (pendingBytes > maxLine) {
            lineTooLong();
            return;
          }
          // Copy: the chunk's buffer may be pooled and reused.
          pending.push(Buffer.from(rest));
        }
      });
      res.on('end', () => {
        if (pending.length > 0 && !deliver(Buffer.concat(pending))) return;
        finish();
      });
      res.on('error', (err) => finish(signal?.aborted === true ? undefined : (opened.timeout() ?? this.#networkError(err, collectionPath))));
      res.on('close', () => {
        // Aborted by the signal, or the socket went away mid-stream.
        if (done) return;
        if (signal?.aborted === true) finish();
        else if (!res.complete)
          finish(
            opened.timeout() ??
              new ApiError({ code: 0, reason: undefined, message: `watch ${collectionPath}: the stream was cut`, retryAfterSeconds: undefined }),
          );
        else finish();
      });
    });
  }

  async #json(x: Exchange): Promise<unknown> {
    const resource = resourceOf(x.path);
    let opened: Opened;
    try {
      opened = await this.#open(x, this.#o.requestTimeoutMs, 'deadline');
    } catch (err) {
      this.#o.observer.request(x.verb, resource, err instanceof ApiError ? err.code : 0);
      if (err instanceof AbortedError)
        throw new ApiError({ code: 0, reason: 'Aborted', message: `${x.method} ${x.path}: aborted`, retryAfterSeconds: undefined });
      throw err;
    }
    const code = opened.res.statusCode ?? 0;
    if (code < 200 || code >= 300) {
      const err = await this.#failure(opened, x.path);
      this.#o.observer.request(x.verb, resource, err.code);
      throw err;
    }
    let text: string;
    try {
      text = await this.#readBody(opened, x.path);
    } catch (err) {
      this.#o.observer.request(x.verb, resource, 0);
      throw err;
    }
    this.#o.observer.request(x.verb, resource, code);
    if (text === '') return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ApiError({ code, reason: undefined, message: `${x.method} ${x.path}: the answer is not JSON`, retryAfterSeconds: undefined });
    }
  }

  /** Sends the request; resolves with the response head. The timer covers the whole exchange ('deadline') or silence ('idle'). */
  async #open(x: Exchange, timeoutMs: number, timeoutKind: 'deadline' | 'idle'): Promise<Opened> {
    let creds: Credentials;
    try {
      creds = await this.#o.credentials.current();
    } catch (err) {
      // A missing token file, a failing exec plugin: no request was sent.
      throw new ApiError({ code: 0, reason: undefined, message: `${x.method} ${x.path}: no credentials: ${errorMessage(err)}`, retryAfterSeconds: undefined });
    }
    const base = new URL(creds.server);
    const plain = base.protocol === 'http:';
    const agent = creds.agent ?? this.#agent(creds, plain);
    const payload = x.body !== undefined ? Buffer.from(JSON.stringify(x.body)) : undefined;
    const headers: Record<string, string | number> = {
      Accept: 'application/json',
      'User-Agent': this.#o.userAgent,
      ...creds.headers,
    };
    if (payload !== undefined) {
      headers['Content-Type'] = x.contentType ?? 'application/json';
      headers['Content-Length'] = payload.length;
    }
    const path = `${base.pathname.replace(/\/$/, '')}${x.path}${x.query ?? ''}`;
    const what = `${x.method} ${x.path}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        x.signal?.removeEventListener('abort', onAbort);
        reject(err);
      };
      const req = (plain ? httpRequest : httpsRequest)({
        protocol: base.protocol,
        hostname: base.hostname.replace(/^\[(.*)\]$/, '$1'),
        port: base.port === '' ? undefined : Number(base.port),
        method: x.method,
        path,
        headers,
        agent,
      });
      const onAbort = () => {
        req.destroy(new AbortedError('aborted'));
      };
      let deadline: ReturnType<typeof setTimeout> | undefined;
      let timeoutError: ApiError | undefined;
      const timedOut = () => {
        timeoutError = new ApiError({ code: 0, reason: 'Timeout', message: `${what}: no answer within ${timeoutMs} ms`, retryAfterSeconds: undefined });
        req.destroy(timeoutError);
      };
      if (timeoutKind === 'deadline') {
        deadline = setTimeout(timedOut, timeoutMs);
      } else {
        req.setTimeout(timeoutMs, timedOut);
      }
      if (x.signal !== undefined) {
        if (x.signal.aborted) onAbort();
        else x.signal.addEventListener('abort', onAbort, { once: true });
      }
      req.on('error', (err) => {
        if (err instanceof AbortedError || err instanceof ApiError) fail(err);
        else fail(new ApiError({ code: 0, reason: undefined, message: networkMessage(err, what), retryAfterSeconds: undefined }));
      });
      req.on('response', (res) => {
        if (settled) {
          res.resume();
          return;
        }
        settled = true;
        if (res.statusCode === 401) this.#o.credentials.invalidate();
        const cleanup = () => {
          clearTimeout(deadline);
          x.signal?.removeEventListener('abort', onAbort);
        };
        // The deadline keeps running until the body is read (#json); an idle timer stays on the socket.
        res.once('close', cleanup);
        resolve({ req, res, timeout: () => timeoutError });
      });
      if (payload !== undefined) req.end(payload);
      else req.end();
    });
  }

  #agent(creds: Credentials, plain: boolean): HttpAgent {
    const key = `${plain ? 'http' : 'https'}:${identityKey(creds.server, creds.tls)}`;
    if (this.#pool?.key === key) return this.#pool.agent;
    const common = { keepAlive: true, keepAliveMsecs: 30_000, timeout: this.#o.idleTimeoutMs, maxFreeSockets: 4, scheduling: 'lifo' as const };
    const agent = plain ? new HttpAgent(common) : new HttpsAgent({ ...common, ...creds.tls });
    // The superseded identity's pool: idle connections go now, busy ones when their request ends.
    const old = this.#pool?.agent;
    if (old !== undefined) {
      for (const list of Object.values(old.freeSockets)) for (const s of list ?? []) s.destroy();
      const retiring = old as unknown as { keepAlive: boolean; options: { keepAlive: boolean } };
      retiring.keepAlive = false;
      retiring.options.keepAlive = false;
    }
    this.#pool = { key, agent };
    this.#poolsCreated++;
    return agent;
  }

  async #readBody({ res, timeout }: Opened, path: string): Promise<string> {
    const chunks: Buffer[] = [];
    let bytes = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        if (bytes > this.#o.maxBodyBytes) {
          res.destroy();
          throw new ApiError({
            code: 0,
            reason: undefined,
            message: `${path}: the answer is larger than ${this.#o.maxBodyBytes} bytes`,
            retryAfterSeconds: undefined,
          });
        }
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      const cause = timeout() ?? (res.errored as unknown) ?? err;
      if (cause instanceof ApiError) throw cause;
      throw new ApiError({ code: 0, reason: undefined, message: networkMessage(cause, `reading ${path}`), retryAfterSeconds: undefined });
    }
    return Buffer.concat(chunks).toString('utf8');
  }

  async #failure(opened: Opened, path: string): Promise<ApiError> {
    const { res } = opened;
    const code = res.statusCode ?? 0;
    let body = '';
    try {
      body = await this.#readBody(opened, path);
    } catch {
      // the Status body is a courtesy: the code alone still decides
    }
    const status = statusFields(body);
    const retryAfterHeader = res.headers['retry-after'];
    return new ApiError({
      code,
      reason: status.reason,
      message: status.message ?? `HTTP ${code}${res.statusMessage ? ` ${res.statusMessage}` : ''}`,
      retryAfterSeconds: parseRetryAfter(retryAfterHeader),
    });
  }

  #networkError(err: unknown, path: string): ApiError {
    if (err instanceof ApiError) return err;
    return new ApiError({ code: 0, reason: undefined, message: networkMessage(err, path), retryAfterSeconds: undefined });
  }
}
