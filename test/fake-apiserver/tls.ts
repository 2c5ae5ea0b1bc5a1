// A throwaway CA and a serving certificate for 127.0.0.1/localhost, made once per process with the openssl CLI
// (node:crypto cannot issue X.509 certificates). EC P-256 keeps generation to a few tens of milliseconds.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface TlsMaterial {
  caPem: string;
  certPem: string;
  keyPem: string;
}

let cached: Promise<TlsMaterial> | undefined;

/** The process-wide CA + server certificate; generated on first use. */
export function tlsMaterial(): Promise<TlsMaterial> {
  cached ??= generate().catch((e: unknown) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

async function generate(): Promise<TlsMaterial> {
  const dir = await mkdtemp(join(tmpdir(), 'fake-apiserver-tls-'));
  const p = (f: string) => join(dir, f);
  try {
    const ossl = (...args: string[]) => run('openssl', args, { cwd: dir });
    await ossl(
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-days',
      '2',
      '-subj',
      '/CN=fake-apiserver-ca',
      '-keyout',
      p('ca.key'),
      '-out',
      p('ca.crt'),
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
    await ossl(
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=kube-apiserver',
      '-keyout',
      p('server.key'),
      '-out',
      p('server.csr'),
    );
    await writeFile(
      p('ext.cnf'),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc',
        '',
      ].join('\n'),
    );
    await ossl(
      'x509',
      '-req',
      '-in',
      p('server.csr'),
      '-CA',
      p('ca.crt'),
      '-CAkey',
      p('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      p('ext.cnf'),
      '-out',
      p('server.crt'),
    );
    const [caPem, certPem, keyPem] = await Promise.all([readFile(p('ca.crt'), 'utf8'), readFile(p('server.crt'), 'utf8'), readFile(p('server.key'), 'utf8')]);
    return { caPem, certPem, keyPem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
