import type { NodeFacts } from '../../core/desired.ts';
import type { ApiClient } from './api-client.ts';
import { apiFailure } from './errors.ts';

/** The parts of a Node the agent reads. */
export interface NodeObject {
  metadata: { name: string; uid?: string | undefined; resourceVersion?: string | undefined; labels?: Record<string, string> | undefined };
}

/** A Node as the API returned it, checked once: name a string, labels a map of strings. */
export function asNode(raw: unknown): NodeObject {
  const o = raw as { metadata?: { name?: unknown; uid?: unknown; resourceVersion?: unknown; labels?: unknown } } | null;
  const m = o?.metadata;
  if (m === undefined || m === null || typeof m !== 'object' || typeof m.name !== 'string') throw new Error('not a Node: metadata.name is missing');
  const labels: Record<string, string> = {};
  if (m.labels !== undefined && m.labels !== null) {
    if (typeof m.labels !== 'object') throw new Error(`Node ${m.name}: labels are not a map`);
    for (const [k, v] of Object.entries(m.labels)) if (typeof v === 'string') labels[k] = v;
  }
  return {
    metadata: {
      name: m.name,
      uid: typeof m.uid === 'string' ? m.uid : undefined,
      resourceVersion: typeof m.resourceVersion === 'string' ? m.resourceVersion : undefined,
      labels,
    },
  };
}

export const NODES_PATH = '/api/v1/nodes';

/** Reads one Node's name, uid and labels. `undefined` when the Node does not exist. */
export async function readNodeFacts(api: ApiClient, name: string): Promise<NodeFacts | undefined> {
  try {
    const node = asNode(await api.get(`${NODES_PATH}/${encodeURIComponent(name)}`));
    return { name, uid: node.metadata.uid, labels: node.metadata.labels ?? {} };
  } catch (err) {
    const failure = apiFailure(err);
    // Only an API server's NotFound Status means "no such Node"; a bare 404 is something else answering.
    if (failure.code === 404 && failure.reason === 'NotFound') return undefined;
    if (failure.code === 404)
      throw new Error(`cannot read Node ${name}: HTTP 404 without a Kubernetes Status: the server is not a Kubernetes API server`, { cause: err });
    throw new Error(`cannot read Node ${name}: ${failure.message}`, { cause: err });
  }
}
