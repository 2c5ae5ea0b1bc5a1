// `plan`: the HostEndpoints this machine should have, as YAML or JSON that `kubectl apply -f` or
// `calicoctl apply -f` takes. Reads the kernel and, for the Node's labels, the cluster if it can.
import { hostname } from 'node:os';
import { stringify } from 'yaml';
import { discoverInterfaces } from '../../adapters/netlink/discover.ts';
import { findKubeConfig } from '../../adapters/kube/kubeconfig.ts';
import { desiredStateBuilder, type NodeFacts } from '../../core/desired.ts';
import type { HostEndpoint } from '../../core/model.ts';
import { oneOf, commandConfig, parseFlags } from '../flags.ts';
import { clusterNodeSource, nodeFactsForCli } from '../node-labels.ts';
import { EXIT_OK, type CliIo } from '../io.ts';

const HELP = `usage: calico-hep-agent plan [flags]

Prints the HostEndpoints the agent would keep for this machine.

  --config FILE          YAML config file (default: none, built-in defaults)
  --node-name NAME       Node name (default: $NODE_NAME, then the config's nodeName, then the hostname)
  --node-labels k=v,...  the Node's labels; without it they are read from the cluster when a
                         kubeconfig is found (--kubeconfig, $KUBECONFIG, in-cluster, ~/.kube/config);
                         with it no cluster is needed
  --kubeconfig FILE      kubeconfig for reading the Node's labels
  --output yaml|json     output format (default yaml; json is a v1 List)
`;

export function formatHostEndpoints(heps: readonly HostEndpoint[], output: 'yaml' | 'json'): string {
  if (output === 'json') return `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: heps }, null, 2)}\n`;
  return heps.map((h) => `---\n${stringify(h, { lineWidth: 0 })}`).join('');
}

export async function plan(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    config: { type: 'string' },
    'node-name': { type: 'string' },
    'node-labels': { type: 'string' },
    kubeconfig: { type: 'string' },
    output: { type: 'string', short: 'o' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  const output = oneOf(values.output, ['yaml', 'json'] as const, '--output', 'yaml');
  const config = await commandConfig({ file: values.config, env: io.env, overrides: { nodeName: values['node-name'] } });
  const nodeName = config.nodeName ?? hostname().toLowerCase();

  // Discovery and the Node lookup are independent: run them together.
  const [interfaces, node] = await Promise.all([discoverInterfaces(), nodeFacts(nodeName, values['node-labels'], values.kubeconfig, io)]);
  const state = desiredStateBuilder(config)(node, interfaces);
  for (const warning of state.warnings) io.stderr.write(`warning: ${warning}\n`);
  io.stdout.write(formatHostEndpoints(state.hostEndpoints, output));
  return EXIT_OK;
}

async function nodeFacts(name: string, labelFlag: string | undefined, kubeconfig: string | undefined, io: CliIo): Promise<NodeFacts> {
  const kc = labelFlag === undefined ? await findKubeConfig({ file: kubeconfig, env: io.env }) : undefined;
  return nodeFactsForCli(name, labelFlag, kc === undefined ? undefined : clusterNodeSource(kc), io);
}
