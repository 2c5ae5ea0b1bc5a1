// Runs one `ip` invocation as a child process (no shell) and collects its output, mapping every way it
// can fail to a DiscoveryError whose message says what failed and how to fix it.

import { spawn } from 'node:child_process';
import { DiscoveryError } from './errors.ts';
import { errorMessage } from '../../core/error-message.ts';

export interface RunIpOptions {
  /** Executable to run; default `ip`. */
  readonly ipCommand?: string | undefined;
  /** Run inside this named network namespace (`ip -n NS ...`). */
  readonly netns?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** Kill the child and fail after this long. */
  readonly timeoutMs: number;
  /** Fail when stdout grows beyond this many bytes. */
  readonly maxOutputBytes: number;
}

export interface RunIpResult {
  readonly stdout: string;
  readonly stderr: string;
}

const STDERR_LIMIT = 64 * 1024;

/** libnetlink's message when the kernel set NLM_F_DUMP_INTR: the answer may mix before and after. */
export const DUMP_INTERRUPTED = /Dump was interrupted/i;

/** The argv actually passed to the `ip` executable (global options first). */
export function ipArgv(args: readonly string[], netns: string | undefined): string[] {
  return netns === undefined ? [...args] : ['-n', netns, ...args];
}

function describe(cmd: string, argv: readonly string[]): string {
  return `\`${[cmd, ...argv].join(' ')}\``;
}

/** Hints for well-known `ip` failures, appended to the error message. */
function hintFor(stderr: string, netns: string | undefined): string {
  if (/Option "-j" is unknown|Option "-json" is unknown|unknown option/i.test(stderr)) {
    return ' This `ip` does not support JSON output (-j): install a current iproute2 (>= 4.14; BusyBox `ip` is not enough).';
  }
  if (/Cannot open network namespace/i.test(stderr)) {
    return ` Network namespace ${netns === undefined ? '' : `"${netns}" `}does not exist or is not readable.`;
  }
  if (/Operation not permitted|Permission denied/i.test(stderr)) {
    return ' The agent lacks the privileges netlink needs here (run it in the host network namespace, with CAP_NET_ADMIN for namespaces).';
  }
  return '';
}

export function runIp(args: readonly string[], opts: RunIpOptions): Promise<RunIpResult> {
  const cmd = opts.ipCommand ?? 'ip';
  const argv = ipArgv(args, opts.netns);
  const what = describe(cmd, argv);

  return new Promise<RunIpResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new DiscoveryError('aborted', `${what} was not started: discovery was aborted`, { cause: opts.signal.reason }));
      return;
    }

    let settled = false;
    let failure: DiscoveryError | undefined;
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';

    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(cmd, argv, {
        stdio: ['ignore', 'pipe', 'pipe'],
        // Stable, untranslated messages; JSON output does not depend on the locale but errors do.
        env: { ...process.env, LC_ALL: 'C' },
      });
    } catch (err) {
      // Synchronous failures: invalid arguments (e.g. a NUL byte in a namespace name).
      reject(new DiscoveryError('spawn-failed', `could not run ${what}: ${errorMessage(err)}`, { cause: err }));
      return;
    }

    const finish = (err: DiscoveryError | undefined, result?: RunIpResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (err !== undefined) reject(err);
      else resolve(result as RunIpResult);
    };

    // Fail now, make sure the child dies; `close` will arrive later and is ignored.
    const failAndKill = (err: DiscoveryError): void => {
      failure ??= err;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      finish(failure);
    };

    const onAbort = (): void => {
      failAndKill(new DiscoveryError('aborted', `${what} was aborted`, { cause: opts.signal?.reason }));
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    // Declared after `finish`, which clears it: nothing calls `finish` before this line runs (every caller is an event).
    const timer = setTimeout(() => {
      failAndKill(
        new DiscoveryError(
          'timeout',
          `${what} did not finish within ${opts.timeoutMs} ms and was killed; the kernel or the system is overloaded, or \`ip\` is hanging (increase the discovery timeout if this node has very many interfaces).`,
        ),
      );
    }, opts.timeoutMs);

    child.stdout?.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > opts.maxOutputBytes) {
        failAndKill(new DiscoveryError('output-too-large', `${what} printed more than ${opts.maxOutputBytes} bytes; refusing to buffer more.`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      if (stderr.length < STDERR_LIMIT) stderr += chunk;
    });

    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') {
        failAndKill(
          new DiscoveryError(
            'not-found',
            `\`${cmd}\` ${cmd.includes('/') ? 'does not exist' : 'not found on PATH'} (${err.message}): install iproute2, or point ipCommand at the \`ip\` binary.`,
            {
              cause: err,
            },
          ),
        );
      } else if (err.code === 'EACCES' && !cmd.includes('/')) {
        // execvp reports EACCES when no PATH entry held a runnable `cmd` but one was unreadable.
        failAndKill(
          new DiscoveryError(
            'not-found',
            `\`${cmd}\` not found on PATH, or not executable, or a PATH directory is not searchable (${err.message}): install iproute2, or point ipCommand at the \`ip\` binary.`,
            {
              cause: err,
            },
          ),
        );
      } else if (err.code === 'EACCES') {
        failAndKill(
          new DiscoveryError('spawn-failed', `\`${cmd}\` is not executable (${err.message}): fix its permissions or point ipCommand at the \`ip\` binary.`, {
            cause: err,
          }),
        );
      } else {
        failAndKill(new DiscoveryError('spawn-failed', `could not run ${what}: ${err.message}`, { cause: err }));
      }
    });

    child.on('close', (code, signal) => {
      if (failure !== undefined) return finish(failure);
      const errText = stderr.trim();
      if (code !== 0) {
        const status = code === null ? `was killed by ${signal ?? 'a signal'}` : `exited with status ${code}`;
        const detail = errText === '' ? '' : `: ${errText.replace(/[.\s]+$/, '')}`;
        // Some iproute2 versions fail (rather than warn) when the kernel flags a dump as interrupted.
        const errCode = DUMP_INTERRUPTED.test(errText) ? 'interrupted' : 'exit';
        finish(new DiscoveryError(errCode, `${what} ${status}${detail}.${hintFor(errText, opts.netns)}`));
        return;
      }
      finish(undefined, { stdout: Buffer.concat(stdout).toString('utf8'), stderr });
    });
  });
}
