import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { NodeFacts } from '../../core/desired.ts';
import { apiFailure } from './errors.ts';

/** Reads one Node's name, uid and labels. `undefined` when the Node does not exist. */
export async function readNodeFacts(kc: KubeConfig, name: string): Promise<NodeFacts | undefined> {
  const api = kc.makeApiClient(CoreV1Api);
  try {
    const node = await api.readNode({ name });
    return { name, uid: node.metadata?.uid, labels: node.metadata?.labels ?? {} };
  } catch (err) {
    const failure = apiFailure(err);
    // Only an API server's NotFound Status means "no such Node"; a bare 404 is something else answering.
    if (failure.code === 404 && failure.reason === 'NotFound') return undefined;
    if (failure.code === 404) throw new Error(`cannot read Node ${name}: HTTP 404 without a Kubernetes Status: the server is not a Kubernetes API server`);
    throw new Error(`cannot read Node ${name}: ${failure.message}`);
  }
}
