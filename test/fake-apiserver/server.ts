// HTTPS plumbing: TLS, bearer-token authentication, RBAC, fault injection, request log, routing of
// discovery / resource / admin (/__fake/) paths to api.ts and watch.ts.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import { Api, type Ctx, type Result } from './api.ts';
import { FaultState, type FaultMatch } from './controls.ts';
import { coreVersions, group, groupList, resourceList, VERSION_INFO } from './discovery.ts';
import { openapiGroupVersion, openapiIndex } from './openapi.ts';
import { allowed, type ClusterRole } from './rbac.ts';
import { groupResource, Registry, type ResourceType } from './resources.ts';
import { ApiError, errors, failure } from './status.ts';
import type { KubeObject, Store } from './store.ts';
import { toTable, wantsTable } from './table.ts';
import type { TlsMaterial } from './tls.ts';
import { Watches } from './watch.ts';

export interface RequestLogEntry {
  time: string;
  method: string;
  /** Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection), or "discovery" / "admin" / "healthz" */
  verb: string;
  path: string;
  query: string;
  code: number;
  watch: boolean;
  user: string;
  userAgent: string;
  /** "nodes", "hostendpoints.projectcalico.org", ... for resource requests */
  resource?: string | undefined;
  name?: string | undefined;
  namespace?: string | undefined;
  contentType?: string | undefined;
  /** set when RBAC refused the request */
  denied?: boolean | undefined;
  /** set when a test control produced the answer */
  injected?: boolean | undefined;
}

export interface Identity {
  user: string;
  admin: boolean;
}

interface Route {
  type: ResourceType;
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: string | undefined;
  legacyWatch: boolean;
}

export interface ServerParts {
  tls: TlsMaterial;
  store: Store;
  registry: Registry;
  api: Api;
  watches: Watches;
  tokens: Map<string, Identity>;
  roles?: ClusterRole[] | undefined;
  admin: (req: IncomingMessage, res: ServerResponse, body: Buffer, url: URL) => Promise<void>;
}

export class HttpFront {
  server: Server;
  readonly faults = new FaultState();
  readonly log: RequestLogEntry[] = [];
  port = 0;
  private outage: { until: number; mode: 'refuse' | 'reset' | '503'; timer?: NodeJS.Timeout } | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly p: ServerParts;

  constructor(p: ServerParts) {
    this.p = p;
    this.server = this.makeServer();
  }

