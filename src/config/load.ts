// Reads, merges and validates the configuration once, at start. Precedence: flags > environment > file > defaults.
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { configSchema, type Config } from './schema.ts';
import { errorMessage } from '../core/error-message.ts';

// zod/mini carries no messages of its own ("Invalid input"); the English ones are handed to each parse
// (not set globally with z.config), so an unmessaged issue still reads "Invalid option: expected one of ...".
const english = en().localeError;

/** An invalid configuration. The message names the field (and the rule, for label rules). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Path = readonly PropertyKey[];

function formatPath(path: Path): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** For paths through a named rule list, e.g. `interfaceRules[1]`, the rule's own name helps most. */
function ruleNameAt(input: unknown, path: Path): string | undefined {
  let node: unknown = input;
  let name: string | undefined;
  for (const part of path) {
    if (node === null || typeof node !== 'object') break;
    node = (node as Record<PropertyKey, unknown>)[part as string];
    if (typeof part === 'number' && node !== null && typeof node === 'object') {
      const n = (node as Record<string, unknown>)['name'];
      if (typeof n === 'string') name = n;
    }
  }
  return name;
}

/** Where a top-level key's value came from, when not from the file: `NODE_NAME`, `--node-name`, ... */
export type Origins = Readonly<Record<string, string>>;

function describeIssue(issue: z.core.$ZodIssue, input: unknown, origins: Origins): string {
  const path = issue.path;
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    // Point at the unknown key itself, not at the object holding it.
    return issue.keys.map((k) => `${formatPath([...path, k])}: unknown key`).join('; ');
  }
  const rule = ruleNameAt(input, path);
  if (rule !== undefined) message = `${message} (rule "${rule}")`;
  const origin = typeof path[0] === 'string' ? origins[path[0]] : undefined;
  return `${formatPath(path)}${origin !== undefined ? ` (from ${origin})` : ''}: ${message}`;
}

/** Validates a parsed config document (an object from YAML) and fills in defaults. */
export function validateConfig(input: unknown, source = 'config', origins: Origins = {}): Config {
  const result = configSchema.safeParse(input ?? {}, { error: english });
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${describeIssue(i, input, origins)}`);
  throw new ConfigError(`invalid ${source}:\n${lines.join('\n')}`);
}

/** Parses config file text (YAML, and so JSON too) into a plain mapping, not yet validated. */
function parseConfigDocument(text: string, source: string): Record<string, unknown> {
  let doc: unknown;
  try {
    doc = parseYaml(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    throw new ConfigError(`invalid ${source}: not valid YAML: ${errorMessage(err)}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError(`invalid ${source}: the top level must be a mapping of keys`);
  }
  return doc as Record<string, unknown>;
}

/** Parses and validates config file text. */
export function parseConfigText(text: string, source: string): Config {
  return validateConfig(parseConfigDocument(text, source), source);
}

export interface ConfigSources {
  /** Path of the YAML config file, if any. */
  readonly file?: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Values from command-line flags; they win over everything else. */
  readonly overrides?: { nodeName?: string | undefined; logLevel?: string | undefined } | undefined;
}

/**
 * Reads the config file (if any), applies the environment (NODE_NAME, LOG_LEVEL) and flag overrides,
 * and validates the result as a whole, so a bad value from any source is reported the same way.
 */
export async function loadConfig(sources: ConfigSources): Promise<Config> {
  let doc: Record<string, unknown> = {};
  const source = sources.file !== undefined ? `config file ${sources.file}` : 'config';
  if (sources.file !== undefined) {
    let text: string;
    try {
      text = await readFile(sources.file, 'utf8');
    } catch (err) {
      throw new ConfigError(`cannot read config file ${sources.file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
    }
    doc = parseConfigDocument(text, source);
    // Validate the file alone first, so its errors are not blamed on the environment.
    validateConfig(doc, source);
  }
  const merged: Record<string, unknown> = { ...doc };
  const origins: Record<string, string> = {};
  const set = (key: string, value: string | undefined, origin: string) => {
    if (value === undefined) return;
    merged[key] = value;
    origins[key] = origin;
  };
  const env = sources.env;
  set('nodeName', env['NODE_NAME'] === '' ? undefined : env['NODE_NAME'], 'environment variable NODE_NAME');
  set('logLevel', env['LOG_LEVEL'] === '' ? undefined : env['LOG_LEVEL'], 'environment variable LOG_LEVEL');
  const o = sources.overrides;
  set('nodeName', o?.nodeName, 'the command line');
  set('logLevel', o?.logLevel, 'the command line');
  return validateConfig(merged, sources.file !== undefined ? `${source} (with environment and flags)` : 'config (from environment and flags)', origins);
}
