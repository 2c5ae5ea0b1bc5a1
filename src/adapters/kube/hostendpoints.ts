// HostEndpoint reads and writes through client-node's CustomObjectsApi, in either Calico API.
// Everything above this module sees the projectcalico.org/v3 shape; the crd.projectcalico.org/v1
// wire format (labels mirrored into the projectcalico.org/metadata annotation) stays in here.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { HostEndpoint } from '../../core/model.ts';
import { CALICO_V3_API_VERSION } from '../../core/model.ts';
import { apiVersionOf, type CalicoApiGroup } from './calico-api.ts';
import { observed } from './calls.ts';
import { apiFailure } from './errors.ts';
import type { ApiObserver } from './observer.ts';

const PLURAL = 'hostendpoints';
/** Where Calico >= 3.28 keeps a v1 object's v3 metadata (labels, annotations, owners). */
export const CALICO_METADATA_ANNOTATION = 'projectcalico.org/metadata';

/** The v3 view of a stored object, as Calico itself reads crd.projectcalico.org/v1 objects. */
export function fromWire(raw: unknown, api: CalicoApiGroup): HostEndpoint {
  const obj = structuredClone(raw) as HostEndpoint;
  if (api.group === 'projectcalico.org') return obj;
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  const metaText = annotations[CALICO_METADATA_ANNOTATION];
  delete annotations[CALICO_METADATA_ANNOTATION];
  let labels = { ...(obj.metadata.labels ?? {}) };
  if (metaText !== undefined) {
    try {
      const meta = JSON.parse(metaText) as { labels?: Record<string, string>; annotations?: Record<string, string> };
      // Calico merges: the annotation's labels win over the object's own.
      labels = { ...labels, ...(meta.labels ?? {}) };
      Object.assign(annotations, meta.annotations ?? {});
    } catch {
      // An unreadable annotation: Calico would fail to read this object too; show the object's labels.
    }
  }
  obj.metadata = { ...obj.metadata, labels };
  if (Object.keys(annotations).length > 0) obj.metadata.annotations = annotations;
  else delete obj.metadata.annotations;
  obj.apiVersion = CALICO_V3_API_VERSION;
  return obj;
}

/** The object to send. For v1, labels go both on the object (our selectors) and in the annotation (Calico). */
export function toWire(hep: HostEndpoint, api: CalicoApiGroup): HostEndpoint {
  const obj = structuredClone(hep);
  obj.apiVersion = apiVersionOf(api);
  if (api.group === 'projectcalico.org') return obj;
  const { [CALICO_METADATA_ANNOTATION]: _old, ...otherAnnotations } = obj.metadata.annotations ?? {};
  const meta: Record<string, unknown> = { labels: obj.metadata.labels ?? {} };
  if (Object.keys(otherAnnotations).length > 0) meta['annotations'] = otherAnnotations;
  obj.metadata.annotations = { ...otherAnnotations, [CALICO_METADATA_ANNOTATION]: JSON.stringify(meta) };
  return obj;
}

export interface HostEndpointPage {
  readonly items: HostEndpoint[];
  readonly resourceVersion: string;
  readonly continue: string | undefined;
}

export class HostEndpointApi {
  readonly #api: CustomObjectsApi;
  readonly calico: CalicoApiGroup;
  readonly #observer: ApiObserver;

  constructor(kc: KubeConfig, calico: CalicoApiGroup, observer: ApiObserver) {
    this.#api = kc.makeApiClient(CustomObjectsApi);
    this.calico = calico;
    this.#observer = observer;
  }

  /** The collection path, for watches. */
  get path(): string {
    return `/apis/${this.calico.group}/${this.calico.version}/${PLURAL}`;
  }

  #target() {
    return { group: this.calico.group, version: this.calico.version, plural: PLURAL };
  }

  async list(opts: { labelSelector?: string; limit?: number; continueToken?: string } = {}): Promise<HostEndpointPage> {
    const res = (await observed(this.#observer, 'list', PLURAL, () =>
      this.#api.listClusterCustomObject({
        ...this.#target(),
        ...(opts.labelSelector !== undefined ? { labelSelector: opts.labelSelector } : {}),
        ...(opts.limit !== undefined ? { limit: opts.limit } : {}),
        ...(opts.continueToken !== undefined ? { _continue: opts.continueToken } : {}),
      }),
    )) as { items?: unknown[]; metadata?: { resourceVersion?: string; continue?: string } };
    return {
      items: (res.items ?? []).map((i) => fromWire(i, this.calico)),
      resourceVersion: res.metadata?.resourceVersion ?? '',
      continue: res.metadata?.continue || undefined,
    };
  }

  /** `undefined` when it does not exist. */
  async get(name: string): Promise<HostEndpoint | undefined> {
    try {
      const raw = await observed(this.#observer, 'get', PLURAL, () => this.#api.getClusterCustomObject({ ...this.#target(), name }));
      return fromWire(raw, this.calico);
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
  }

  async create(hep: HostEndpoint): Promise<HostEndpoint> {
    const body = toWire({ ...hep, metadata: { ...hep.metadata, resourceVersion: undefined } as HostEndpoint['metadata'] }, this.calico);
    delete body.metadata.resourceVersion;
    const raw = await observed(this.#observer, 'create', PLURAL, () => this.#api.createClusterCustomObject({ ...this.#target(), body }));
    return fromWire(raw, this.calico);
  }

  /** PUT: fails with 409 Conflict when `hep.metadata.resourceVersion` is stale. */
  async replace(hep: HostEndpoint): Promise<HostEndpoint> {
    const body = toWire(hep, this.calico);
    const raw = await observed(this.#observer, 'update', PLURAL, () =>
      this.#api.replaceClusterCustomObject({ ...this.#target(), name: hep.metadata.name, body }),
    );
    return fromWire(raw, this.calico);
  }

  /** Deletes only the version we decided on (precondition), so a concurrent edit is not lost. */
  async delete(name: string, resourceVersion: string | undefined): Promise<void> {
    const body = resourceVersion !== undefined ? { preconditions: { resourceVersion } } : {};
    try {
      await observed(this.#observer, 'delete', PLURAL, () => this.#api.deleteClusterCustomObject({ ...this.#target(), name, body }));
    } catch (err) {
      if (apiFailure(err).code === 404) return; // already gone: the goal is reached
      throw err;
    }
  }
}
