// The Node's labels for `plan` and `explain`: from --node-labels, else from the cluster when a
// kubeconfig is found. Both commands say the same thing when the labels are missing, and a cluster
// that cannot be read is an error that says how to do without one.
import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiClient } from '../adapters/kube/api-client.ts';
import { apiClientFor } from '../adapters/kube/kubeconfig.ts';
import { readNodeFacts } from '../adapters/kube/nodes.ts';
import { NO_OBSERVER } from '../adapters/kube/observer.ts';
import type { NodeFacts } from '../core/desired.ts';
import { parseLabelList } from './flags.ts';
import { errorMessage } from '../core/error-message.ts';
import type { CliIo } from './io.ts';

const WITHOUT_CLUSTER =
  "to compute without a cluster, give the Node's labels: --node-labels key=value,... (e.g. --node-labels node-role.kubernetes.io/control-plane=)";

/** Where a Node is read from: the API server's URL (for messages) and the read itself. */
export interface NodeSource {
  readonly server: string;
  /** The Node's facts, `undefined` when the API server says it does not exist; rejects otherwise. */
  read(name: string): Promise<NodeFacts | undefined>;
}

/** The Nodes of the kubeconfig's cluster, read through the access layer (`api` when one is open already). */
export function clusterNodeSource(kc: KubeConfig, api?: ApiClient): NodeSource {
  const client = api ?? apiClientFor(kc, NO_OBSERVER);
  return { server: kc.getCurrentCluster()?.server ?? 'the cluster', read: (name) => readNodeFacts(client, name) };
}

export async function nodeFactsForCli(name: string, labelFlag: string | undefined, source: NodeSource | undefined, io: CliIo): Promise<NodeFacts> {
  if (labelFlag !== undefined) return { name, labels: parseLabelList(labelFlag, '--node-labels') };
  if (source === undefined) {
    io.stderr.write(`note: no --node-labels and no kubeconfig found: computing HostEndpoints without Node labels; ${WITHOUT_CLUSTER}\n`);
    return { name, labels: {} };
  }
  let facts: NodeFacts | undefined;
  try {
    facts = await source.read(name);
  } catch (err) {
    throw new Error(`${errorMessage(err)} (API server ${source.server})\n  ${WITHOUT_CLUSTER}`, { cause: err });
  }
  if (facts === undefined) {
    io.stderr.write(`note: Node "${name}" not found at ${source.server}: computing HostEndpoints without Node labels; ${WITHOUT_CLUSTER}\n`);
    return { name, labels: {} };
  }
  // The uid is left out: the output is for `apply`, and an ownerReference to a uid is the agent's business.
  return { name, labels: facts.labels };
}
