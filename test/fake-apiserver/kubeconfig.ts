// Kubeconfig for the fake: CA data inline and a bearer token, the shape kubectl and client-node both read.
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';

export interface KubeconfigParams {
  url: string;
  caPem: string;
  token: string;
  name?: string | undefined;
}

export function kubeconfigObject(p: KubeconfigParams) {
  const name = p.name ?? 'fake-apiserver';
  return {
    apiVersion: 'v1',
    kind: 'Config',
    preferences: {},
    clusters: [{ name, cluster: { server: p.url, 'certificate-authority-data': Buffer.from(p.caPem).toString('base64') } }],
    users: [{ name, user: { token: p.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
  };
}

export const kubeconfigYaml = (p: KubeconfigParams): string => stringify(kubeconfigObject(p));

export function makeKubeConfig(p: KubeconfigParams): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(kubeconfigYaml(p));
  return kc;
}
