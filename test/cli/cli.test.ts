// The top-level CLI: --version, help, help <command>, unknown commands.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { runCli } from '../../src/cli/cli.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(...argv: string[]) {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await runCli(argv, { stdout, stderr, stdin: Readable.from([]), env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

describe('calico-hep-agent', () => {
  it('--version prints the package version', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v', 'version']) {
      assert.deepEqual(await cli(flag), { code: 0, stdout: `calico-hep-agent ${version}\n`, stderr: '' });
    }
  });

  it("help <command> prints that command's help, the same as <command> --help", async () => {
    for (const name of ['run', 'plan', 'prune', 'match', 'explain']) {
      const viaHelp = await cli('help', name);
      assert.equal(viaHelp.code, 0, viaHelp.stderr);
      assert.match(viaHelp.stdout, new RegExp(`^usage: calico-hep-agent ${name}\\b`));
      assert.deepEqual(viaHelp, await cli(name, '--help'));
    }
  });

  it("help alone lists the commands and says how to get a command's help", async () => {
    const r = await cli('help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^ {2}plan {6}/m);
    assert.match(r.stdout, /calico-hep-agent help <command>/);
    assert.equal((await cli()).code, 2, 'no command is a usage error');
  });

  it('an unknown command, also after help, exits 2 naming it', async () => {
    for (const argv of [['nope'], ['help', 'nope'], ['toString'], ['help', '__proto__']]) {
      const r = await cli(...argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.stderr, /unknown command '(nope|toString|__proto__)'/);
    }
  });
});
