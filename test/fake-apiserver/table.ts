// Server-side printing (meta.k8s.io/v1 Table), which kubectl get asks for with `Accept: ...;as=Table`.
// CRs get Name + additionalPrinterColumns + Age, as the real CRD handler does; a few built-ins get their usual columns.
import type { ResourceType } from './resources.ts';
import type { KubeObject } from './store.ts';

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}
const col = (name: string, type = 'string', format = '', priority = 0): Column => ({ name, type, format, description: name, priority });

export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

function age(ts: string | undefined): string {
  if (!ts) return '<unknown>';
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Evaluates the simple JSONPath subset CRD printer columns use (`.spec.node`, `.metadata.labels.x`). */
function jsonPath(o: unknown, path: string): unknown {
  let cur = o;
  for (const p of path.replace(/^\./, '').split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur;
}

function columnsFor(t: ResourceType): { cols: Column[]; cells: (o: KubeObject) => unknown[] } {
  const name = col('Name', 'string', 'name');
  if (t.custom) {
    const pcs = (t.printerColumns ?? []).filter((c) => c.jsonPath !== '.metadata.creationTimestamp');
    return {
      cols: [name, ...pcs.map((c) => ({ ...col(c.name, c.type, c.format ?? '', c.priority ?? 0), description: c.description ?? c.name })), col('Age', 'date')],
      // The CRD table convertor renders date columns as ages ("5m"), not timestamps.
      cells: (o) => [o.metadata.name, ...pcs.map((c) => jsonPath(o, c.jsonPath) ?? null), age(o.metadata.creationTimestamp)],
    };
  }
  if (t.resource === 'nodes') {
    return {
      cols: [name, col('Status'), col('Roles'), col('Age'), col('Version')],
      cells: (o) => {
        const conds = (o.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? [];
        const ready = conds.find((c) => c.type === 'Ready');
        const status = ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown';
        const roles =
          Object.keys(o.metadata.labels ?? {})
            .filter((k) => k.startsWith('node-role.kubernetes.io/'))
            .map((k) => k.split('/')[1])
            .join(',') || '<none>';
        const version = (o.status as { nodeInfo?: { kubeletVersion?: string } } | undefined)?.nodeInfo?.kubeletVersion ?? '';
        return [o.metadata.name, o.metadata.deletionTimestamp ? `${status},SchedulingDisabled` : status, roles, age(o.metadata.creationTimestamp), version];
      },
    };
  }
  if (t.resource === 'namespaces') {
    return {
      cols: [name, col('Status'), col('Age')],
      cells: (o) => [o.metadata.name, o.metadata.deletionTimestamp ? 'Terminating' : 'Active', age(o.metadata.creationTimestamp)],
    };
  }
  if (t.resource === 'leases') {
    return {
      cols: [name, col('Holder'), col('Age')],
      cells: (o) => [o.metadata.name, (o.spec as { holderIdentity?: string } | undefined)?.holderIdentity ?? '', age(o.metadata.creationTimestamp)],
    };
  }
  return { cols: [name, col('Age')], cells: (o) => [o.metadata.name, age(o.metadata.creationTimestamp)] };
}

export function toTable(
  t: ResourceType,
  objs: KubeObject[],
  listMeta: Record<string, unknown>,
  includeObject: string | null,
  withColumns = true,
): Record<string, unknown> {
  const { cols, cells } = columnsFor(t);
  const rows = objs.map((o) => {
    const row: Record<string, unknown> = { cells: cells(o) };
    if (includeObject === 'Object') row.object = o;
    else if (includeObject !== 'None') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata };
    return row;
  });
  const table: Record<string, unknown> = { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: listMeta };
  if (withColumns) table.columnDefinitions = cols;
  table.rows = rows;
  return table;
}
