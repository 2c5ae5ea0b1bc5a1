// `calico-hep-agent match`: does a Calico selector match a label set? One question from flags, or many
// as JSON lines from a file or stdin.
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { parseSelector, SelectorError, type Selector } from '../../core/selector/index.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo } from '../io.ts';
import { errorMessage } from '../../core/error-message.ts';

const HELP = `usage: calico-hep-agent match --selector EXPR [--labels k=v,...]
       calico-hep-agent match --batch FILE|-

Evaluates a Calico label selector against a set of labels.

  --selector EXPR   the selector, in Calico syntax (empty means all())
  --labels k=v,...  the labels; a value may contain '=', not ','; empty or absent means no labels
  --batch FILE|-    read JSON lines {"selector": "...", "labels": {"k": "v"}} from FILE (- for stdin)
                    and write one line per input line, in order: {"match": true|false} or
                    {"error": "..."}; a blank input line gives a blank output line, so output line N
                    always answers input line N
  -h, --help        show this help

Single mode prints true or false and exits 0; an invalid selector exits 2.
Batch mode exits 0 when every line was answered, 1 when any line was an error (all lines are still
answered).
`;

/** Renders a selector error with the selector and a caret under the failing position. */
export function describeSelectorError(selector: string, err: SelectorError): string {
  // Only a single-line selector can be pointed into meaningfully (Calico rejects newlines anyway).
  if (/[\r\n]/.test(selector)) return err.message;
  return `${err.message}\n  ${selector}\n  ${' '.repeat(err.position)}^`;
}

/** `k=v,k2=v2` into labels. Values may contain '='; keys must be non-empty and given once. */
export function parseLabelsFlag(text: string): Record<string, string> {
  // No prototype: a label named `__proto__` or `constructor` is just a label.
  const labels: Record<string, string> = Object.create(null) as Record<string, string>;
  if (text === '') return labels;
  for (const item of text.split(',')) {
    const eq = item.indexOf('=');
    if (eq === -1) throw new UsageError(`--labels: expected key=value, got '${item}'`);
    if (eq === 0) throw new UsageError(`--labels: empty label key in '${item}'`);
    const key = item.slice(0, eq);
    if (Object.hasOwn(labels, key)) throw new UsageError(`--labels: label '${key}' given twice`);
    labels[key] = item.slice(eq + 1);
  }
  return labels;
}

export async function match(argv: readonly string[], io: CliIo): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        selector: { type: 'string' },
        labels: { type: 'string' },
        batch: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(errorMessage(err));
  }
  if (values.help === true) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  if (values.batch !== undefined) {
    if (values.selector !== undefined || values.labels !== undefined) {
      throw new UsageError('--batch cannot be combined with --selector or --labels');
    }
    return runBatch(values.batch, io);
  }
  if (values.selector === undefined) throw new UsageError('one of --selector or --batch is required');
  const labels = parseLabelsFlag(values.labels ?? '');
  let selector: Selector;
  try {
    selector = parseSelector(values.selector);
  } catch (err) {
    if (err instanceof SelectorError) throw new UsageError(describeSelectorError(values.selector, err));
    throw err;
  }
  io.stdout.write(`${selector.matches(labels)}\n`);
  return EXIT_OK;
}

async function runBatch(source: string, io: CliIo): Promise<number> {
  let input: Readable;
  let close = async (): Promise<void> => {};
  if (source === '-') {
    input = io.stdin;
  } else {
    const file = await open(source, 'r').catch((err: unknown) => {
      const code = (err as NodeJS.ErrnoException | null)?.code;
      const reason = typeof code === 'string' ? code : errorMessage(err);
      throw new UsageError(`--batch: cannot open '${source}': ${reason}`);
    });
    input = file.createReadStream({ encoding: 'utf8' });
    close = () => file.close();
  }
  let failed = 0;
  try {
    const out = new LineWriter(io.stdout);
    const cache = new SelectorCache();
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      // Blank in, blank out: output line N answers input line N.
      if (line.trim() === '') {
        await out.write('');
        continue;
      }
      const result = evaluateLine(line, cache);
      if ('error' in result) failed += 1;
      await out.write(JSON.stringify(result));
    }
  } finally {
    await close();
  }
  if (failed > 0) io.stderr.write(`calico-hep-agent match: ${failed} line(s) failed\n`);
  return failed > 0 ? EXIT_FAILURE : EXIT_OK;
}

type BatchResult = { match: boolean } | { error: string };

/** One batch line to its answer. Never throws: a bad line becomes an error answer. */
export function evaluateLine(line: string, cache: SelectorCache): BatchResult {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch (err) {
    return { error: `invalid JSON: ${errorMessage(err)}` };
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) {
    return { error: 'expected a JSON object {"selector": "...", "labels": {...}}' };
  }
  const { selector: text, labels } = request as { selector?: unknown; labels?: unknown };
  if (typeof text !== 'string') return { error: '"selector" must be a string' };
  if (labels !== undefined && (typeof labels !== 'object' || labels === null || Array.isArray(labels))) {
    return { error: '"labels" must be an object of string values' };
  }
  const labelMap = (labels ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(labelMap)) {
    if (typeof value !== 'string') return { error: `label '${key}' must have a string value` };
  }
  const selector = cache.get(text);
  if (selector instanceof SelectorError) return { error: selector.message };
  // JSON.parse makes own data properties, `__proto__` included, which is what matching reads.
  return { match: selector.matches(labelMap as Record<string, string>) };
}

/** Batches repeat the same few selectors: parse each once. Bounded so a huge batch cannot grow it forever. */
export class SelectorCache {
  readonly #entries = new Map<string, Selector | SelectorError>();
  readonly #limit: number;

  constructor(limit = 10_000) {
    this.#limit = limit;
  }

  get(text: string): Selector | SelectorError {
    let entry = this.#entries.get(text);
    if (entry === undefined) {
      try {
        entry = parseSelector(text);
      } catch (err) {
        if (!(err instanceof SelectorError)) throw err;
        entry = err;
      }
      if (this.#entries.size >= this.#limit) this.#entries.clear();
      this.#entries.set(text, entry);
    }
    return entry;
  }
}

/** Writes lines, waiting for 'drain' when the stream buffers, so a large batch does not pile up in memory. */
class LineWriter {
  readonly #stream: Writable;

  constructor(stream: Writable) {
    this.#stream = stream;
  }

  async write(line: string): Promise<void> {
    if (!this.#stream.write(`${line}\n`)) {
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          this.#stream.off('drain', onDrain);
          this.#stream.off('error', done);
          if (err) reject(err);
          else resolve();
        };
        const onDrain = (): void => done();
        this.#stream.once('drain', onDrain);
        this.#stream.once('error', done);
      });
    }
  }
}
