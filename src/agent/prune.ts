// Deletes managed HEPs whose Node no longer exists. Garbage collection through the ownerReference
// normally does this; prune covers HEPs written before the Node's uid was known, a GC that is
// off or behind, and HEPs whose owner reference someone removed.
import type { ApiClient } from '../adapters/kube/api-client.ts';
import type { HostEndpointApi } from '../adapters/kube/hostendpoints.ts';
import { NODES_PATH, asNode } from '../adapters/kube/nodes.ts';
import type { HostEndpoint } from '../core/model.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../core/ownership.ts';
import type { Logger } from '../logger.ts';

export interface PruneResult {
  readonly orphans: string[];
  readonly deleted: string[];
}

/** Pure: the managed HEPs that name a node not in `nodes`. */
export function orphanedHostEndpoints(heps: readonly HostEndpoint[], nodes: ReadonlySet<string>): HostEndpoint[] {
  return heps.filter((h) => h.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE && !nodes.has(h.spec?.node ?? ''));
}

export async function prune(api: ApiClient, heps: HostEndpointApi, deps: { logger: Logger; dryRun: boolean }): Promise<PruneResult> {
  // HEPs first, then Nodes: a Node created in between is then seen, never mistaken for missing.
  const managed: HostEndpoint[] = [];
  let continueToken: string | undefined;
  do {
    const page = await heps.list({
      labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}`,
      limit: 500,
      ...(continueToken !== undefined ? { continueToken } : {}),
    });
    managed.push(...page.items);
    continueToken = page.continue;
  } while (continueToken !== undefined);
  const nodes = new Set<string>();
  let nodeContinue: string | undefined;
  do {
    const page = await api.list(NODES_PATH, { limit: 500, continue: nodeContinue });
    for (const n of page.items) nodes.add(asNode(n).metadata.name);
    nodeContinue = page.continue;
  } while (nodeContinue !== undefined);

  const orphans = orphanedHostEndpoints(managed, nodes);
  const deleted: string[] = [];
  for (const h of orphans) {
    if (deps.dryRun) {
      deps.logger.info({ dryRun: true, hostEndpoint: h.metadata.name, node: h.spec.node }, 'would delete orphaned HostEndpoint');
      continue;
    }
    await heps.delete(h.metadata.name, h.metadata.resourceVersion);
    deleted.push(h.metadata.name);
    deps.logger.info({ hostEndpoint: h.metadata.name, node: h.spec.node }, 'deleted orphaned HostEndpoint');
  }
  return { orphans: orphans.map((h) => h.metadata.name), deleted };
}
