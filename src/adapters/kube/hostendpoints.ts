// HostEndpoint reads and writes through the ApiClient, in either Calico API.
// Everything above this module sees the projectcalico.org/v3 shape; the crd.projectcalico.org/v1
// wire format (labels mirrored into the projectcalico.org/metadata annotation) stays in here.
import type { HostEndpoint } from '../../core/model.ts';
import { CALICO_V3_API_VERSION } from '../../core/model.ts';
import { apiVersionOf, type CalicoApiGroup } from './calico-api.ts';
import type { ApiClient } from './api-client.ts';
import { apiFailure } from './errors.ts';

const PLURAL = 'hostendpoints';
/** Where Calico >= 3.28 keeps a v1 object's v3 metadata (labels, annotations, owners). */
export const CALICO_METADATA_ANNOTATION = 'projectcalico.org/metadata';

/**
 * The v3 view of a stored object, as Calico itself reads crd.projectcalico.org/v1 objects. `raw` is
 * not modified (the result shares its unchanged parts: no deep copy of every listed object).
 */
/** A string-to-string map as JSON holds it; `null` and absent read as empty (Go's json.Unmarshal into a map). */
function stringMap(v: unknown): Record<string, string> | undefined {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') return undefined;
    out[k] = x;
  }
  return out;
}

/** The labels and annotations in Calico's metadata annotation; undefined when Calico could not read it either. */
function calicoMetadata(text: string): { labels: Record<string, string>; annotations: Record<string, string> } | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (parsed === null) return { labels: {}, annotations: {} };
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  const { labels, annotations } = parsed as { labels?: unknown; annotations?: unknown };
  const l = stringMap(labels);
  const a = stringMap(annotations);
  return l === undefined || a === undefined ? undefined : { labels: l, annotations: a };
}

export function fromWire(raw: unknown, api: CalicoApiGroup): HostEndpoint {
  if (api.group === 'projectcalico.org') return raw as HostEndpoint;
  const obj = { ...(raw as HostEndpoint) };
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  const metaText = annotations[CALICO_METADATA_ANNOTATION];
  delete annotations[CALICO_METADATA_ANNOTATION];
  let labels = { ...(obj.metadata.labels ?? {}) };
  if (metaText !== undefined) {
    const meta = calicoMetadata(metaText);
    // An unreadable annotation (undefined): Calico would fail to read this object too; show the object's labels.
    if (meta !== undefined) {
      // Calico merges: the annotation's labels win over the object's own.
      labels = { ...labels, ...meta.labels };
      Object.assign(annotations, meta.annotations);
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

/** A HostEndpoint as the API returned it: checked once here, so nothing above casts. */
export function asHostEndpointObject(raw: unknown): HostEndpoint {
  const o = raw as { metadata?: { name?: unknown }; spec?: unknown } | null;
  if (o === null || typeof o !== 'object' || typeof o.metadata !== 'object' || o.metadata === null || typeof o.metadata.name !== 'string') {
    throw new Error('not a HostEndpoint: metadata.name is missing');
  }
  if (o.spec !== undefined && (typeof o.spec !== 'object' || o.spec === null)) throw new Error(`HostEndpoint ${o.metadata.name}: spec is not an object`);
  return raw as HostEndpoint;
}

export class HostEndpointApi {
  readonly #api: ApiClient;
  readonly calico: CalicoApiGroup;

  constructor(api: ApiClient, calico: CalicoApiGroup) {
    this.#api = api;
    this.calico = calico;
  }

  /** The collection path, for watches. */
  get path(): string {
    return `/apis/${this.calico.group}/${this.calico.version}/${PLURAL}`;
  }

  /** The Calico v3 view of a raw object from a list or a watch. */
  fromWire(raw: unknown): HostEndpoint {
    return fromWire(asHostEndpointObject(raw), this.calico);
  }

  async list(opts: { labelSelector?: string; limit?: number; continueToken?: string } = {}): Promise<HostEndpointPage> {
    const page = await this.#api.list(this.path, { labelSelector: opts.labelSelector, limit: opts.limit, continue: opts.continueToken });
    return { items: page.items.map((i) => this.fromWire(i)), resourceVersion: page.resourceVersion, continue: page.continue };
  }

  /** `undefined` when it does not exist. */
  async get(name: string): Promise<HostEndpoint | undefined> {
    try {
      return this.fromWire(await this.#api.get(`${this.path}/${encodeURIComponent(name)}`));
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
  }

  async create(hep: HostEndpoint): Promise<HostEndpoint> {
    const body = toWire(hep, this.calico);
    delete body.metadata.resourceVersion; // a create with a resourceVersion is refused
    return this.fromWire(await this.#api.create(this.path, body));
  }

  /** PUT: fails with 409 Conflict when `hep.metadata.resourceVersion` is stale. */
  async replace(hep: HostEndpoint): Promise<HostEndpoint> {
    const body = toWire(hep, this.calico);
    return this.fromWire(await this.#api.replace(`${this.path}/${encodeURIComponent(hep.metadata.name)}`, body));
  }

  /** Deletes only the version we decided on (precondition), so a concurrent edit is not lost. */
  async delete(name: string, resourceVersion: string | undefined): Promise<void> {
    try {
      await this.#api.delete(`${this.path}/${encodeURIComponent(name)}`, resourceVersion !== undefined ? { resourceVersion } : undefined);
    } catch (err) {
      if (apiFailure(err).code === 404) return; // already gone: the goal is reached
      throw err;
    }
  }
}
