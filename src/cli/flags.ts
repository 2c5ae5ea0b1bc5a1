// Flag parsing shared by commands: node:util's parseArgs in strict mode, with our UsageError.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, loadConfig, type ConfigSources } from '../config/load.ts';
import type { Config } from '../config/schema.ts';
import { labelKeyError, labelValueError } from '../core/k8s-names.ts';
import { UsageError } from './io.ts';
import { errorMessage } from '../core/error-message.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

export function parseFlags<O extends Options>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
}

/** `k=v,k2=v2` into a label map; keys and values must be valid Kubernetes labels. */
export function parseLabelList(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text.split(',')) {
    if (item.trim() === '') continue;
    const eq = item.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag}: expected key=value, got "${item}"`);
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    const problem = labelKeyError(key) ?? labelValueError(value);
    if (problem !== undefined) throw new UsageError(`${flag}: ${problem}`);
    out[key] = value;
  }
  return out;
}

export function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string, fallback: T): T {
  if (value === undefined) return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag}: must be one of ${allowed.join(', ')}, got "${value}"`);
}

/** Loads the config for a command: an invalid one is a usage error (exit 2) naming the field. */
export async function commandConfig(sources: ConfigSources): Promise<Config> {
  try {
    return await loadConfig(sources);
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(err.message);
    throw err;
  }
}
