// Credentials for the HttpApiClient, loaded through client-node's KubeConfig: it knows every
// kubeconfig form (CA and client certificates inline or in files, tokens, exec plugins, auth
// providers, in-cluster service accounts, tls-server-name, insecure-skip-tls-verify, proxy-url).
// We ask it through its public applyToHTTPSOptions() at most once per refresh interval, not per
// request (it reads CA and key files synchronously), and read the service-account token file
// ourselves, asynchronously, on the same cadence: the kubelet rotates that token (bound tokens
// live about an hour) and client-go re-reads the file every minute; so do we, and also at the
// next request after a 401.
import { readFile } from 'node:fs/promises';
import type { Agent as HttpAgent } from 'node:http';
import type { RequestOptions as HttpsRequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { CredentialSource, Credentials, TlsIdentity } from './http-client.ts';

/** client-go's cadence for re-reading a token file. */
export const TOKEN_REFRESH_MS = 60_000;

export interface KubeConfigCredentialOptions {
  /** Epoch ms; injected so tests can pass a minute without waiting one. */
  readonly now?: (() => number) | undefined;
  readonly refreshMs?: number | undefined;
}

function tokenFileOf(kc: KubeConfig): string | undefined {
  const user = kc.getCurrentUser() as { authProvider?: { config?: { tokenFile?: unknown } } } | null;
  const file = user?.authProvider?.config?.tokenFile;
  return typeof file === 'string' && file !== '' ? file : undefined;
}

async function load(kc: KubeConfig): Promise<Credentials> {
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const opts: HttpsRequestOptions & { headers?: Record<string, string> } = {};
  const tokenFile = tokenFileOf(kc);
  // With a token file (in-cluster), the token is read again below, asynchronously and on our
  // cadence; client-node's FileAuth reading it too (at most once a minute) is harmless.
  await kc.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) if (v !== undefined) headers[k] = String(v);
  if (typeof opts.auth === 'string' && opts.auth !== '') headers['Authorization'] = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  if (tokenFile !== undefined) {
    const token = (await readFile(tokenFile, 'utf8')).trim();
    if (token !== '') headers['Authorization'] = `Bearer ${token}`;
  }
  const tls: TlsIdentity = {
    ...(opts.ca !== undefined ? { ca: opts.ca as string | Buffer } : {}),
    ...(opts.cert !== undefined ? { cert: opts.cert as string | Buffer } : {}),
    ...(opts.key !== undefined ? { key: opts.key as string | Buffer } : {}),
    ...(opts.pfx !== undefined ? { pfx: opts.pfx as string | Buffer } : {}),
    ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}),
    ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
  };
  // Only a proxy needs client-node's agent (hpagent / socks); it caches one per cluster.
  const agent = cluster.proxyUrl !== undefined && cluster.proxyUrl !== '' ? (opts.agent as HttpAgent | undefined) : undefined;
  return { server: cluster.server, tls, headers, ...(agent !== undefined ? { agent } : {}) };
}

/** A CredentialSource over a loaded KubeConfig, re-read every `refreshMs` (default a minute) and after a 401. */
export function kubeConfigCredentials(kc: KubeConfig, options: KubeConfigCredentialOptions = {}): CredentialSource {
  const now = options.now ?? Date.now;
  const refreshMs = options.refreshMs ?? TOKEN_REFRESH_MS;
  let cached: { credentials: Credentials; at: number } | undefined;
  let loading: Promise<Credentials> | undefined;
  return {
    current(): Promise<Credentials> {
      if (cached !== undefined && now() - cached.at < refreshMs) return Promise.resolve(cached.credentials);
      loading ??= load(kc).then(
        (credentials) => {
          cached = { credentials, at: now() };
          loading = undefined;
          return credentials;
        },
        (err: unknown) => {
          loading = undefined;
          // A failed re-read keeps the last good credentials (the file may be mid-rotation); the first must succeed.
          if (cached !== undefined) return cached.credentials;
          throw err;
        },
      );
      return loading;
    },
    invalidate(): void {
      cached = cached === undefined ? undefined : { ...cached, at: -Infinity };
    },
  };
}
