// Which Calico API the cluster serves, decided by discovery, and what the agent may write to.
import type { Config } from '../../config/schema.ts';
import type { ApiClient } from './api-client.ts';

export interface CalicoApiGroup {
  readonly group: 'projectcalico.org' | 'crd.projectcalico.org';
  readonly version: 'v3' | 'v1';
}

export const CALICO_V3: CalicoApiGroup = { group: 'projectcalico.org', version: 'v3' };
export const CALICO_CRD_V1: CalicoApiGroup = { group: 'crd.projectcalico.org', version: 'v1' };

export function apiVersionOf(api: CalicoApiGroup): string {
  return `${api.group}/${api.version}`;
}

/** Refusals and absences the operator must act on; the agent retries and stays not-ready. */
export class CalicoApiUnavailable extends Error {
  override readonly name = 'CalicoApiUnavailable';
}

/** The pure decision, given the group/versions the cluster serves. */
export function chooseCalicoApi(served: ReadonlySet<string>, wanted: Config['apiGroup']): CalicoApiGroup {
  const v3 = served.has('projectcalico.org/v3');
  const v1 = served.has('crd.projectcalico.org/v1');
  if (wanted === 'projectcalico.org/v3' || wanted === 'auto') {
    if (v3) return CALICO_V3;
    if (wanted === 'auto' && v1) {
      throw new CalicoApiUnavailable(
        'the cluster serves only crd.projectcalico.org/v1, not projectcalico.org/v3. Writing crd.projectcalico.org/v1 ' +
          "directly is unsupported by Calico (it skips Calico's validation and defaulting, and since Calico 3.28 the v3 " +
          'labels live in the projectcalico.org/metadata annotation). Install the Calico API server or use native v3 ' +
          'CRDs (Calico >= 3.32); or opt in with apiGroup: crd.projectcalico.org/v1.',
      );
    }
    throw new CalicoApiUnavailable('the cluster serves no projectcalico.org/v3 API: is Calico installed, with its API server or native v3 CRDs?');
  }
  if (v1) return CALICO_CRD_V1;
  throw new CalicoApiUnavailable("apiGroup is crd.projectcalico.org/v1, but the cluster does not serve it: are Calico's CRDs installed?");
}

/** Asks the API server's discovery which group/versions it serves. */
export async function servedGroupVersions(api: ApiClient): Promise<Set<string>> {
  const doc = (await api.get('/apis')) as { groups?: unknown } | null;
  const out = new Set<string>();
  const groups = doc !== null && typeof doc === 'object' && Array.isArray(doc.groups) ? (doc.groups as unknown[]) : [];
  for (const g of groups) {
    const versions = (g as { versions?: unknown } | null)?.versions;
    if (!Array.isArray(versions)) continue;
    for (const v of versions) {
      const gv = (v as { groupVersion?: unknown } | null)?.groupVersion;
      if (typeof gv === 'string') out.add(gv);
    }
  }
  return out;
}
