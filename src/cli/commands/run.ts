// `run`: the DaemonSet's process. Wires the adapters around the agent and owns the process
// lifecycle: SIGTERM/SIGINT stop within the grace the kubelet gives, leaving every HEP in place.
import { Registry } from 'prom-client';
import { NetlinkMonitor, deathSignalPrefix } from '../../adapters/netlink/monitor.ts';
import { discoverInterfaces } from '../../adapters/netlink/discover.ts';
import { startProbeServer } from '../../adapters/http/server.ts';
import { apiClientFor, requireKubeConfig } from '../../adapters/kube/kubeconfig.ts';
import { systemClock } from '../../adapters/system-clock.ts';
import { Agent } from '../../agent/agent.ts';
import { NodeEventRecorder } from '../../agent/events.ts';
import { interfaceNameFilter } from '../../core/select.ts';
import { createLogger } from '../../logger.ts';
import { AgentMetrics } from '../../observability/metrics.ts';
import { VERSION } from '../../version.ts';
import { commandConfig, parseFlags } from '../flags.ts';
import { EXIT_OK, UsageError, type CliIo } from '../io.ts';

const HELP = `usage: calico-hep-agent run [flags]

Keeps this node's Calico HostEndpoints correct until SIGTERM.

  --config FILE       YAML config file
  --kubeconfig FILE   kubeconfig (default: in-cluster service account, then $KUBECONFIG, ~/.kube/config)
  --node-name NAME    this node (default: $NODE_NAME; required one way or the other)
  --dry-run           log the writes instead of making them
  --audit             report drift, change nothing (mode: audit)
  --netns NAME        watch a named network namespace instead of the host's (testing)
`;

/** How long shutdown may take before we exit anyway; the kubelet's default grace is 30 s. */
const SHUTDOWN_BUDGET_MS = 4_000;

export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    config: { type: 'string' },
    kubeconfig: { type: 'string' },
    'node-name': { type: 'string' },
    'dry-run': { type: 'boolean' },
    audit: { type: 'boolean' },
    netns: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  let config = await commandConfig({ file: values.config, env: io.env, overrides: { nodeName: values['node-name'] } });
  if (values['dry-run'] === true) config = { ...config, dryRun: true };
  if (values.audit === true) config = { ...config, mode: 'audit' as const };
  const nodeName = config.nodeName;
  if (nodeName === undefined) throw new UsageError('NODE_NAME is required (set it from the downward API: spec.nodeName), or pass --node-name');

  const kc = await requireKubeConfig({ file: values.kubeconfig, env: io.env });
  const logger = createLogger(config.logLevel, io.stdout);
  const clock = systemClock;
  const metrics = new AgentMetrics(new Registry());
  const client = apiClientFor(kc, metrics, { userAgent: `calico-hep-agent/${VERSION}` });
  const events = new NodeEventRecorder(client, nodeName, { logger, clock });
  const netns = values.netns;
  // The monitor starts in agent.start(), so its callback never runs before `agent` is initialised.
  const kernelEvents = new NetlinkMonitor({
    onChange: (change) => agent.kernelChanged(`netlink ${change.reason}`),
    netns,
    logger,
    // Pod churn (cali*, veth*) and other deselected links cause no work at all.
    linkFilter: interfaceNameFilter(config.interfaces),
    spawnPrefix: await deathSignalPrefix(),
  });
  const agent = new Agent({
    config,
    nodeName,
    api: client,
    discover: () => discoverInterfaces(netns !== undefined ? { netns } : {}),
    kernelEvents,
    metrics,
    events,
    logger,
    clock,
    version: VERSION,
  });
  const server = await startProbeServer({ address: config.server.address, port: config.server.port, registry: metrics.registry, health: agent });
  logger.info({ version: VERSION, node: nodeName, port: server.port }, 'calico-hep-agent listening for probes and scrapes');
  agent.start();

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'stopping; HostEndpoints stay in place');
  const budget = setTimeout(() => {
    logger.warn({}, 'shutdown budget exceeded; exiting');
    process.exit(0);
  }, SHUTDOWN_BUDGET_MS);
  budget.unref();
  await Promise.allSettled([agent.stop(), server.close(), events.flush()]);
  client.close();
  clearTimeout(budget);
  return EXIT_OK;
}