  private makeServer(): Server {
    const s = createServer({ key: this.p.tls.keyPem, cert: this.p.tls.certPem }, (req, res) => {
      void this.handle(req, res);
    });
    s.on('secureConnection', (sock: Socket) => {
      if (this.outage && this.outage.mode === 'reset' && Date.now() < this.outage.until) {
        sock.destroy();
        return;
      }
      this.sockets.add(sock);
      sock.on('close', () => this.sockets.delete(sock));
    });
    s.keepAliveTimeout = 5000;
    return s;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        const a = this.server.address();
        if (a && typeof a === 'object') this.port = a.port;
        resolve();
      });
    });
  }

  /**
   * Simulates an apiserver outage for `ms`: 'refuse' closes the listener (connection refused) and cuts every
   * open connection, 'reset' accepts and drops connections, '503' answers ServiceUnavailable.
   */
  startOutage(ms: number, mode: 'refuse' | 'reset' | '503' = 'refuse'): Promise<void> {
    if (this.outage?.timer) clearTimeout(this.outage.timer);
    this.outage = { until: Date.now() + ms, mode };
    const end = async () => {
      this.outage = undefined;
      if (mode === 'refuse') {
        this.server = this.makeServer();
        await this.listen(this.port);
      }
    };
    if (mode === 'refuse' || mode === 'reset') {
      this.p.watches.dropAll('reset');
      for (const s of this.sockets) s.destroy();
    }
    if (mode === 'refuse') {
      const old = this.server;
      // Resolve once the listener is really closed, so a test's next connect is refused deterministically.
      return new Promise((resolve) => {
        this.outage!.timer = setTimeout(() => {
          void end();
        }, ms);
        old.close(() => resolve());
        old.closeAllConnections();
      });
    }
    this.outage.timer = setTimeout(() => {
      void end();
    }, ms);
    return Promise.resolve();
  }

  async close(): Promise<void> {
    if (this.outage?.timer) clearTimeout(this.outage.timer);
    this.outage = undefined;
    this.p.watches.dropAll('end');
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'https://127.0.0.1');
    const entry: RequestLogEntry = {
      time: new Date().toISOString(),
      method: req.method ?? 'GET',
      verb: 'unknown',
      path: url.pathname,
      query: url.search.replace(/^\?/, ''),
      code: 0,
      watch: false,
      user: '',
      userAgent: String(req.headers['user-agent'] ?? ''),
      contentType: req.headers['content-type'],
    };
    res.setHeader('Audit-Id', randomUUID());
    const finish = (r: Result, headers: Record<string, string | string[]> = {}) => {
      entry.code = r.code;
      this.log.push(entry);
      if (res.headersSent) {
        res.end();
        return;
      }
      res.writeHead(r.code, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', ...headers });
      res.end(JSON.stringify(r.body));
    };
    const fail = (e: unknown, extra: Partial<RequestLogEntry> = {}) => {
      Object.assign(entry, extra);
      if (e instanceof ApiError) {
        finish({ code: e.code, body: e.status }, e.headers);
        return;
      }
      finish({ code: 500, body: failure(500, 'InternalError', `Internal error occurred: ${(e as Error).stack ?? String(e)}`) });
    };
    try {
      const body = await readBody(req);
      if (url.pathname === '/healthz' || url.pathname === '/readyz' || url.pathname === '/livez') {
        entry.verb = 'healthz';
        entry.code = 200;
        this.log.push(entry);
        res.writeHead(200, { 'Content-Type': 'text/plain' });
        res.end('ok');
        return;
      }
      const id = this.authenticate(req);
      if (!id) {
        entry.verb = 'unauthenticated';
        throw errors.unauthorized();
      }
      entry.user = id.user;
      if (url.pathname.startsWith('/__fake/')) {
        entry.verb = 'admin';
        await this.p.admin(req, res, body, url);
        entry.code = res.statusCode;
        this.log.push(entry);
        return;
      }
      if (this.outage?.mode === '503' && Date.now() < this.outage.until) {
        entry.injected = true;
        throw new ApiError(failure(503, 'ServiceUnavailable', 'The server is currently unable to handle the request'));
      }
      if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
      const disc = this.discovery(url.pathname);
      if (disc) {
        entry.verb = 'discovery';
        finish(disc);
        return;
      }
      const route = this.route(url.pathname);
      const method = req.method ?? 'GET';
      const watch = route.legacyWatch || url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
      const verb = verbOf(method, !!route.name, watch);
      Object.assign(entry, { verb, watch, resource: groupResource(route.type), name: route.name, namespace: route.namespace });
      if (this.p.roles && !id.admin) {
        const ok = allowed(this.p.roles, {
          verb,
          group: route.type.group,
          resource: route.type.resource,
          subresource: route.subresource,
          name: route.name,
          namespace: route.namespace,
        });
        if (!ok) {
          entry.denied = true;
          throw errors.forbidden(id.user, verb, route.type.group, route.type.resource, route.name, route.namespace);
        }
      }
      const injectedErr =
        this.faults.takeFault(verb, groupResource(route.type)) ?? this.faults.takeConflict(verb, route.type.group, route.type.resource, route.name);
      if (injectedErr) {
        entry.injected = true;
        throw injectedErr;
      }
      if (route.subresource) throw errors.notFound(route.type.group, `${route.type.resource}/${route.subresource}`, route.name ?? '');
      const ctx: Ctx = { user: id.user, userAgent: entry.userAgent, query: url.searchParams, warnings: [] };
      const table = wantsTable(req.headers.accept);
      const includeObject = url.searchParams.get('includeObject');
      if (watch) {
        if (method !== 'GET') throw errors.methodNotAllowed();
        this.p.watches.start(res, route.type, route.namespace, url.searchParams, { as: table, includeObject });
        entry.code = 200;
        this.log.push(entry);
        return;
      }
      const json = () => parseJson(body);
      let r: Result;
      switch (verb) {
        case 'get':
          r = this.p.api.get(route.type, route.namespace, route.name!);
          break;
        case 'list':
          r = this.p.api.list(route.type, route.namespace, url.searchParams);
          break;
        case 'create':
          r = this.p.api.create(route.type, route.namespace, json(), ctx);
          break;
        case 'update':
          r = this.p.api.update(route.type, route.namespace, route.name!, json(), ctx);
          break;
        case 'patch':
          r = this.p.api.patch(route.type, route.namespace, route.name!, body, String(req.headers['content-type'] ?? ''), ctx);
          break;
        case 'delete':
          r = this.p.api.delete(route.type, route.namespace, route.name!, body.length ? json() : undefined, ctx);
          break;
        case 'deletecollection':
          r = this.p.api.deleteCollection(route.type, route.namespace, body.length ? json() : undefined, ctx);
          break;
        default:
          throw errors.methodNotAllowed();
      }
      if (table && (verb === 'get' || verb === 'list')) {
        const b = r.body as KubeObject & { items?: KubeObject[] };
        const withType = (o: KubeObject) => this.p.api.withType(route.type, o);
        r = {
          code: r.code,
          body:
            verb === 'get'
              ? toTable(route.type, [b], { resourceVersion: b.metadata.resourceVersion }, includeObject)
              : toTable(route.type, (b.items ?? []).map(withType), b.metadata, includeObject),
        };
      }
      const headers: Record<string, string | string[]> = {};
      if (ctx.warnings.length) headers.Warning = ctx.warnings.map((w) => `299 - ${JSON.stringify(w)}`);
      finish(r, headers);
    } catch (e) {
      fail(e);
    }
  }

  private authenticate(req: IncomingMessage): Identity | undefined {
    const h = req.headers.authorization;
    if (!h || !h.startsWith('Bearer ')) return undefined;
    return this.p.tokens.get(h.slice(7).trim());
  }

  private discovery(path: string): Result | undefined {
    const reg = this.p.registry;
    const p = path.replace(/\/+$/, '') || '/';
    if (p === '/version') return { code: 200, body: VERSION_INFO };
    if (p === '/api') return { code: 200, body: coreVersions(`127.0.0.1:${this.port}`) };
    if (p === '/apis') return { code: 200, body: groupList(reg) };
    if (p === '/openapi/v3') return { code: 200, body: openapiIndex(reg) };
    if (p.startsWith('/openapi/v3/')) {
      const doc = openapiGroupVersion(reg, p.slice('/openapi/v3/'.length));
      if (!doc) throw new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource'));
      return { code: 200, body: doc };
    }
    if (p === '/openapi/v2') throw new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource'));
    const seg = p.split('/').filter(Boolean);
    if (seg[0] === 'api' && seg.length === 2) {
      const l = resourceList(reg, '', seg[1]!);
      if (!l) throw new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource'));
      return { code: 200, body: l };
    }
    if (seg[0] === 'apis' && (seg.length === 2 || seg.length === 3)) {
      const body = seg.length === 2 ? group(reg, seg[1]!) : resourceList(reg, seg[1]!, seg[2]!);
      if (!body) throw new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource'));
      return { code: 200, body };
    }
    return undefined;
  }

  private route(path: string): Route {
    const seg = path.split('/').filter(Boolean).map(decodeURIComponent);
    const notFound = () => new ApiError(failure(404, 'NotFound', 'the server could not find the requested resource'));
    let g: string, v: string, rest: string[];
    if (seg[0] === 'api' && seg.length >= 3) {
      g = '';
      v = seg[1]!;
      rest = seg.slice(2);
    } else if (seg[0] === 'apis' && seg.length >= 4) {
      g = seg[1]!;
      v = seg[2]!;
      rest = seg.slice(3);
    } else throw notFound();
    let legacyWatch = false;
    if (rest[0] === 'watch') {
      legacyWatch = true;
      rest = rest.slice(1);
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [resource, name, subresource, ...extra] = rest;
    if (!resource || extra.length) throw notFound();
    const type = this.p.registry.find(g, v, resource);
    if (!type) throw notFound();
    if (namespace !== undefined && !type.namespaced) throw notFound();
    if (type.namespaced && namespace === undefined && name !== undefined) throw notFound();
    return { type, namespace, name, subresource, legacyWatch };
  }
}

function verbOf(method: string, named: boolean, watch: boolean): string {
  switch (method) {
    case 'GET':
      return watch ? 'watch' : named ? 'get' : 'list';
    case 'POST':
      return named ? 'unsupported' : 'create';
    case 'PUT':
      return named ? 'update' : 'unsupported';
    case 'PATCH':
      return named ? 'patch' : 'unsupported';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
    default:
      return 'unsupported';
  }
}

const MAX_BODY = 3 * 1024 * 1024; // the real server's request body limit

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new ApiError(failure(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728')));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw errors.badRequest(`error decoding request body: ${(e as Error).message}`);
  }
}

export type { FaultMatch };
