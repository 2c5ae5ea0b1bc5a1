// Deletes managed HEPs whose Node no longer exists. Garbage collection through the ownerReference
// normally does this; prune covers HEPs written before the Node's uid was known, a GC that is
// off or behind, and HEPs whose owner reference someone removed.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { observed } from '../adapters/kube/calls.ts';
import type { HostEndpointApi } from '../adapters/kube/hostendpoints.ts';
import type { ApiObserver } from '../adapters/kube/observer.ts';
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

export async function prune(
  kc: KubeConfig,
  heps: HostEndpointApi,
  deps: { observer: ApiObserver; logger: Logger; dryRun: boolean },
): Promise<PruneResult> {
  const core = kc.makeApiClient(CoreV1Api);
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
    const page = await observed(deps.observer, 'list', 'nodes', () =>
      core.listNode({ limit: 500, ...(nodeContinue !== undefined ? { _continue: nodeContinue } : {}) }),
    );
    for (const n of page.items) if (n.metadata?.name !== undefined) nodes.add(n.metadata.name);
    nodeContinue = page.metadata?._continue || undefined;
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
