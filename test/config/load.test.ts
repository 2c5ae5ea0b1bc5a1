import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfigText, validateConfig } from '../../src/config/load.ts';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  assert.fail('expected a ConfigError');
}

test('defaults are documented values', () => {
  const c = validateConfig({});
  assert.deepEqual(c.hostEndpoint.profiles, ['projectcalico-default-allow']);
  assert.equal(c.mode, 'repair');
  assert.equal(c.intervals.removalGraceSeconds, 300);
  assert.equal(c.apiGroup, 'auto');
  assert.equal(c.server.port, 9808);
});

test('an unknown key is named, at any depth', () => {
  assert.match(configError(() => validateConfig({ interfacez: {} })), /interfacez: unknown key/);
  assert.match(configError(() => validateConfig({ interfaces: { includes: ['*'] } })), /interfaces\.includes: unknown key/);
});

test('a bad value names the field', () => {
  assert.match(configError(() => validateConfig({ mode: 'fix' })), /mode: Invalid option/);
  assert.match(configError(() => validateConfig({ intervals: { removalGraceSeconds: -1 } })), /intervals\.removalGraceSeconds/);
  assert.match(configError(() => validateConfig({ server: { port: 70000 } })), /server\.port/);
});

test('a label rule producing an invalid label names the rule', () => {
  const msg = configError(() =>
    validateConfig({ interfaceRules: [{ name: 'ext', match: { names: ['em4'] }, labels: { type: 'not valid!' } }] }),
  );
  assert.match(msg, /interfaceRules\[0\]\.labels\.type: .*rule "ext"/);
  assert.match(
    configError(() => validateConfig({ labels: { derive: [{ name: 'bad-key', whenNodeLabel: { key: 'x' }, set: { '-x': 'y' } }] } })),
    /labels\.derive\[0\]\.set\.-x: .*rule "bad-key"/,
  );
  assert.match(
    configError(() => validateConfig({ labels: { static: { 'calico-hep-agent.io/node': 'x' } } })),
    /reserved/,
  );
  assert.match(
    configError(() => validateConfig({ interfaceRules: [{ name: 'r', match: { cidrs: ['10.0.0.0/33'] }, labels: {} }] })),
    /interfaceRules\[0\]\.match\.cidrs\[0\]: must be a CIDR/,
  );
  assert.match(
    configError(() => validateConfig({ interfaceRules: [{ name: 'r', match: {}, labels: {} }] })),
    /interfaceRules\[0\]\.match: needs at least one/,
  );
});

test('YAML text: syntax errors, duplicate keys and non-mapping documents are config errors', () => {
  assert.match(configError(() => parseConfigText('mode: [', 'f.yaml')), /invalid f\.yaml: not valid YAML/);
  assert.match(configError(() => parseConfigText('mode: audit\nmode: repair\n', 'f.yaml')), /not valid YAML/);
  assert.match(configError(() => parseConfigText('- a\n', 'f.yaml')), /top level must be a mapping/);
  assert.equal(parseConfigText('', 'f.yaml').mode, 'repair');
});

test('precedence: flags over environment over file', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'hep-config-'));
  const file = join(dir, 'config.yaml');
  await writeFile(file, 'nodeName: from-file\nlogLevel: warn\n');
  assert.equal((await loadConfig({ file, env: {} })).nodeName, 'from-file');
  assert.equal((await loadConfig({ file, env: { NODE_NAME: 'from-env' } })).nodeName, 'from-env');
  assert.equal((await loadConfig({ file, env: { NODE_NAME: 'from-env' }, overrides: { nodeName: 'from-flag' } })).nodeName, 'from-flag');
  assert.equal((await loadConfig({ file, env: { LOG_LEVEL: 'debug' } })).logLevel, 'debug');
  await assert.rejects(loadConfig({ file, env: { LOG_LEVEL: 'chatty' } }), /logLevel/);
  await assert.rejects(loadConfig({ file: join(dir, 'missing.yaml'), env: {} }), /cannot read config file .*ENOENT/);
});

test('the example config in the repository is valid', async () => {
  const config = await loadConfig({ file: new URL('../../deploy/config.example.yaml', import.meta.url).pathname, env: {} });
  assert.equal(config.interfaceRules.length > 0, true);
});
