// The standalone fake API server (test/fake-apiserver/main.ts) as a child process, plus an admin
// client and a raw HTTPS helper that authenticates with the admin token. Benchmarks talk to it over
// loopback exactly like the agent does, so the agent's requests are the only ones under the server's
// "fake-user" identity in the request log (the benchmark itself uses the admin token).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { request, Agent as HttpsAgent } from 'node:https';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connectFakeApiServer, type FakeApiServerClient } from '../../test/fake-apiserver/admin-client.ts';

const MAIN = fileURLToPath(new URL('../../test/fake-apiserver/main.ts', import.meta.url));

export interface StandaloneServer {
  readonly url: string;
  readonly kubeconfig: string;
  readonly adminKubeconfig: string;
  readonly pid: number;
  readonly caPem: string;
  readonly adminToken: string;
  readonly admin: FakeApiServerClient;
  readonly child: ChildProcess;
  /** Raw request with the admin token; JSON in and out. */
  call(method: string, path: string, body?: unknown, contentType?: string): Promise<{ status: number; json: unknown }>;
  stop(): Promise<void>;
}

export async function startServer(opts: { bookmarkIntervalMs?: number; watchHistory?: number; paging?: boolean } = {}): Promise<StandaloneServer> {
  const args = [MAIN, '--port', '0', '--groups', 'projectcalico.org/v3'];
  if (opts.paging === false) args.push('--no-paging');
  if (opts.bookmarkIntervalMs !== undefined) args.push('--bookmark-interval-ms', String(opts.bookmarkIntervalMs));
  if (opts.watchHistory !== undefined) args.push('--watch-history', String(opts.watchHistory));
  // HEPBENCH_SERVER_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=prof") adds Node flags to the server process.
  const extra = (process.env['HEPBENCH_SERVER_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, ['--max-old-space-size=4096', ...extra, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fake API server did not start within 30 s')), 30_000);
    rl.once('line', (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once('exit', (code) => reject(new Error(`fake API server exited with ${code}`)));
  });
  rl.on('line', () => undefined); // keep draining
  const info = JSON.parse(line) as { url: string; kubeconfig: string; adminKubeconfig: string; pid: number; adminToken: string; caFile: string };
  const caPem = await readFile(info.caFile, 'utf8');
  const agent = new HttpsAgent({ keepAlive: true, maxSockets: 64, ca: caPem });
  const call = (method: string, path: string, body?: unknown, contentType = 'application/json') =>
    new Promise<{ status: number; json: unknown }>((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        new URL(path, info.url),
        {
          method,
          agent,
          headers: {
            Authorization: `Bearer ${info.adminToken}`,
            Accept: 'application/json',
            ...(data ? { 'Content-Type': contentType, 'Content-Length': data.length } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            try {
              resolve({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined });
            } catch (e) {
              reject(e instanceof Error ? e : new Error(String(e)));
            }
          });
        },
      );
      req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(data);
    });
  return {
    url: info.url,
    kubeconfig: info.kubeconfig,
    adminKubeconfig: info.adminKubeconfig,
    pid: info.pid,
    caPem,
    adminToken: info.adminToken,
    admin: connectFakeApiServer({ url: info.url, caPem, token: info.adminToken }),
    child,
    call,
    stop: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

export const V3 = 'hostendpoints.projectcalico.org';

export function nodeObject(name: string, labels: Record<string, string> = {}, addresses: string[] = []) {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels },
    ...(addresses.length > 0 ? { status: { addresses: addresses.map((a) => ({ type: 'InternalIP', address: a })) } } : {}),
  };
}
