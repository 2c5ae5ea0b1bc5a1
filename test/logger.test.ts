import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { createLogger } from '../src/logger.ts';
import { prettyLine } from '../src/observability/pretty.ts';
import { waitFor } from './helpers/wait.ts';

function capture(tty: boolean): { stream: PassThrough & { isTTY?: boolean }; text: () => string } {
  const stream = new PassThrough() as PassThrough & { isTTY?: boolean };
  if (tty) stream.isTTY = true;
  let out = '';
  stream.on('data', (d: Buffer) => (out += d.toString()));
  return { stream, text: () => out };
}

test('JSON lines when not a terminal, with tokens redacted', async () => {
  const c = capture(false);
  const log = createLogger('info', c.stream);
  log.info({ request: { authorization: 'Bearer secret' }, user: { token: 'abc' } }, 'hello');
  log.debug({}, 'hidden');
  await new Promise((r) => setImmediate(r));
  const rec = JSON.parse(c.text().trim()) as Record<string, unknown>;
  assert.equal(rec['msg'], 'hello');
  assert.doesNotMatch(c.text(), /secret|abc/);
  assert.match(c.text(), /\[redacted\]/);
});

test('readable lines on a terminal', async () => {
  const c = capture(true);
  createLogger('info', c.stream).warn({ hostEndpoint: 'n1-eth0', changes: ['x'] }, 'drift');
  await waitFor('the whole line', () => c.text().endsWith('\n'));
  assert.match(c.text(), /^\d\d:\d\d:\d\d WARN {2}drift hostEndpoint=n1-eth0 changes=\["x"\]\n$/);
});

test('a line that is not JSON passes through', () => {
  assert.equal(prettyLine('plain'), 'plain');
});
