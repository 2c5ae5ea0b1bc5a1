import type { Readable, Writable } from 'node:stream';

/** What a command may touch of the process: injected so tests can run commands in-process. */
export interface CliIo {
  readonly stdout: Writable;
  readonly stderr: Writable;
  readonly stdin: Readable;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A command: gets the arguments after its name, returns the exit code. */
export type Command = (argv: readonly string[], io: CliIo) => Promise<number>;

/** Exit codes shared by every command. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
/** Bad usage or invalid configuration: the caller must change what they asked for. */
export const EXIT_USAGE = 2;

/** Thrown for bad flags or configuration; the CLI prints the message and exits with EXIT_USAGE. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
