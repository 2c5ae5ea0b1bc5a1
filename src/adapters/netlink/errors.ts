/** Why discovery failed; lets callers and metrics tell the cases apart without parsing messages. */
export type DiscoveryErrorCode =
  /** The `ip` command is not installed / not on PATH / not executable. */
  | 'not-found'
  /** `ip` could not be started for another reason (EACCES, too many processes, ...). */
  | 'spawn-failed'
  /** `ip` ran and exited non-zero or was killed by a signal. */
  | 'exit'
  /** `ip` did not finish within the time limit and was killed. */
  | 'timeout'
  /** The caller's AbortSignal fired. */
  | 'aborted'
  /** `ip` printed something that is not the JSON shape we expect. */
  | 'parse'
  /** The kernel reported the netlink dump was interrupted by concurrent changes, even after retries. */
  | 'interrupted'
  /** `ip` printed more output than we are willing to buffer. */
  | 'output-too-large';

/**
 * Interface discovery could not produce a trustworthy answer. Never turned into an empty interface
 * list: callers must treat it as "unknown" and must not delete anything because of it.
 */
export class DiscoveryError extends Error {
  override readonly name = 'DiscoveryError';
  readonly code: DiscoveryErrorCode;
  constructor(code: DiscoveryErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
