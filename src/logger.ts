// The logger the agent's modules take by injection: the slice of pino they use, so tests pass a
// silent or recording logger and nothing reaches for a global.
import { pino, type LevelWithSilent } from 'pino';
import { prettyStream } from './observability/pretty.ts';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

const noop = (): void => undefined;

/** Drops everything; the default where no logger is injected. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop };

/**
 * JSON lines (what log collectors expect from a DaemonSet), or readable lines when the destination is
 * a terminal. Authorization headers and tokens are redacted wherever they would appear, so a logged
 * request or error never leaks one.
 */
export function createLogger(level: LevelWithSilent, destination: NodeJS.WritableStream = process.stdout): pino.Logger {
  const isTty = (destination as { isTTY?: boolean }).isTTY === true;
  return pino(
    {
      level,
      base: { app: 'calico-hep-agent' },
      redact: { paths: ['*.authorization', '*.Authorization', '*.token', '*.bearerToken', 'headers.authorization'], censor: '[redacted]' },
    },
    isTty ? prettyStream(destination) : destination,
  );
}
