// The resource types this fake serves, with the per-type strategy flags the real registry uses
// (create-on-update, unconditional update, what a delete returns), and Calico CRDs read from the vendored YAML.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

export type CalicoGroup = 'projectcalico.org/v3' | 'crd.projectcalico.org/v1';
export const CALICO_GROUPS: readonly CalicoGroup[] = ['projectcalico.org/v3', 'crd.projectcalico.org/v1'];

export interface PrinterColumn {
  name: string;
  type: string;
  jsonPath: string;
  description?: string | undefined;
  priority?: number | undefined;
  format?: string | undefined;
}

export interface ResourceType {
  group: string; // '' for core
  version: string;
  resource: string; // plural
  singular: string;
  kind: string;
  namespaced: boolean;
  shortNames: string[];
  categories?: string[] | undefined;
  /** field labels the real server accepts in fieldSelector for this type */
  fieldLabels: string[];
  /** CRD schema (openAPIV3Schema) when this is a custom resource */
  schema?: Record<string, unknown> | undefined;
  printerColumns?: PrinterColumn[] | undefined;
  /** strategy flags, as in k8s.io/kubernetes/pkg/registry/<type>/strategy.go or apiextensions' CR strategy */
  allowCreateOnUpdate: boolean;
  allowUnconditionalUpdate: boolean;
  /** CRs and a few core types answer DELETE with the object; the others with a Success Status */
  returnDeletedObject: boolean;
  /** whether metadata.generation is maintained (CRs: yes; nodes, events, leases: no) */
  generation: boolean;
  /** true for CRs: strategic merge patch is refused with 415 */
  custom: boolean;
}

export const groupVersion = (t: ResourceType) => (t.group ? `${t.group}/${t.version}` : t.version);
/** Store key of a resource type: "nodes", "hostendpoints.projectcalico.org", "events.events.k8s.io". */
export const groupResource = (t: ResourceType) => (t.group ? `${t.resource}.${t.group}` : t.resource);

const META_FIELDS = ['metadata.name', 'metadata.namespace'];

function core(resource: string, singular: string, kind: string, namespaced: boolean, extra: Partial<ResourceType> = {}): ResourceType {
  return {
    group: '',
    version: 'v1',
    resource,
    singular,
    kind,
    namespaced,
    shortNames: [],
    fieldLabels: META_FIELDS,
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: true,
    returnDeletedObject: false,
    generation: false,
    custom: false,
    ...extra,
  };
}

export const BUILTIN_TYPES: ResourceType[] = [
  core('namespaces', 'namespace', 'Namespace', false, { shortNames: ['ns'], fieldLabels: ['metadata.name', 'status.phase'] }),
  core('nodes', 'node', 'Node', false, { shortNames: ['no'], fieldLabels: ['metadata.name', 'spec.unschedulable'] }),
  core('events', 'event', 'Event', true, {
    shortNames: ['ev'],
    allowCreateOnUpdate: true,
    fieldLabels: [
      ...META_FIELDS,
      'involvedObject.kind',
      'involvedObject.namespace',
      'involvedObject.name',
      'involvedObject.uid',
      'involvedObject.apiVersion',
      'involvedObject.resourceVersion',
      'involvedObject.fieldPath',
      'reason',
      'reportingComponent',
      'source',
      'type',
    ],
  }),
  {
    ...core('events', 'event', 'Event', true, { shortNames: ['ev'], allowCreateOnUpdate: true }),
    group: 'events.k8s.io',
    version: 'v1',
    fieldLabels: [...META_FIELDS, 'regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid', 'reason', 'type', 'reportingController'],
  },
  {
    ...core('leases', 'lease', 'Lease', true, { allowCreateOnUpdate: true, allowUnconditionalUpdate: false }),
    group: 'coordination.k8s.io',
    version: 'v1',
  },
];

const CRD_DIR = fileURLToPath(new URL('./crds/', import.meta.url));
const CALICO_RESOURCES = ['hostendpoints', 'globalnetworkpolicies', 'felixconfigurations', 'tiers'] as const;
const crdCache = new Map<string, ResourceType>();

interface CrdDoc {
  spec: {
    group: string;
    scope: string;
    names: { plural: string; singular: string; kind: string; shortNames?: string[]; categories?: string[] };
    versions: Array<{ name: string; served: boolean; schema: { openAPIV3Schema: Record<string, unknown> }; additionalPrinterColumns?: PrinterColumn[] }>;
  };
}

/** Builds a ResourceType from one CRD document (also usable for tests that want another CRD). */
export function typeFromCrd(crd: CrdDoc, version?: string): ResourceType {
  const v = crd.spec.versions.find((x) => (version ? x.name === version : x.served));
  if (!v) throw new Error(`CRD ${crd.spec.names.plural}.${crd.spec.group} has no version ${version ?? '(served)'}`);
  return {
    group: crd.spec.group,
    version: v.name,
    resource: crd.spec.names.plural,
    singular: crd.spec.names.singular,
    kind: crd.spec.names.kind,
    namespaced: crd.spec.scope === 'Namespaced',
    shortNames: crd.spec.names.shortNames ?? [],
    categories: crd.spec.names.categories,
    fieldLabels: META_FIELDS,
    schema: v.schema.openAPIV3Schema,
    printerColumns: v.additionalPrinterColumns ?? [],
    allowCreateOnUpdate: false,
    allowUnconditionalUpdate: false,
    returnDeletedObject: true,
    generation: true,
    custom: true,
  };
}

export function calicoTypes(group: CalicoGroup): ResourceType[] {
  const g = group.split('/')[0]!;
  // Tiers are vendored for projectcalico.org only (the policy guard reads them; crds/SOURCE.md).
  return CALICO_RESOURCES.filter((r) => existsSync(CRD_DIR + `${g}_${r}.yaml`)).map((r) => {
    const file = `${g}_${r}.yaml`;
    let t = crdCache.get(file);
    if (!t) {
      const doc = parseAllDocuments(readFileSync(CRD_DIR + file, 'utf8'))[0]!.toJS() as CrdDoc;
      t = typeFromCrd(doc);
      crdCache.set(file, t);
    }
    return t;
  });
}

export class Registry {
  readonly types: ResourceType[];
  constructor(calicoGroups: readonly CalicoGroup[], extra: ResourceType[] = []) {
    this.types = [...BUILTIN_TYPES, ...calicoGroups.flatMap(calicoTypes), ...extra];
  }
  find(group: string, version: string, resource: string): ResourceType | undefined {
    return this.types.find((t) => t.group === group && t.version === version && t.resource === resource);
  }
  byGroupResource(gr: string): ResourceType | undefined {
    return this.types.find((t) => groupResource(t) === gr);
  }
  /** Resolves apiVersion + kind (as in an object or an ownerReference) to its type. */
  byKind(apiVersion: string, kind: string): ResourceType | undefined {
    return (
      this.types.find((t) => groupVersion(t) === apiVersion && t.kind === kind) ??
      this.types.find((t) => t.group === (apiVersion.includes('/') ? apiVersion.split('/')[0] : '') && t.kind === kind)
    );
  }
  /** Group -> versions, in registration order, for discovery. */
  groups(): Map<string, string[]> {
    const m = new Map<string, string[]>();
    for (const t of this.types) {
      const vs = m.get(t.group) ?? [];
      if (!vs.includes(t.version)) vs.push(t.version);
      m.set(t.group, vs);
    }
    return m;
  }
}
