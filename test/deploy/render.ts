// Test helper: renders deploy/ with `kubectl kustomize` (or reports why it cannot) and finds objects.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { run } from '../helpers/netns.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DEPLOY = join(ROOT, 'deploy');

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** null when kubectl (with its built-in kustomize) can run here, otherwise why not. */
export async function kustomizeSkipReason(): Promise<string | null> {
  try {
    const r = await run('kubectl', ['version', '--client'], { timeoutMs: 20_000 });
    return r.code === 0 ? null : `kubectl version --client failed: ${r.stderr.trim()}`;
  } catch (err) {
    return `kubectl is not installed (${(err as NodeJS.ErrnoException).code ?? String(err)}); kustomize rendering is not checked`;
  }
}

export function parseObjects(yamlText: string): KubeObject[] {
  return parseAllDocuments(yamlText)
    .map((d) => {
      if (d.errors.length > 0) throw new Error(`invalid YAML: ${d.errors.map((e) => e.message).join('; ')}`);
      return d.toJS() as KubeObject | null;
    })
    .filter((o): o is KubeObject => o !== null);
}

/** `kubectl kustomize DIR`, parsed. */
export async function kustomize(dir: string): Promise<KubeObject[]> {
  const r = await run('kubectl', ['kustomize', dir], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${r.stderr.trim()}`);
  return parseObjects(r.stdout);
}

/** Renders an overlay made of `deploy/` plus the given components (paths relative to deploy/). */
export async function kustomizeWith(components: string[], extra = ''): Promise<KubeObject[]> {
  const dir = await mkdtemp(join(tmpdir(), 'hep-overlay-'));
  try {
    const rel = (p: string) => JSON.stringify(relative(dir, join(DEPLOY, p)));
    await writeFile(
      join(dir, 'kustomization.yaml'),
      `apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [${rel('.')}]\ncomponents: [${components.map(rel).join(', ')}]\n${extra}`,
    );
    return await kustomize(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export function find(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected exactly one ${kind}${name !== undefined ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}
