// Legacy (non-aggregated) discovery documents. kubectl asks for aggregated discovery first and falls back to
// these when the response is plain application/json, exactly as against an older apiserver.
import { groupVersion, type Registry, type ResourceType } from './resources.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export const VERSION_INFO = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-fake',
  gitCommit: '0000000000000000000000000000000000000000',
  gitTreeState: 'clean',
  buildDate: '2025-01-01T00:00:00Z',
  goVersion: 'go1.23.4',
  compiler: 'gc',
  platform: 'linux/amd64',
};

function apiResource(t: ResourceType): Record<string, unknown> {
  const r: Record<string, unknown> = { name: t.resource, singularName: t.singular, namespaced: t.namespaced, kind: t.kind, verbs: VERBS };
  if (t.shortNames.length) r.shortNames = t.shortNames;
  if (t.categories?.length) r.categories = t.categories;
  return r;
}

export function coreVersions(serverAddress: string) {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

function apiGroup(name: string, versions: string[]) {
  const vs = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: vs, preferredVersion: vs[0] };
}

export function groupList(reg: Registry) {
  const groups = [...reg.groups()].filter(([g]) => g !== '').map(([g, vs]) => apiGroup(g, vs));
  return { kind: 'APIGroupList', apiVersion: 'v1', groups };
}

export function group(reg: Registry, name: string) {
  const vs = reg.groups().get(name);
  return vs && name !== '' ? { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(name, vs) } : undefined;
}

export function resourceList(reg: Registry, g: string, v: string) {
  const types = reg.types.filter((t) => t.group === g && t.version === v);
  if (types.length === 0) return undefined;
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupVersion(types[0]!), resources: types.map(apiResource) };
}
