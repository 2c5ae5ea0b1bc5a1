// A minimal OpenAPI v3 surface: the index and, per group-version, the operations with their
// x-kubernetes-group-version-kind and query parameters. That is what kubectl's QueryParamVerifierV3 reads to
// decide it can leave validation to the server (fieldValidation=Strict) instead of downloading schemas;
// without it `kubectl create/apply` refuse to run ("failed to download openapi"). Schemas are not served.
import { createHash } from 'node:crypto';
import { groupVersion, type Registry, type ResourceType } from './resources.ts';

const gvPath = (t: ResourceType) => (t.group ? `apis/${t.group}/${t.version}` : `api/${t.version}`);

export function openapiIndex(reg: Registry): Record<string, unknown> {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const t of reg.types) {
    const p = gvPath(t);
    const hash = createHash('sha256')
      .update(JSON.stringify(openapiGroupVersion(reg, p)))
      .digest('hex')
      .slice(0, 32)
      .toUpperCase();
    paths[p] = { serverRelativeURL: `/openapi/v3/${p}?hash=${hash}` };
  }
  return { paths };
}

const param = (name: string) => ({ name, in: 'query', schema: { type: 'string', uniqueItems: true } });
const READ = ['pretty'].map(param);
const WRITE = ['dryRun', 'fieldManager', 'fieldValidation', 'pretty'].map(param);

export function openapiGroupVersion(reg: Registry, path: string): Record<string, unknown> | undefined {
  const types = reg.types.filter((t) => gvPath(t) === path);
  if (types.length === 0) return undefined;
  const paths: Record<string, unknown> = {};
  for (const t of types) {
    const gvk = { group: t.group, version: t.version, kind: t.kind };
    const op = (action: string, params: unknown[]) => ({
      operationId: `${action}${t.kind}`,
      'x-kubernetes-action': action,
      'x-kubernetes-group-version-kind': gvk,
      parameters: params,
      responses: { '200': { description: 'OK' } },
    });
    const base = `/${path}${t.namespaced ? '/namespaces/{namespace}' : ''}/${t.resource}`;
    paths[base] = { get: op('list', READ), post: op('post', WRITE), delete: op('deletecollection', WRITE) };
    paths[`${base}/{name}`] = { get: op('get', READ), put: op('put', WRITE), patch: op('patch', [...WRITE, param('force')]), delete: op('delete', WRITE) };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.32.0-fake' },
    paths,
    components: { schemas: {} },
    'x-group-version': groupVersion(types[0]!),
  };
}
