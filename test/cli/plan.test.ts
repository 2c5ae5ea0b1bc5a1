// `plan` (and `explain`) reading the Node's labels: from the cluster, with the same note when they are
// missing, and an error that says how to do without a cluster when the cluster cannot be read.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli } from '../../src/cli/cli.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const HINT = /give the Node's labels: --node-labels key=value/;
const MISSING = /computing HostEndpoints without Node labels/;

describe("plan and explain: the Node's labels from a kubeconfig", () => {
  let dir: string;
  let server: FakeApiServer;
  let notApi: Server;
  const kubeconfig = (name: string) => join(dir, name);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hep-plan-'));
    server = await startFakeApiServer({ seed: [{ apiVersion: 'v1', kind: 'Node', metadata: { name: 'n1', labels: { role: 'master' } } }] as never });
    await server.writeKubeconfig(kubeconfig('good'));
    await writeFile(kubeconfig('unauthorised'), server.kubeconfigYaml().replace(server.token, 'not-the-token'));
    // Something that answers 404 to everything, as a web server or a proxy would.
    notApi = createServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<html><body>Not Found</body></html>');
    });
    await new Promise<void>((r) => notApi.listen(0, '127.0.0.1', r));
    const port = (notApi.address() as { port: number }).port;
    const plain = (url: string) =>
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n`;
    await writeFile(kubeconfig('not-an-api-server'), plain(`http://127.0.0.1:${port}`));
    // A port nothing listens on: the one of a server just closed.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    await writeFile(kubeconfig('unreachable'), plain(`http://127.0.0.1:${closedPort}`));
    await writeFile(
      join(dir, 'policies.yaml'),
      'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: p}\nspec: {selector: all(), types: [Ingress], ingress: [{action: Allow}]}\n',
    );
  });

  after(async () => {
    await server?.close();
    await new Promise((r) => notApi?.close(r));
    // The kubeconfigs hold the fake server's tokens: leave nothing behind.
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('reads the labels of an existing Node', async () => {
    const r = await cli(['plan', '--kubeconfig', kubeconfig('good'), '--node-name', 'n1', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const items = (JSON.parse(r.stdout) as { items: { metadata: { labels: Record<string, string> } }[] }).items;
    for (const h of items) assert.equal(h.metadata.labels['role'], 'master');
  });

  it('a Node the API server does not know: the same note from plan and explain, exit 0', async () => {
    const plan = await cli(['plan', '--kubeconfig', kubeconfig('good'), '--node-name', 'gone']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(
      plan.stderr,
      /^note: Node "gone" not found at https:\/\/127\.0\.0\.1:\d+: computing HostEndpoints without Node labels; to compute without a cluster, give the Node's labels/,
    );
    const explain = await cli(['explain', '--policies', join(dir, 'policies.yaml'), '--kubeconfig', kubeconfig('good'), '--node', 'gone']);
    assert.ok([0, 1].includes(explain.code), explain.stderr);
    const note = (text: string) => text.split('\n').find((l) => l.startsWith('note: Node'));
    assert.equal(note(explain.stderr), note(plan.stderr));
  });

  for (const [name, cause] of [
    ['unauthorised', /HTTP 401|Unauthorized/],
    ['unreachable', /ECONNREFUSED/],
    ['not-an-api-server', /HTTP 404 without a Kubernetes Status: the server is not a Kubernetes API server/],
  ] as const) {
    it(`${name} kubeconfig: exit 1 with the cause and how to run without a cluster, never "not found"`, async () => {
      for (const argv of [
        ['plan', '--kubeconfig', kubeconfig(name), '--node-name', 'n1'],
        ['explain', '--policies', join(dir, 'policies.yaml'), '--kubeconfig', kubeconfig(name), '--node', 'n1'],
      ]) {
        const r = await cli(argv);
        assert.equal(r.code, 1, `${argv[0]}: ${r.stderr}`);
        assert.equal(r.stdout, '');
        assert.match(r.stderr, cause);
        assert.match(r.stderr, HINT);
        assert.doesNotMatch(r.stderr, /not found|without Node labels/);
      }
    });
  }

  it('--node-labels needs no cluster at all', async () => {
    const r = await cli(['plan', '--kubeconfig', kubeconfig('unreachable'), '--node-name', 'n1', '--node-labels', 'role=edge', '--output', 'json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
  });

  it('no kubeconfig anywhere: plan and explain give the same note', async () => {
    const bin = fileURLToPath(new URL('../../bin/calico-hep-agent.js', import.meta.url));
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
        // A HOME without ~/.kube and no KUBECONFIG or in-cluster variables.
        const child = spawn(process.execPath, [bin, ...args], { env: { PATH: process.env['PATH'] ?? '', HOME: dir }, stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stderr }));
      });
    const plan = await run(['plan', '--node-name', 'n1']);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stderr, MISSING);
    assert.match(plan.stderr, HINT);
    const explain = await run(['explain', '--policies', join(dir, 'policies.yaml'), '--node', 'n1']);
    assert.equal(
      explain.stderr.split('\n').find((l) => l.startsWith('note: no --node-labels')),
      plan.stderr.split('\n').find((l) => l.startsWith('note: no --node-labels')),
    );
  });
});
