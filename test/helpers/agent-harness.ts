// The agent in-process on fake time, over the real HttpApiClient, against the fake API server.
// The agent's timers (debounce, backoff, requeue, reflector backoff) run on a ManualClock that the
// test advances; only the API's I/O is real. `until` waits for a condition, advancing fake time to
// the next armed timer whenever the agent is idle: assertions are on state and counters, never on
// how much wall time passed.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Registry } from 'prom-client';
import type { HttpApiClient } from '../../src/adapters/kube/http-client.ts';
import { apiClientFor } from '../../src/adapters/kube/kubeconfig.ts';
import { Agent, type KernelEvents } from '../../src/agent/agent.ts';
import { NodeEventRecorder } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import type { NetInterface } from '../../src/core/model.ts';
import { createLogger, silentLogger } from '../../src/logger.ts';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import type { FakeApiServer } from '../fake-apiserver/index.ts';
import { ManualClock } from './manual-clock.ts';

export interface AgentHarness {
  agent: Agent;
  clock: ManualClock;
  api: HttpApiClient;
  metrics: AgentMetrics;
  events: NodeEventRecorder;
  config: Config;
  setInterfaces(list: NetInterface[]): void;
  failDiscovery(on: boolean): void;
  /** Waits for `check`, moving fake time on while the agent is idle; fails after `maxFakeMs` of fake time or 20 s of real time. */
  until<T>(what: string, check: () => T | Promise<T>, maxFakeMs?: number): Promise<NonNullable<T>>;
  /** Lets real I/O settle and fires every agent timer due within `ms` of fake time. */
  advance(ms: number): Promise<void>;
  metric(name: string, labels?: string): Promise<number | undefined>;
  stop(): Promise<void>;
}

export interface HarnessOptions {
  server: FakeApiServer;
  config?: Record<string, unknown> | undefined;
  interfaces?: NetInterface[] | undefined;
  kc?: KubeConfig | undefined;
  kernelEvents?: KernelEvents | undefined;
  /** Receives the agent's JSON log lines (debug level). */
  logStream?: NodeJS.WritableStream | undefined;
}

const realTick = (ms = 3): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function startAgent(opts: HarnessOptions): AgentHarness {
  const clock = new ManualClock();
  let interfaces = opts.interfaces ?? [];
  let discoveryFails = false;
  const config = validateConfig({
    nodeName: 'n1',
    intervals: { debounceMilliseconds: 100, removalGraceSeconds: 300, rescanSeconds: 3600, resyncSeconds: 3600 },
    ...opts.config,
  });
  const kc = opts.kc ?? opts.server.kubeConfig();
  const metrics = new AgentMetrics(new Registry(), { defaultMetrics: false });
  const api = apiClientFor(kc, metrics);
  const logger =
    opts.logStream !== undefined
      ? createLogger('debug', opts.logStream)
      : process.env['AGENT_TEST_LOGS']
        ? createLogger('debug', process.stderr)
        : silentLogger;
  const events = new NodeEventRecorder(api, 'n1', { logger, clock });
  const agent = new Agent({
    config,
    nodeName: config.nodeName ?? 'n1',
    api,
    discover: () => (discoveryFails ? Promise.reject(new Error('ip: simulated failure')) : Promise.resolve(interfaces)),
    kernelEvents: opts.kernelEvents,
    metrics,
    events,
    logger,
    clock,
    random: () => 0.5,
    version: 'test',
  });
  agent.start();
  const settle = () => realTick(1);
  const advance = async (ms: number): Promise<void> => {
    await realTick();
    await clock.advance(ms, settle);
    await realTick();
  };
  const until = async <T>(what: string, check: () => T | Promise<T>, maxFakeMs = 600_000): Promise<NonNullable<T>> => {
    const fakeEnd = clock.now() + maxFakeMs;
    const realEnd = Date.now() + 20_000;
    let last: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v) return v;
      } catch (err) {
        last = err;
      }
      if (Date.now() > realEnd || clock.now() >= fakeEnd) {
        throw new Error(
          `timed out waiting for ${what} (fake ${maxFakeMs} ms)${last ? `: ${last instanceof Error ? String(last) : JSON.stringify(last)}` : ''}`,
        );
      }
      await realTick();
      const next = clock.nextAt();
      if (next !== undefined && !agent.busy) await clock.advance(Math.min(next, fakeEnd) - clock.now(), settle);
    }
  };
  return {
    agent,
    clock,
    api,
    metrics,
    events,
    config,
    setInterfaces(list) {
      interfaces = list;
      agent.kernelChanged('test');
    },
    failDiscovery(on) {
      discoveryFails = on;
    },
    until,
    advance,
    async metric(name, labels = '') {
      const text = await metrics.registry.metrics();
      const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || (labels === '' && l.startsWith(`${name} `)));
      return line === undefined ? undefined : Number(line.split(' ')[1]);
    },
    async stop() {
      await agent.stop();
      await events.flush();
      api.close();
    },
  };
}
