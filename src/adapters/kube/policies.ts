// Read-only access to the Calico objects that decide what a HostEndpoint lets through:
// GlobalNetworkPolicies, Tiers and FelixConfigurations, in whichever Calico API group is in use.
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { CalicoApiGroup } from './calico-api.ts';
import { observed } from './calls.ts';
import { apiFailure } from './errors.ts';
import type { ApiObserver } from './observer.ts';

export interface RawObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: unknown;
}

export class CalicoPolicyApi {
  readonly #api: CustomObjectsApi;
  readonly calico: CalicoApiGroup;
  readonly #observer: ApiObserver;

  constructor(kc: KubeConfig, calico: CalicoApiGroup, observer: ApiObserver) {
    this.#api = kc.makeApiClient(CustomObjectsApi);
    this.calico = calico;
    this.#observer = observer;
  }

  /** Collection path of GlobalNetworkPolicies, for watches. */
  get globalNetworkPoliciesPath(): string {
    return `/apis/${this.calico.group}/${this.calico.version}/globalnetworkpolicies`;
  }

  /** Every GlobalNetworkPolicy, paged; `kind` is filled in (list items may lack it). */
  async listGlobalNetworkPolicies(): Promise<{ items: RawObject[]; resourceVersion: string }> {
    const items: RawObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    do {
      const res = (await observed(this.#observer, 'list', 'globalnetworkpolicies', () =>
        this.#api.listClusterCustomObject({
          group: this.calico.group,
          version: this.calico.version,
          plural: 'globalnetworkpolicies',
          limit: 500,
          ...(continueToken !== undefined ? { _continue: continueToken } : {}),
        }),
      )) as { items?: RawObject[]; metadata?: { resourceVersion?: string; continue?: string } };
      for (const item of res.items ?? []) items.push(asPolicy(item));
      resourceVersion = res.metadata?.resourceVersion ?? '';
      continueToken = res.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    return { items, resourceVersion };
  }

  /** Collection path of a cluster-scoped Calico resource (`tiers`, `felixconfigurations`), for watches. */
  pathOf(plural: string): string {
    return `/apis/${this.calico.group}/${this.calico.version}/${plural}`;
  }

  /**
   * Every object of a cluster-scoped Calico resource, paged, with `kind` filled in, for a reflector
   * (the policy guard watches tiers and felixconfigurations). `undefined` on 404: not served.
   */
  async listCluster(plural: string, kind: string): Promise<{ items: RawObject[]; resourceVersion: string } | undefined> {
    const items: RawObject[] = [];
    let continueToken: string | undefined;
    let resourceVersion = '';
    try {
      do {
        const res = (await observed(this.#observer, 'list', plural, () =>
          this.#api.listClusterCustomObject({
            group: this.calico.group,
            version: this.calico.version,
            plural,
            limit: 500,
            ...(continueToken !== undefined ? { _continue: continueToken } : {}),
          }),
        )) as { items?: RawObject[]; metadata?: { resourceVersion?: string; continue?: string } };
        for (const item of res.items ?? []) items.push({ ...item, kind });
        resourceVersion = res.metadata?.resourceVersion ?? '';
        continueToken = res.metadata?.continue || undefined;
      } while (continueToken !== undefined);
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
    return { items, resourceVersion };
  }

  /** Tiers; `undefined` when the API does not serve them (Calico before 3.30, or no tiers CRD). */
  async listTiers(): Promise<RawObject[] | undefined> {
    try {
      const res = (await observed(this.#observer, 'list', 'tiers', () =>
        this.#api.listClusterCustomObject({ group: this.calico.group, version: this.calico.version, plural: 'tiers' }),
      )) as { items?: RawObject[] };
      return (res.items ?? []).map((t) => ({ ...t, kind: 'Tier' }));
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
        const res = (await observed(this.#observer, 'list', plural, () =>
          this.#api.listClusterCustomObject({
            group: this.calico.group,
            version: this.calico.version,
            plural,
            limit: 500,
            ...(continueToken !== undefined ? { _continue: continueToken } : {}),
          }),
        )) as { items?: RawObject[]; metadata?: { continue?: string } };
        for (const item of res.items ?? []) items.push({ ...item, kind });
        continueToken = res.metadata?.continue || undefined;
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
      const raw = (await observed(this.#observer, 'get', 'felixconfigurations', () =>
        this.#api.getClusterCustomObject({ group: this.calico.group, version: this.calico.version, plural: 'felixconfigurations', name }),
      )) as RawObject;
      return { ...raw, kind: 'FelixConfiguration' };
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw err;
    }
  }
}

/**
 * A stored policy as a v3 GlobalNetworkPolicy. crd.projectcalico.org/v1 objects of the default tier
 * may carry a `default.` name prefix (older Calico); it is dropped for display.
 */
export function asPolicy(raw: unknown): RawObject {
  const obj = { ...(raw as RawObject), kind: 'GlobalNetworkPolicy' };
  const name = obj.metadata?.name;
  if (obj.apiVersion?.startsWith('crd.projectcalico.org/') && name?.startsWith('default.')) {
    obj.metadata = { ...obj.metadata, name: name.slice('default.'.length) };
  }
  return obj;
}
