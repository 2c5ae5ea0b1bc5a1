// The esbuild bundle the image runs: it must hold none of client-node's generated API classes and
// models, no undici, no second YAML parser, no prom-client default metrics and no zod classic API (scripts/bundle.ts),
// and what remains of client-node (KubeConfig) must still load a kubeconfig and talk to a server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { bundle } from '../../scripts/bundle.ts';
import { FORBIDDEN_INPUTS } from '../../scripts/bundle.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';

const run = promisify(execFile);
let dir: string;
let outfile: string;
let inputs: string[];
let server: FakeApiServer;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hep-bundle-'));
  const built = await bundle({ outfile: join(dir, 'calico-hep-agent.mjs'), quiet: true });
  outfile = built.outfile;
  inputs = Object.values(built.metafile.outputs).flatMap((o) => Object.keys(o.inputs));
  server = await startFakeApiServer({ seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { zone: 'a' } } }] as never });
});
after(async () => {
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

test('the bundle holds no generated client-node models or APIs, no undici, no js-yaml, no prom-client default metrics', async () => {
  assert.ok(inputs.some((i) => i.includes('@kubernetes/client-node/dist/config.js')), 'KubeConfig is in');
  const forbidden = inputs.filter((i) => FORBIDDEN_INPUTS.some((re) => re.test(i)));
  assert.deepEqual(forbidden, []);
  const text = await readFile(outfile, 'utf8');
  // Names of generated model classes and of the API classes: none may be defined in the bundle.
  for (const name of ['V1ObjectMeta', 'CoreV1Api', 'CustomObjectsApi', 'ObjectSerializer']) {
    assert.doesNotMatch(text, new RegExp(`class ${name}\\b`), name);
  }
});

test('the bundle loads a kubeconfig with client-node and reads the Node over the HttpApiClient', async () => {
  const kubeconfig = join(dir, 'kubeconfig');
  await server.writeKubeconfig(kubeconfig);
  const found = await run(process.execPath, [outfile, 'plan', '--kubeconfig', kubeconfig, '--node-name', 'n1', '--output', 'json'], { env: {} });
  assert.doesNotMatch(found.stderr, /not found/);
  const missing = await run(process.execPath, [outfile, 'plan', '--kubeconfig', kubeconfig, '--node-name', 'ghost', '--output', 'json'], { env: {} });
  assert.match(missing.stderr, /Node "ghost" not found/);
  assert.ok(server.requests({ verb: 'get', resource: 'nodes' }).length >= 2);
});

test("the bundle uses neither WebAssembly nor fetch, and runs under the image's V8 flags (--lite-mode disables WebAssembly)", async () => {
  const dockerfile = await readFile(new URL('../../Dockerfile', import.meta.url), 'utf8');
  const entry = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(dockerfile)![1]!) as string[];
  const v8Flags = entry.slice(1, -1);
  const text = await readFile(outfile, 'utf8');
  assert.doesNotMatch(text, /\bWebAssembly\b/);
  assert.doesNotMatch(text, /(?<![\w.$])fetch\(/);
  const kubeconfig = join(dir, 'kubeconfig-flags');
  await server.writeKubeconfig(kubeconfig);
  const missing = await run(process.execPath, [...v8Flags, outfile, 'plan', '--kubeconfig', kubeconfig, '--node-name', 'ghost', '--output', 'json'], { env: {} }).catch((e: { stderr: string }) => e);
  assert.match(missing.stderr, /Node "ghost" not found/);
  const bad = await run(process.execPath, [...v8Flags, outfile, 'run', '--node-name', 'Bad_Name'], { env: {} }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((bad as { code?: number }).code, 2);
  assert.match(bad.stderr, /nodeName \(from the command line\): must be a lowercase DNS-1123 subdomain/);
});
