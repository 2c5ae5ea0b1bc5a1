// Controls a fake API server in another process (started by main.ts) over its /__fake/ endpoint.
import { request } from 'node:https';
import type { RequestLogEntry } from './server.ts';
import type { KubeObject } from './store.ts';

export interface ControlRequest {
  reset?: boolean | undefined;
  latencyMs?: number | undefined;
  bookmarkIntervalMs?: number | undefined;
  gcDelayMs?: number | undefined;
  failNext?: { n: number; code: number; retryAfterSeconds?: number; verb?: string; resource?: string } | undefined;
  conflictBurst?: number | undefined;
  hangWatches?: boolean | undefined;
  compact?: boolean | number | undefined;
  dropWatches?: boolean | 'end' | 'reset' | undefined;
  outage?: { ms: number; mode?: 'refuse' | 'reset' | '503' } | undefined;
}

export interface FakeApiServerClient {
  controls(c: ControlRequest): Promise<{ ok: boolean; dropped: number }>;
  log(since?: number): Promise<{ total: number; entries: RequestLogEntry[] }>;
  clearLog(): Promise<void>;
  state(): Promise<{ resourceVersion: string; oldestResourceVersion: string; activeWatches: number }>;
  seed(...objs: KubeObject[]): Promise<KubeObject[]>;
  get(groupResource: string, name: string, namespace?: string): Promise<KubeObject | undefined>;
  list(groupResource: string, namespace?: string): Promise<KubeObject[]>;
  delete(groupResource: string, name: string, namespace?: string): Promise<boolean>;
}

export function connectFakeApiServer(p: { url: string; caPem: string; token: string }): FakeApiServerClient {
  const call = (method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> =>
    new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(path, p.url),
        {
          method,
          ca: p.caPem,
          headers: { Authorization: `Bearer ${p.token}`, ...(data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : {}) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
        },
      );
      req.on('error', reject);
      req.end(data);
    });
  const ok = async (method: string, path: string, body?: unknown) => {
    const r = await call(method, path, body);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.json)}`);
    return r.json as Record<string, unknown>;
  };
  const nsq = (ns?: string) => (ns ? `?namespace=${encodeURIComponent(ns)}` : '');
  return {
    controls: async (c) => (await ok('POST', '/__fake/controls', c)) as { ok: boolean; dropped: number },
    log: async (since = 0) => (await ok('GET', `/__fake/log?since=${since}`)) as { total: number; entries: RequestLogEntry[] },
    clearLog: async () => {
      await ok('DELETE', '/__fake/log');
    },
    state: async () => (await ok('GET', '/__fake/state')) as { resourceVersion: string; oldestResourceVersion: string; activeWatches: number },
    seed: async (...objs) => (await ok('POST', '/__fake/objects', { items: objs })).items as KubeObject[],
    get: async (gr, name, ns) => {
      const r = await call('GET', `/__fake/objects/${encodeURIComponent(gr)}/${encodeURIComponent(name)}${nsq(ns)}`);
      if (r.status === 404) return undefined;
      if (r.status >= 300) throw new Error(`get ${gr}/${name}: ${r.status}`);
      return r.json as KubeObject;
    },
    list: async (gr, ns) => (await ok('GET', `/__fake/objects/${encodeURIComponent(gr)}${nsq(ns)}`)).items as KubeObject[],
    delete: async (gr, name, ns) => (await ok('DELETE', `/__fake/objects/${encodeURIComponent(gr)}/${encodeURIComponent(name)}${nsq(ns)}`)).deleted as boolean,
  };
}
