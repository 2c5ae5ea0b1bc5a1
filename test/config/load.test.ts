import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { runCli } from '../../src/cli/cli.ts';
import type { CliIo } from '../../src/cli/io.ts';
import { ConfigError, loadConfig, parseConfigText, validateConfig } from '../../src/config/load.ts';
import { INTERVAL_MAX_SECONDS } from '../../src/config/schema.ts';

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
  assert.match(
    configError(() => validateConfig({ interfacez: {} })),
    /interfacez: unknown key/,
  );
  assert.match(
    configError(() => validateConfig({ interfaces: { includes: ['*'] } })),
    /interfaces\.includes: unknown key/,
  );
});

test('a bad value names the field', () => {
  assert.match(
    configError(() => validateConfig({ mode: 'fix' })),
    /mode: Invalid option/,
  );
  assert.match(
    configError(() => validateConfig({ intervals: { removalGraceSeconds: -1 } })),
    /intervals\.removalGraceSeconds/,
  );
  assert.match(
    configError(() => validateConfig({ server: { port: 70000 } })),
    /server\.port/,
  );
});

test('a label rule producing an invalid label names the rule', () => {
  const msg = configError(() => validateConfig({ interfaceRules: [{ name: 'ext', match: { names: ['em4'] }, labels: { type: 'not valid!' } }] }));
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
  assert.match(
    configError(() => parseConfigText('mode: [', 'f.yaml')),
    /invalid f\.yaml: not valid YAML/,
  );
  assert.match(
    configError(() => parseConfigText('mode: audit\nmode: repair\n', 'f.yaml')),
    /not valid YAML/,
  );
  assert.match(
    configError(() => parseConfigText('- a\n', 'f.yaml')),
    /top level must be a mapping/,
  );
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

describe('validation gaps of issue 12, each naming the field', () => {
  test('malformed globs are errors, not literals', () => {
    for (const [doc, path] of [
      [{ interfaces: { include: ['eth[0'] } }, /interfaces\.include\[0\]: malformed glob "eth\[0"/],
      [{ interfaces: { exclude: ['ens{1,2'] } }, /interfaces\.exclude\[0\]: malformed glob/],
      [{ interfaces: { exclude: ['eth0}'] } }, /interfaces\.exclude\[0\]: malformed glob "eth0}": "}" without an opening/],
      [{ interfaces: { include: ['eth\\'] } }, /interfaces\.include\[0\]: malformed glob .*lone/],
      [{ labels: { fromNode: { include: ['topology.kubernetes.io/(zone'] } } }, /labels\.fromNode\.include\[0\]: malformed glob/],
      [{ interfaceRules: [{ name: 'ext', match: { names: ['em[4'] }, labels: {} }] }, /interfaceRules\[0\]\.match\.names\[0\]: malformed glob .*rule "ext"/],
    ] as const) {
      assert.match(
        configError(() => validateConfig(doc)),
        path,
      );
    }
    for (const g of ['eth[0-9]', 'eth{0,1}', 'en*', 'eth[!0]', 'bond?', 'eth\\[0']) validateConfig({ interfaces: { include: [g] } });
  });

  test('an empty include or an exclude of "*" deletes every HEP: a config error', () => {
    assert.match(
      configError(() => validateConfig({ interfaces: { include: [] } })),
      /interfaces\.include: must list at least one glob/,
    );
    assert.match(
      configError(() => validateConfig({ interfaces: { exclude: ['eth9', '*'] } })),
      /interfaces\.exclude: excludes every interface/,
    );
  });

  test('an exclude that matches every interface name without being "*" is the same config error', () => {
    // Each of these (alone or together) excludes every name Linux allows, so every HEP would go.
    for (const exclude of [['?*'], ['{*,x}'], ['*?'], ['[a-z]*', '[A-Z0-9_.-]*'], ['eth0', '**?**']]) {
      assert.match(
        configError(() => validateConfig({ interfaces: { exclude } })),
        /interfaces\.exclude: excludes every interface/,
        exclude.join(' '),
      );
    }
    // Globs that leave some interfaces selected stay valid.
    for (const exclude of [['e*'], ['?'], ['[a-z]*'], ['*[0-9]'], ['eth*', 'ens*', 'bond*']]) validateConfig({ interfaces: { exclude } });
  });

  test('server.address must be an IP address', () => {
    for (const a of ['0.0.0.0', '127.0.0.1', '::', '::1']) assert.equal(validateConfig({ server: { address: a } }).server.address, a);
    for (const a of ['localhost', '127.1', '0.0.0.0:9808', '']) {
      assert.match(
        configError(() => validateConfig({ server: { address: a } })),
        /server\.address: must be an IP address/,
        a,
      );
    }
  });

  test('nodeName must be a valid Node name, from any source', async () => {
    for (const n of ['Node1', 'node_1', '-node', 'node.', 'a'.repeat(254)]) {
      assert.match(
        configError(() => validateConfig({ nodeName: n })),
        /nodeName: must be a lowercase DNS-1123 subdomain/,
        n,
      );
    }
    assert.equal(validateConfig({ nodeName: 'ip-10-0-0-1.ec2.internal' }).nodeName, 'ip-10-0-0-1.ec2.internal');
    await assert.rejects(loadConfig({ env: { NODE_NAME: 'Bad_Node' } }), /nodeName \(from environment variable NODE_NAME\): must be/);
    await assert.rejects(loadConfig({ env: {}, overrides: { nodeName: 'x..y' } }), /nodeName \(from the command line\): must be/);
  });

  test('duplicate rule names are errors', () => {
    assert.match(
      configError(() =>
        validateConfig({
          labels: {
            derive: [
              { name: 'zone', whenNodeLabel: { key: 'a' }, set: {} },
              { name: 'zone', whenNodeLabel: { key: 'b' }, set: {} },
            ],
          },
        }),
      ),
      /labels\.derive\[1\]\.name: duplicate rule name "zone" \(also at index 0\)/,
    );
    assert.match(
      configError(() =>
        validateConfig({
          interfaceRules: [
            { name: 'ext', match: { defaultRoute: true }, labels: {} },
            { name: 'int', match: { defaultRoute: false }, labels: {} },
            { name: 'ext', match: { names: ['em*'] }, labels: {} },
          ],
        }),
      ),
      /interfaceRules\[2\]\.name: duplicate rule name "ext"/,
    );
  });

  test('intervals: at most a year, one rule for every *Seconds key; 30 days (beyond a Node.js timer) is accepted', () => {
    assert.equal(INTERVAL_MAX_SECONDS, 31_536_000);
    for (const key of ['rescanSeconds', 'resyncSeconds', 'removalGraceSeconds']) {
      assert.equal((validateConfig({ intervals: { [key]: 30 * 86_400 } }).intervals as Record<string, number>)[key], 30 * 86_400);
      assert.equal((validateConfig({ intervals: { [key]: INTERVAL_MAX_SECONDS } }).intervals as Record<string, number>)[key], INTERVAL_MAX_SECONDS);
      assert.match(
        configError(() => validateConfig({ intervals: { [key]: INTERVAL_MAX_SECONDS + 1 } })),
        new RegExp(`intervals\\.${key}: must be at most 31536000`),
      );
    }
    // Sections that left the agent with the runtime rework are refused, naming the key.
    assert.match(
      configError(() => validateConfig({ prune: { sweep: true } })),
      /prune/,
    );
    assert.match(
      configError(() => validateConfig({ intervals: { conflictScanSeconds: 3600 } })),
      /conflictScanSeconds/,
    );
  });

  test('hostEndpoint.profiles: Calico profile names, no duplicates', () => {
    assert.deepEqual(validateConfig({ hostEndpoint: { profiles: ['projectcalico-default-allow', 'kns.default'] } }).hostEndpoint.profiles, [
      'projectcalico-default-allow',
      'kns.default',
    ]);
    assert.match(
      configError(() => validateConfig({ hostEndpoint: { profiles: ['Allow_All'] } })),
      /hostEndpoint\.profiles\[0\]: must be a lowercase DNS-1123 subdomain/,
    );
    assert.match(
      configError(() => validateConfig({ hostEndpoint: { profiles: [''] } })),
      /hostEndpoint\.profiles\[0\]/,
    );
    assert.match(
      configError(() => validateConfig({ hostEndpoint: { profiles: ['a', 'projectcalico-default-allow', 'a'] } })),
      /hostEndpoint\.profiles\[2\]: duplicate profile "a"/,
    );
  });

  test('safety.maxDeleteFraction is a share between 0 and 1', () => {
    assert.equal(validateConfig({}).safety.maxDeleteFraction, 0.5);
    assert.equal(validateConfig({ safety: { maxDeleteFraction: 1 } }).safety.maxDeleteFraction, 1);
    assert.match(
      configError(() => validateConfig({ safety: { maxDeleteFraction: 1.5 } })),
      /safety\.maxDeleteFraction/,
    );
  });
});

describe('the CLI: a bad config is exit 2 naming the field', () => {
  async function cli(argv: string[], env: Record<string, string> = {}) {
    let err = '';
    const sink = (append: (t: string) => void) =>
      new Writable({
        write(chunk, _e, done) {
          append(String(chunk));
          done();
        },
      });
    const io: CliIo = { stdout: sink(() => {}), stderr: sink((t) => (err += t)), stdin: Readable.from(['']), env };
    const code = await runCli(argv, io);
    return { code, err };
  }

  test('a bad glob in the config file: plan and run exit 2 before touching anything', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'hep-config-'));
    const file = join(dir, 'config.yaml');
    await writeFile(file, 'interfaces:\n  include: ["eth[0"]\n');
    for (const command of ['plan', 'run']) {
      const { code, err } = await cli([command, '--config', file], { NODE_NAME: 'n1' });
      assert.equal(code, 2, `${command}: ${err}`);
      assert.match(err, /interfaces\.include\[0\]: malformed glob "eth\[0"/, command);
    }
  });

  test('--node-name that is not a Node name is exit 2', async () => {
    const { code, err } = await cli(['run', '--node-name', 'Not_A_Node']);
    assert.equal(code, 2, err);
    assert.match(err, /nodeName \(from the command line\): must be a lowercase DNS-1123 subdomain/);
  });
});
