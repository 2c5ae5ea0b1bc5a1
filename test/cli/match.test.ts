import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../../src/cli/cli.ts';
import type { CliIo } from '../../src/cli/io.ts';

class Capture extends Writable {
  text = '';
  constructor(highWaterMark?: number) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
  }
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    // Complete asynchronously so that writers really see back-pressure.
    setImmediate(done);
  }
}

async function run(argv: string[], stdinText = '', stdout = new Capture()) {
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, stdin: Readable.from([stdinText]), env: {} };
  const code = await runCli(['match', ...argv], io);
  // Writes may still sit in the streams' buffers: let them drain before reading what was written.
  await Promise.all(
    [stdout, stderr].map(async (s) => {
      s.end();
      await finished(s);
    }),
  );
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const lines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

describe('match --selector', () => {
  it('prints true when the labels match', async () => {
    const r = await run(['--selector', 'role == "worker" && has(zone)', '--labels', 'role=worker,zone=a']);
    assert.deepEqual(r, { code: 0, stdout: 'true\n', stderr: '' });
  });

  it('prints false when they do not', async () => {
    const r = await run(['--selector', 'role == "worker"', '--labels', 'role=master']);
    assert.deepEqual(r, { code: 0, stdout: 'false\n', stderr: '' });
  });

  it('accepts --flag=value forms and values containing =', async () => {
    const r = await run(['--selector=expr == "a=b=c"', '--labels=expr=a=b=c']);
    assert.equal(r.stdout, 'true\n');
  });

  it('takes an empty or absent --labels as no labels', async () => {
    assert.equal((await run(['--selector', '!has(a)', '--labels', ''])).stdout, 'true\n');
    assert.equal((await run(['--selector', 'a != "x"'])).stdout, 'true\n');
    assert.equal((await run(['--selector', 'has(a)'])).stdout, 'false\n');
  });

  it('allows empty values', async () => {
    assert.equal((await run(['--selector', 'a == ""', '--labels', 'a='])).stdout, 'true\n');
  });

  it('treats an empty selector as all()', async () => {
    assert.equal((await run(['--selector', '', '--labels', 'a=b'])).stdout, 'true\n');
  });

  it('treats __proto__ and constructor as ordinary label keys', async () => {
    const r = await run(['--selector', '__proto__ == "x" && !has(constructor) && !has(toString)', '--labels', '__proto__=x']);
    assert.equal(r.stdout, 'true\n');
  });

  it('exits 2 with the position and a caret for an invalid selector', async () => {
    const r = await run(['--selector', 'a == b', '--labels', 'a=b']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.equal(
      r.stderr,
      "calico-hep-agent match: invalid selector at position 5: expected a quoted string (\"...\" or '...'), found 'b'\n" + '  a == b\n' + '       ^\n',
    );
  });

  it('omits the caret for a selector spanning lines', async () => {
    const r = await run(['--selector', 'a == "b" &&\nhas(c)']);
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      "calico-hep-agent match: invalid selector at position 11: expected a label key, 'has(', 'all()', 'global()', '!' or '(', found '\\n'\n",
    );
  });

  for (const [labels, message] of [
    ['a', "expected key=value, got 'a'"],
    ['a=b,', "expected key=value, got ''"],
    ['=b', "empty label key in '=b'"],
    ['a=b,a=c', "label 'a' given twice"],
  ] as const) {
    it(`rejects --labels ${JSON.stringify(labels)}`, async () => {
      const r = await run(['--selector', 'all()', '--labels', labels]);
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `calico-hep-agent match: --labels: ${message}\n`);
    });
  }

  it('rejects bad usage with exit 2', async () => {
    for (const argv of [[], ['--labels', 'a=b'], ['--selector'], ['--selector', 'x', 'extra'], ['--nope'], ['--batch', '-', '--selector', 'all()']]) {
      const r = await run(argv);
      assert.equal(r.code, 2, `${JSON.stringify(argv)}: ${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^calico-hep-agent match: /);
    }
  });

  it('prints help', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /usage: calico-hep-agent match --selector EXPR/);
    assert.match(r.stdout, /--batch FILE\|-/);
  });

  it('is listed in the top-level usage', async () => {
    const stdout = new Capture();
    const io: CliIo = { stdout, stderr: new Capture(), stdin: Readable.from([]), env: {} };
    assert.equal(await runCli(['--help'], io), 0);
    stdout.end();
    await finished(stdout);
    assert.match(stdout.text, /^ {2}match {6}evaluate a Calico label selector/m);
  });
});

const BATCH_INPUT = [
  '{"selector": "role == \\"worker\\"", "labels": {"role": "worker"}}',
  '',
  '   ',
  '{"selector": "role == \\"worker\\"", "labels": {"role": "master"}}',
  '{"selector": "a == b", "labels": {}}',
  'not json',
  '{"selector": 3, "labels": {}}',
  '{"selector": "has(a)", "labels": {"a": 1}}',
  '{"selector": "has(a)", "labels": ["a"]}',
  '[1]',
  '{"selector": "!has(a)"}',
  '{"selector": "has(__proto__)", "labels": {"__proto__": "x"}}',
  '{"selector": "", "labels": {"x": "y"}}\r',
  '{"selector": "role == \\"worker\\"", "labels": {"role": "worker"}}',
].join('\n');

// One answer per input line, in order; the blank and whitespace-only lines answer with a blank line.
const BATCH_OUTPUT: (object | '')[] = [
  { match: true },
  '',
  '',
  { match: false },
  { error: "invalid selector at position 5: expected a quoted string (\"...\" or '...'), found 'b'" },
  { error: 'invalid JSON: ' + errorOf(() => JSON.parse('not json')) },
  { error: '"selector" must be a string' },
  { error: "label 'a' must have a string value" },
  { error: '"labels" must be an object of string values' },
  { error: 'expected a JSON object {"selector": "...", "labels": {...}}' },
  { match: true },
  { match: true },
  { match: true },
  { match: true },
];

/** Every output line, blank ones as '' (the final newline ends the last line). */
const allLines = (text: string): unknown[] => {
  assert.ok(text === '' || text.endsWith('\n'), 'output ends with a newline');
  return text === ''
    ? []
    : text
        .slice(0, -1)
        .split('\n')
        .map((l) => (l === '' ? '' : (JSON.parse(l) as unknown)));
};

function errorOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('did not throw');
}

describe('match --batch', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'match-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('answers every input line on the same output line, blank ones with a blank line; exit 1 when any line failed', async () => {
    const r = await run(['--batch', '-'], BATCH_INPUT);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, 'calico-hep-agent match: 6 line(s) failed\n');
    assert.deepEqual(allLines(r.stdout), BATCH_OUTPUT);
    assert.equal(r.stdout.split('\n').length, BATCH_INPUT.split('\n').length + 1);
  });

  it('reads JSON lines from a file', async () => {
    const file = join(dir, 'batch.jsonl');
    await writeFile(file, BATCH_INPUT + '\n');
    const r = await run(['--batch', file]);
    assert.equal(r.code, 1);
    assert.deepEqual(allLines(r.stdout), BATCH_OUTPUT);
  });

  it('exits 0 when every line was answered without error, blank lines included', async () => {
    const input = '{"selector": "has(a)", "labels": {"a": "x"}}\n\n{"selector": "has(a)"}\n\n';
    const r = await run(['--batch', '-'], input);
    assert.deepEqual(r, { code: 0, stdout: '{"match":true}\n\n{"match":false}\n\n', stderr: '' });
  });

  it('writes nothing for empty input', async () => {
    assert.deepEqual(await run(['--batch', '-'], ''), { code: 0, stdout: '', stderr: '' });
  });

  it('exits 2 when the file cannot be opened', async () => {
    const r = await run(['--batch', join(dir, 'missing.jsonl')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--batch: cannot open '.*missing\.jsonl': ENOENT/);
  });

  it('exits 1 when the input cannot be read', async () => {
    const r = await run(['--batch', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /EISDIR/);
  });

  it('keeps order and respects back-pressure on large batches', async () => {
    const n = 5000;
    const input = Array.from({ length: n }, (_, i) => JSON.stringify({ selector: `i in {"${i % 3}"}`, labels: { i: '0' } })).join('\n');
    const r = await run(['--batch', '-'], input, new Capture(64));
    assert.equal(r.code, 0);
    const out = lines(r.stdout);
    assert.equal(out.length, n);
    out.forEach((o, i) => assert.deepEqual(o, { match: i % 3 === 0 }));
  });
});
