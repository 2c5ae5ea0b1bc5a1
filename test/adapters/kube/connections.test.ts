// reuseConnections: one connection pool per TLS identity instead of client-node's new undici Agent per call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KubeConfig, RequestContext, HttpMethod } from '@kubernetes/client-node';
import { reuseConnections } from '../../../src/adapters/kube/kubeconfig.ts';

function kubeConfig(ca: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:6443', caData: Buffer.from(ca).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

async function dispatcherOf(kc: KubeConfig): Promise<unknown> {
  const ctx = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  return ctx.getDispatcher();
}

test('client-node alone builds a new dispatcher per request (the behaviour being fixed)', async () => {
  const kc = kubeConfig('CA-1');
  assert.notEqual(await dispatcherOf(kc), await dispatcherOf(kc));
});

test('reuseConnections: the same dispatcher for every request with the same TLS material', async () => {
  const kc = reuseConnections(kubeConfig('CA-1'));
  assert.equal(reuseConnections(kc), kc, 'idempotent');
  const a = await dispatcherOf(kc);
  assert.ok(a !== undefined);
  assert.equal(await dispatcherOf(kc), a);
  const ctx = new RequestContext('https://127.0.0.1:6443/api', HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  assert.equal(ctx.getHeaders()['Authorization'], 'Bearer t', 'auth headers still applied per request');
});

test('reuseConnections: new TLS material (rotated CA or client cert) gets a new dispatcher and closes the old', async () => {
  const kc = reuseConnections(kubeConfig('CA-1'));
  const a = (await dispatcherOf(kc)) as { closed?: boolean; close: () => Promise<void> };
  kc.clusters[0] = { ...kc.clusters[0]!, caData: Buffer.from('CA-2').toString('base64') };
  const b = await dispatcherOf(kc);
  assert.notEqual(b, a);
  await new Promise((r) => setImmediate(r));
  assert.equal(a.closed, true);
  await (b as { close: () => Promise<void> }).close();
});
