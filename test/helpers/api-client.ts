// The agent's real ApiClient (HttpApiClient) for a fake API server, as `run` builds it.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { HttpApiClient } from '../../src/adapters/kube/http-client.ts';
import { apiClientFor } from '../../src/adapters/kube/kubeconfig.ts';
import { NO_OBSERVER, type ApiObserver } from '../../src/adapters/kube/observer.ts';

export function apiClient(
  server: { kubeConfig(opts?: { admin?: boolean }): unknown },
  observer: ApiObserver = NO_OBSERVER,
  opts: { admin?: boolean } = {},
): HttpApiClient {
  return apiClientFor(server.kubeConfig(opts) as KubeConfig, observer);
}
