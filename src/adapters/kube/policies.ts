// Read-only access to the Calico objects that decide what a HostEndpoint lets through:
// GlobalNetworkPolicies, staged ones, Tiers and FelixConfigurations, in whichever Calico API group is in use.
import type { ApiClient } from './api-client.ts';
import type { CalicoApiGroup } from './calico-api.ts';
import { apiFailure } from './errors.ts';

export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

export class CalicoPolicyApi {
  readonly #api: ApiClient;
  readonly calico: CalicoApiGroup;

  constructor(api: ApiClient, calico: CalicoApiGroup) {
    this.#api = api;
    this.calico = calico;
  }

  #path(plural: string): string {
    return `/apis/${this.calico.group}/${this.calico.version}/${plural}`;
  }

  /** Collection path of GlobalNetworkPolicies, for watches. */
  get globalNetworkPoliciesPath(): string {
    return this.#path('globalnetworkpolicies');
  }

  /** Every GlobalNetworkPolicy, paged; `kind` is filled in (list items may lack it). */
  async listGlobalNetworkPolicies(): Promise<{ items: RawObject[]; resourceVersion: string }> {
    const items: RawObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion: string;
    do {
      const page = await this.#api.list(this.globalNetworkPoliciesPath, { limit: 500, continue: continueToken });
      for (const item of page.items) items.push(asPolicy(item));
      resourceVersion = page.resourceVersion;
      continueToken = page.continue;
    } while (continueToken !== undefined);
    return { items, resourceVersion };
  }

  /** Tiers; `undefined` when the API does not serve them (Calico before 3.30, or no tiers CRD). */
  async listTiers(): Promise<RawObject[] | undefined> {
    try {
      const items: RawObject[] = [];
      let continueToken: string | undefined;
      do {
        const page = await this.#api.list(this.#path('tiers'), { limit: 500, continue: continueToken });
        for (const t of page.items) items.push({ ...asRawObject(t), kind: 'Tier' });
        continueToken = page.continue;
      } while (continueToken !== undefined);
      return items;
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
  }

  /**
   * Every object of a cluster-scoped Calico resource (`stagedglobalnetworkpolicies`,
   * `felixconfigurations`), paged, with `kind` filled in; `undefined` when the API does not serve it.
   */
  async listAll(plural: string, kind: string): Promise<RawObject[] | undefined> {
    const items: RawObject[] = [];
    let continueToken: string | undefined;
    try {
      do {
        const page = await this.#api.list(this.#path(plural), { limit: 500, continue: continueToken });
        for (const item of page.items) items.push({ ...asRawObject(item), kind });
        continueToken = page.continue;
      } while (continueToken !== undefined);
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
    return items;
  }

  /** One FelixConfiguration; `undefined` when it does not exist. */
  async getFelixConfiguration(name: string): Promise<RawObject | undefined> {
    try {
      const raw = asRawObject(await this.#api.get(`${this.#path('felixconfigurations')}/${encodeURIComponent(name)}`));
      return { ...raw, kind: 'FelixConfiguration' };
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
  }
}

/** An API object checked to be an object with object metadata; the rest is read by the policy model. */
export function asRawObject(raw: unknown): RawObject {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('not a Kubernetes object');
  const m = (raw as { metadata?: unknown }).metadata;
  if (m !== undefined && (m === null || typeof m !== 'object')) throw new Error('not a Kubernetes object: metadata is not an object');
  return raw;
}

/**
 * A stored policy as a v3 GlobalNetworkPolicy. crd.projectcalico.org/v1 objects of the default tier
 * may carry a `default.` name prefix (older Calico); it is dropped for display.
 */
export function asPolicy(raw: unknown): RawObject {
  const obj = { ...asRawObject(raw), kind: 'GlobalNetworkPolicy' };
  const name = obj.metadata?.name;
  if (obj.apiVersion?.startsWith('crd.projectcalico.org/') && name?.startsWith('default.')) {
    obj.metadata = { ...obj.metadata, name: name.slice('default.'.length) };
  }
  return obj;
}
