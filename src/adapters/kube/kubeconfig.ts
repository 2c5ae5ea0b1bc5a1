// Finds the cluster credentials, without client-node's silent fallback to http://localhost:8080.
import { access, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
// KubeConfig only, deep-imported: the package index would load client-node's generated API classes
// and models (the bundle also stubs what config.js itself drags in; see scripts/bundle.ts).
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { kubeConfigCredentials } from './credentials.ts';
import { HttpApiClient } from './http-client.ts';
import type { ApiObserver } from './observer.ts';
import { errorMessage } from '../../core/error-message.ts';

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
    throw new KubeConfigError(`cannot read kubeconfig ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new KubeConfigError(`invalid kubeconfig ${path}: ${errorMessage(err)}`);
  }
  if (kc.getCurrentCluster() === null) throw new KubeConfigError(`kubeconfig ${path} has no current cluster`);
  return kc;
}

/**
 * The kubeconfig to use, in kubectl's order: the flag, KUBECONFIG (first file of the list),
 * the in-cluster service account, then ~/.kube/config. `undefined` when there is none.
 */
export async function findKubeConfig(sources: KubeConfigSources): Promise<KubeConfig | undefined> {
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
    throw new KubeConfigError('no Kubernetes credentials: not running in a pod with a service account, no --kubeconfig, no KUBECONFIG, no ~/.kube/config');
  }
  return kc;
}

/** An ApiClient over `kc`, reporting every request to `observer`; one keep-alive pool per TLS identity. */
export function apiClientFor(kc: KubeConfig, observer: ApiObserver, options: { userAgent?: string } = {}): HttpApiClient {
  return new HttpApiClient({ credentials: kubeConfigCredentials(kc), observer, userAgent: options.userAgent });
}
