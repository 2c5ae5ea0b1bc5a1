// The agent in the benchmark's own process, over the real HttpApiClient against a fake API server, with
// two fixed interfaces: for benchmarks that run many agents or count each agent's API calls.
import type { KubeConfig } from '@kubernetes/client-node';
import { Registry } from 'prom-client';
import type { ApiClient } from '../../src/adapters/kube/api-client.ts';
import { kubeConfigCredentials } from '../../src/adapters/kube/credentials.ts';
import { HttpApiClient } from '../../src/adapters/kube/http-client.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NO_EVENTS } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { iface } from '../../test/helpers/interfaces.ts';

export interface InProcessAgentOptions {
  readonly minWatchTimeoutSeconds?: number | undefined;
}

/** `wrapApi` gives the client the agent uses: the HttpApiClient itself, or a wrapper (e.g. counting its calls). */
export function inProcessAgent<A extends ApiClient>(
  kc: KubeConfig,
  nodeName: string,
  wrapApi: (http: HttpApiClient) => A,
  options: InProcessAgentOptions = {},
) {
  const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
  const http = new HttpApiClient({ credentials: kubeConfigCredentials(kc), observer: metrics });
  const api = wrapApi(http);
  const agent = new Agent({
    config: validateConfig({ nodeName }),
    nodeName,
    api,
    discover: () => Promise.resolve([iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])]),
    metrics,
    events: NO_EVENTS,
    logger: silentLogger,
    clock: systemClock,
    version: 'bench',
    ...(options.minWatchTimeoutSeconds !== undefined ? { minWatchTimeoutSeconds: options.minWatchTimeoutSeconds } : {}),
  });
  return {
    agent,
    api,
    metrics,
    stop: async () => {
      await agent.stop();
      http.close();
    },
  };
}
