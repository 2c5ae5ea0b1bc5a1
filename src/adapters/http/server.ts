// One small HTTP server for Prometheus and the kubelet's probes. node:http is enough for three
// GET routes; a framework would cost memory on every node for nothing.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorMessage } from '../../core/error-message.ts';

export interface HealthSource {
  status(): { ready: boolean; live: boolean; lastError: string | undefined; calicoApi: string | undefined };
}

export interface ProbeServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startProbeServer(opts: { address: string; port: number; registry: Registry; health: HealthSource }): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(errorMessage(err)),
      );
      return;
    }
    if (path === '/healthz' || path === '/readyz') {
      const s = opts.health.status();
      const ok = path === '/healthz' ? s.live : s.ready;
      const body = ok
        ? 'ok\n'
        : `not ${path === '/healthz' ? 'live' : 'ready'}: ${s.lastError ?? (s.calicoApi === undefined ? 'Calico API not found yet' : 'first reconcile pending')}\n`;
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(body);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  // Probes and scrapes are tiny; do not let an idle keep-alive client hold the server open on shutdown.
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.address, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
