// Helpers for this directory's tests: raw HTTPS requests (to see exact codes, headers and bodies) and polling.
import { request } from 'node:https';
import type { FakeApiServer } from './index.ts';
import { parseJson } from '../helpers/json.ts';

/**
 * A Kubernetes wire body as these tests read it (object, list, Status, discovery, watch event object).
 * Fields are declared present so a test reads them as before; one the server left out fails the test
 * with a TypeError where it is read.
 */
export interface WireMeta {
  name: string;
  namespace?: string | undefined;
  continue?: string | undefined;
  uid: string;
  resourceVersion: string;
  generation: number;
  labels: Record<string, string>;
  annotations?: Record<string, string> | undefined;
  creationTimestamp: string;
  deletionTimestamp?: string | undefined;
  finalizers?: string[] | undefined;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string }[] | undefined;
  managedFields: { manager: string; operation?: string }[];
}
export interface WireBody {
  kind: string;
  apiVersion: string;
  metadata: WireMeta;
  spec: Record<string, unknown>;
  status: unknown;
  items: WireBody[];
  code: number;
  reason: string;
  message: string;
  details: { name?: string; group?: string; kind: string; causes: { field: string; reason: string; message?: string }[] };
  groups: { name: string }[];
  resources: { name: string; namespaced: boolean }[];
  major: string;
}
export interface WatchEvent {
  type: string;
  object: WireBody;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: WireBody;
}

export function raw(
  s: Pick<FakeApiServer, 'url' | 'caPem'>,
  method: string,
  path: string,
  o: { token?: string | null; body?: unknown; contentType?: string; accept?: string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const data = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
    const headers: Record<string, string | number> = {};
    if (o.token !== null && o.token !== undefined) headers.Authorization = `Bearer ${o.token}`;
    if (data) {
      headers['Content-Type'] = o.contentType ?? 'application/json';
      headers['Content-Length'] = data.length;
    }
    if (o.accept) headers.Accept = o.accept;
    const req = request(new URL(path, s.url), { method, ca: s.caPem, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: WireBody | undefined;
        try {
          json = parseJson<WireBody>(text);
        } catch {
          json = undefined;
        }
        // A body that is not JSON leaves `json` undefined; a test reading it then fails where it reads.
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as WireBody });
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** An API client bound to one server and token (the admin token unless told otherwise). */
export function client(s: FakeApiServer, token = s.adminToken) {
  return (method: string, path: string, o: { body?: unknown; contentType?: string; accept?: string } = {}) => raw(s, method, path, { token, ...o });
}

/** Opens a watch and collects its newline-delimited events until `stop()` or the server ends it. */
export function openWatch(s: Pick<FakeApiServer, 'url' | 'caPem'>, path: string, token: string) {
  const events: WatchEvent[] = [];
  let ended = false;
  let statusCode = 0;
  const req = request(new URL(path, s.url), { method: 'GET', ca: s.caPem, headers: { Authorization: `Bearer ${token}` }, agent: false }, (res) => {
    statusCode = res.statusCode ?? 0;
    let buf = '';
    res.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.trim()) events.push(parseJson<WatchEvent>(line));
      }
    });
    res.on('end', () => {
      ended = true;
    });
    res.on('error', () => {
      ended = true;
    });
  });
  req.on('error', () => {
    ended = true;
  });
  req.end();
  return {
    events,
    get ended() {
      return ended;
    },
    get status() {
      return statusCode;
    },
    stop: () => req.destroy(),
  };
}

export async function waitFor<T>(fn: () => T | undefined | false | Promise<T | undefined | false>, what = 'condition', timeoutMs = 5000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const node = (name: string, labels: Record<string, string> = {}) => ({ apiVersion: 'v1', kind: 'Node', metadata: { name, labels } });

export const hep = (name: string, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}, apiVersion = 'projectcalico.org/v3') => ({
  apiVersion,
  kind: 'HostEndpoint',
  metadata: { name, ...meta },
  spec: { node: 'n1', interfaceName: 'eth0', ...spec },
});

export const HEPS = '/apis/projectcalico.org/v3/hostendpoints';
