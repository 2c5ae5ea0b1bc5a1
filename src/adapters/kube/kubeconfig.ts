// Finds the cluster credentials, without client-node's silent fallback to http://localhost:8080.
import { createHash } from 'node:crypto';
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

export interface KubeConfigSources {
  /** `--kubeconfig` flag. */
  readonly file?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Where `~/.kube/config` is looked for; injectable for tests. */
  readonly home?: string | undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function fromFile(path: string): Promise<KubeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new KubeConfigError(`cannot read kubeconfig ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new KubeConfigError(`invalid kubeconfig ${path}: ${(err as Error).message}`);
  }
  if (kc.getCurrentCluster() === null) throw new KubeConfigError(`kubeconfig ${path} has no current cluster`);
  return kc;
}

/**
 * The kubeconfig to use, in kubectl's order: the flag, KUBECONFIG (first file of the list),
 * the in-cluster service account, then ~/.kube/config. `undefined` when there is none. Every
 * request made with it shares one connection pool (reuseConnections below).
 */
export async function findKubeConfig(sources: KubeConfigSources): Promise<KubeConfig | undefined> {
  const kc = await locateKubeConfig(sources);
  return kc === undefined ? undefined : reuseConnections(kc);
}

async function locateKubeConfig(sources: KubeConfigSources): Promise<KubeConfig | undefined> {
  if (sources.file !== undefined) return fromFile(sources.file);
  const fromEnv = sources.env['KUBECONFIG']?.split(':').find((p) => p !== '');
  if (fromEnv !== undefined) return fromFile(fromEnv);
  if (sources.env['KUBERNETES_SERVICE_HOST'] !== undefined && (await exists(SERVICE_ACCOUNT_TOKEN))) {
    const kc = new KubeConfig();
    kc.loadFromCluster();
    return kc;
  }
  const home = sources.home ?? homedir();
  const dotKube = join(home, '.kube', 'config');
  if (await exists(dotKube)) return fromFile(dotKube);
  return undefined;
}

/** Like findKubeConfig, but a missing configuration is an error that says what to provide. */
export async function requireKubeConfig(sources: KubeConfigSources): Promise<KubeConfig> {
  const kc = await findKubeConfig(sources);
  if (kc === undefined) {
    throw new KubeConfigError(
      'no Kubernetes credentials: not running in a pod with a service account, no --kubeconfig, no KUBECONFIG, no ~/.kube/config',
    );
  }
  return kc;
}

type DispatcherFactory = (cluster: unknown, agentOptions: Record<string, unknown>) => { close?: () => Promise<void> } | undefined;
const SHARED = Symbol('calico-hep-agent.sharedDispatchers');

/**
 * Makes every request of `kc` share one connection pool per TLS identity. client-node 2.x builds a new
 * undici Agent for every API call whenever TLS options are set (always in a cluster: the CA), so each
 * call paid a TLS handshake on a fresh connection, and the idle keep-alive connections and their TLS
 * state piled up until timeouts (bench/: +125 MiB RSS after 256 creates, ~40% of request latency).
 * The pool is keyed by the TLS material itself (CA, client cert and key, server, verification
 * options), so a rotated client certificate gets a new pool; the superseded one is closed gracefully.
 * Bearer tokens travel in headers and are unaffected. Idempotent.
 */
export function reuseConnections(kc: KubeConfig): KubeConfig {
  const target = kc as unknown as { createDispatcher?: DispatcherFactory; [SHARED]?: true };
  const original = target.createDispatcher;
  if (target[SHARED] === true || typeof original !== 'function') return kc;
  let current: { key: string; dispatcher: ReturnType<DispatcherFactory> } | undefined;
  target[SHARED] = true;
  target.createDispatcher = (cluster, agentOptions) => {
    const hash = createHash('sha256');
    const c = cluster as { server?: string; proxyUrl?: string } | null;
    hash.update(JSON.stringify([c?.server, c?.proxyUrl, agentOptions['rejectUnauthorized'], agentOptions['servername'], agentOptions['passphrase']]));
    for (const field of ['ca', 'cert', 'key', 'pfx']) {
      const v = agentOptions[field];
      hash.update(`\0${field}:`);
      if (typeof v === 'string' || Buffer.isBuffer(v)) hash.update(v);
      else if (v !== undefined) hash.update(JSON.stringify(v));
    }
    const key = hash.digest('hex');
    if (current?.key === key) return current.dispatcher;
    const dispatcher = original.call(kc, cluster, agentOptions);
    if (dispatcher === undefined) return undefined; // no TLS options: client-node uses the global dispatcher
    void current?.dispatcher?.close?.().catch(() => undefined);
    current = { key, dispatcher };
    return dispatcher;
  };
  return kc;
}
