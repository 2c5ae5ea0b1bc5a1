import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inCI, prereq, PrerequisiteMissing } from './prereq.ts';

function recorder() {
  const registered: { name: string; fn: () => void }[] = [];
  return { registered, register: (name: string, fn: () => void) => void registered.push({ name, fn }) };
}

test('inCI: CI=true and CI=1 are CI; unset, empty, 0 and false are not', () => {
  assert.equal(inCI({ CI: 'true' }), true);
  assert.equal(inCI({ CI: 'TRUE' }), true);
  assert.equal(inCI({ CI: '1' }), true);
  assert.equal(inCI({}), false);
  assert.equal(inCI({ CI: '' }), false);
  assert.equal(inCI({ CI: '0' }), false);
  assert.equal(inCI({ CI: 'false' }), false);
});

test('prerequisite present: no skip, nothing registered, in or out of CI', () => {
  for (const env of [{}, { CI: 'true' }]) {
    for (const reason of [null, undefined, false] as const) {
      const r = recorder();
      assert.equal(prereq(reason, { env, register: r.register }), false);
      assert.deepEqual(r.registered, []);
    }
  }
});

test('prerequisite missing outside CI: skipped with the reason, nothing fails', () => {
  const r = recorder();
  assert.equal(prereq('kubectl is not installed', { env: {}, register: r.register }), 'kubectl is not installed');
  assert.deepEqual(r.registered, []);
});

test('prerequisite missing under CI=true: a test naming the prerequisite is registered and fails with the reason', () => {
  const r = recorder();
  prereq('network namespace tests need root', { env: { CI: 'true' }, register: r.register });
  assert.equal(r.registered.length, 1);
  assert.equal(r.registered[0]!.name, 'prerequisite: network namespace tests need root');
  assert.throws(r.registered[0]!.fn, (err: unknown) => {
    assert.ok(err instanceof PrerequisiteMissing);
    assert.equal(err.reason, 'network namespace tests need root');
    assert.match(err.message, /under CI=true tests must not skip: network namespace tests need root$/);
    return true;
  });
});

test('under CI=true, node --test reports the registered test as failed with the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hep-prereq-'));
  try {
    const file = join(dir, 'needs.test.ts');
    const helper = new URL('./prereq.ts', import.meta.url).pathname;
    writeFileSync(
      file,
      `import { test } from 'node:test';\nimport { prereq } from ${JSON.stringify(helper)};\nconst skip = prereq('frobnicator not on PATH');\ntest('needs it', { skip }, () => {});\n`,
    );
    // Without NODE_TEST_CONTEXT the child reports on its own stdout instead of to this runner.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = (CI: string) => spawnSync(process.execPath, ['--test', '--test-reporter=tap', file], { env: { ...env, CI }, encoding: 'utf8' });
    const ci = run('true');
    assert.equal(ci.status, 1, ci.stdout);
    assert.match(ci.stdout, /not ok \d+ - prerequisite: frobnicator not on PATH/);
    assert.match(ci.stdout, /under CI=true tests must not skip: frobnicator not on PATH/);
    const local = run('');
    assert.equal(local.status, 0, local.stdout);
    assert.match(local.stdout, /ok \d+ - needs it # SKIP frobnicator not on PATH/);
    assert.match(local.stdout, /# fail 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
