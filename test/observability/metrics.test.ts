// Observability end to end: the Agent in-process against the fake API server, its registry served by
// the real probe server, and /metrics scraped over HTTP and read with a strict parser of the
// Prometheus text format 0.0.4. Covers: each drift kind in `calico_hep_agent_drift{kind}` with the
// right value and cleared after repair, `drift_detected_total` counting appearances (not reconciles),
// /readyz and /healthz as docs/operations.md specifies, and a lint of the metric names and labels.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { startProbeServer, type ProbeServer } from '../../src/adapters/http/server.ts';
import { systemClock } from '../../src/adapters/system-clock.ts';
import { Agent } from '../../src/agent/agent.ts';
import { NodeEventRecorder } from '../../src/agent/events.ts';
import { validateConfig } from '../../src/config/load.ts';
import { desiredStateBuilder } from '../../src/core/desired.ts';
import type { HostEndpoint, NetInterface } from '../../src/core/model.ts';
import { MANAGED_BY_LABEL } from '../../src/core/ownership.ts';
import { DRIFT_KINDS, type DriftKind } from '../../src/core/reconcile.ts';
import { createLogger, silentLogger } from '../../src/logger.ts';
import { AgentMetrics, METRIC_PREFIX } from '../../src/observability/metrics.ts';
import { startFakeApiServer, type CalicoGroup, type FakeApiServer } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';
import { waitFor } from '../helpers/wait.ts';
import { apiClient } from '../helpers/api-client.ts';

// ---------------------------------------------------------------------------------------------
// A strict parser of the Prometheus text exposition format 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format).
// Errors name the line; anything the format does not allow is an error, not a guess.

type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  readonly timestamp: number | undefined;
}

interface Family {
  readonly name: string;
  help: string | undefined;
  type: MetricType | undefined;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
// Values are read as Prometheus reads them (Go's strconv.ParseFloat): the spec writes NaN and +Inf, but
// the special values are case-insensitive there, and prom-client writes NaN as "Nan".
const FLOAT = /^(?:[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)|nan)$/i;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

function parseFloatStrict(text: string, where: string): number {
  if (!FLOAT.test(text)) throw new Error(`${where}: invalid float ${JSON.stringify(text)}`);
  const lower = text.toLowerCase();
  if (lower === 'nan') return NaN;
  if (lower.endsWith('inf') || lower.endsWith('infinity')) return lower.startsWith('-') ? -Infinity : Infinity;
  return Number(text);
}

/** Which family a sample name belongs to, given the family currently open. */
function familyOf(sampleName: string, current: Family | undefined): string {
  if (current === undefined) return sampleName;
  if (sampleName === current.name) return current.name;
  const suffixes = current.type === 'histogram' ? ['_bucket', '_sum', '_count'] : current.type === 'summary' ? ['_sum', '_count'] : [];
  for (const s of suffixes) if (sampleName === current.name + s) return current.name;
  return sampleName;
}

function parseExposition(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const lines = text.split('\n');
  lines.pop(); // the empty string after the final newline
  const closed = new Set<string>();
  const seriesSeen = new Set<string>();
  let current: Family | undefined;

  const open = (name: string, where: string): Family => {
    if (current?.name === name) return current;
    if (closed.has(name) || families.has(name)) throw new Error(`${where}: metric family ${name} appears in more than one group`);
    if (current !== undefined) closed.add(current.name);
    current = { name, help: undefined, type: undefined, samples: [] };
    families.set(name, current);
    return current;
  };

  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(.*)$/.exec(line);
      if (m === null) return; // an ordinary comment
      const [, keyword = '', rest = ''] = m;
      const name = METRIC_NAME.exec(rest)?.[0];
      if (name === undefined) throw new Error(`${where}: ${keyword} without a valid metric name`);
      const after = rest.slice(name.length);
      if (after !== '' && !/^[ \t]/.test(after)) throw new Error(`${where}: invalid metric name in ${keyword}`);
      const arg = after.replace(/^[ \t]+/, '');
      const fam = open(name, where);
      if (keyword === 'HELP') {
        if (fam.help !== undefined) throw new Error(`${where}: second HELP for ${name}`);
        fam.help = arg.replace(/\\(.)?/g, (_, c: string | undefined) => {
          if (c === '\\') return '\\';
          if (c === 'n') return '\n';
          throw new Error(`${where}: invalid escape sequence in HELP of ${name}`);
        });
      } else {
        if (fam.type !== undefined) throw new Error(`${where}: second TYPE for ${name}`);
        if (fam.samples.length > 0) throw new Error(`${where}: TYPE for ${name} after its samples`);
        const type = arg.trimEnd();
        if (!(TYPES as readonly string[]).includes(type)) throw new Error(`${where}: unknown metric type ${JSON.stringify(type)}`);
        fam.type = type as MetricType;
      }
      return;
    }

    // A sample: name [{labels}] value [timestamp]
    let pos = 0;
    const skipBlanks = () => {
      while (line[pos] === ' ' || line[pos] === '\t') pos++;
    };
    const name = METRIC_NAME.exec(line)?.[0];
    if (name === undefined) throw new Error(`${where}: a sample must start with a metric name`);
    pos = name.length;
    const labels: Record<string, string> = {};
    skipBlanks();
    if (line[pos] === '{') {
      pos++;
      for (;;) {
        skipBlanks();
        if (line[pos] === '}') {
          pos++;
          break;
        }
        const label = LABEL_NAME.exec(line.slice(pos))?.[0];
        if (label === undefined) throw new Error(`${where}: invalid label name at column ${pos + 1}`);
        if (label.startsWith('__')) throw new Error(`${where}: reserved label name ${label}`);
        if (Object.hasOwn(labels, label)) throw new Error(`${where}: duplicate label ${label}`);
        pos += label.length;
        skipBlanks();
        if (line[pos] !== '=') throw new Error(`${where}: expected = after label ${label}`);
        pos++;
        skipBlanks();
        if (line[pos] !== '"') throw new Error(`${where}: expected " to open the value of ${label}`);
        pos++;
        let value = '';
        for (;;) {
          const c = line[pos];
          if (c === undefined) throw new Error(`${where}: unterminated value of label ${label}`);
          pos++;
          if (c === '"') break;
          if (c !== '\\') {
            value += c;
            continue;
          }
          const e = line[pos++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new Error(`${where}: invalid escape sequence in the value of label ${label}`);
        }
        labels[label] = value;
        skipBlanks();
        if (line[pos] === ',') {
          pos++;
          continue;
        }
        if (line[pos] === '}') {
          pos++;
          break;
        }
        throw new Error(`${where}: expected , or } after the value of label ${label}`);
      }
    }
    const tail = line.slice(pos);
    const m = /^[ \t]*(\S+)(?:[ \t]+(\S+))?[ \t]*$/.exec(tail);
    if (m === null) throw new Error(`${where}: expected a value after ${name}`);
    const [, valueText = '', tsText] = m;
    const value = parseFloatStrict(valueText, where);
    let timestamp: number | undefined;
    if (tsText !== undefined) {
      if (!/^-?\d+$/.test(tsText)) throw new Error(`${where}: invalid timestamp ${JSON.stringify(tsText)}`);
      timestamp = Number(tsText);
    }
    const fam = open(familyOf(name, current), where);
    const key = `${name}{${Object.keys(labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(labels[k])}`)
      .join(',')}}`;
    if (seriesSeen.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    seriesSeen.add(key);
    fam.samples.push({ name, labels, value, timestamp });
  });
  return families;
}

// ---------------------------------------------------------------------------------------------
// The naming lint: Prometheus conventions (https://prometheus.io/docs/practices/naming/) plus this
// agent's rules (one prefix, labels from a small fixed set). Returns every problem, not just the first.

/** Our own label names, and those prom-client's default process/Node.js metrics use. */
const OWN_LABELS: Readonly<Record<string, (v: string) => boolean>> = {
  kind: (v) => (DRIFT_KINDS as readonly string[]).includes(v) || ['major', 'minor', 'incremental', 'weakcb'].includes(v),
  result: (v) => ['success', 'error', 'skipped'].includes(v),
  verb: (v) => ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'].includes(v),
  // The cluster view's reflectors: one label per reflector (hostendpoints has three: managed, unmanaged, auto).
  resource: (v) =>
    [
      'nodes',
      'hostendpoints',
      'hostendpoints-unmanaged',
      'hostendpoints-auto',
      'apis',
      'events',
      'globalnetworkpolicies',
      'stagedglobalnetworkpolicies',
      'tiers',
      'felixconfigurations',
    ].includes(v),
  code: (v) => /^(?:0|[1-5]\d\d)$/.test(v),
  version: (v) => v.length > 0 && v.length <= 64,
  calico_api: (v) => ['none', 'projectcalico.org/v3', 'crd.projectcalico.org/v1'].includes(v),
  mode: (v) => ['repair', 'audit', 'dry-run'].includes(v),
  le: (v) => FLOAT.test(v),
};
const DEFAULT_METRIC_LABELS: Readonly<Record<string, (v: string) => boolean>> = {
  type: (v) => /^[A-Za-z0-9_]{1,40}$/.test(v), // nodejs_active_{handles,requests,resources}: libuv/Node resource types
  space: (v) => /^[a-z_]{1,40}$/.test(v), // nodejs_heap_space_size_*: V8 heap spaces
  major: (v) => /^\d+$/.test(v),
  minor: (v) => /^\d+$/.test(v),
  patch: (v) => /^\d+$/.test(v),
};
/** Name tokens that are not base units (Prometheus wants seconds and bytes). */
const NON_BASE_UNITS = new Set([
  'ms',
  'millis',
  'milliseconds',
  'us',
  'micros',
  'microseconds',
  'ns',
  'nanoseconds',
  'second',
  'minute',
  'minutes',
  'hour',
  'hours',
  'day',
  'days',
  'kb',
  'mb',
  'gb',
  'kilobytes',
  'megabytes',
  'gigabytes',
  'percent',
]);
/** Name tokens that say the value is a time, so it must be in seconds. */
const TIME_WORDS = new Set(['duration', 'latency', 'lag', 'time', 'timestamp', 'age', 'oldest', 'uptime', 'delay', 'interval', 'timeout', 'elapsed']);
const MAX_SERIES_PER_FAMILY = 100;

function lintExposition(families: ReadonlyMap<string, Family>, opts: { forbiddenLabelValues?: readonly string[] } = {}): string[] {
  const problems: string[] = [];
  const forbidden = opts.forbiddenLabelValues ?? [];
  for (const f of families.values()) {
    const n = f.name;
    const p = (msg: string) => problems.push(`${n}: ${msg}`);
    if (!n.startsWith(METRIC_PREFIX)) p(`does not start with ${METRIC_PREFIX}`);
    if (f.help === undefined || f.help.trim() === '') p('no HELP');
    if (f.type === undefined) p('no TYPE');
    else if (f.type === 'untyped' || f.type === 'summary') p(`type ${f.type} is not used by this agent`);
    const tokens = n.slice(METRIC_PREFIX.length).split('_');
    for (const t of tokens) if (NON_BASE_UNITS.has(t)) p(`unit "${t}" is not a base unit (use seconds or bytes)`);
    const base = f.type === 'counter' ? n.replace(/_total$/, '') : n;
    if (tokens.some((t) => TIME_WORDS.has(t)) && !base.endsWith('_seconds')) p('is a time but does not end in _seconds');
    if (f.type === 'counter') {
      if (!n.endsWith('_total')) p('counter does not end in _total');
    } else if (n.endsWith('_total')) p(`${f.type ?? 'untyped'} ends in _total (only counters may)`);
    if (f.type !== 'histogram' && /_(bucket|sum|count)$/.test(n)) p('only histograms have _bucket/_sum/_count series');
    if (n.endsWith('_info') && f.samples.some((s) => s.value !== 1)) p('an _info metric must be 1');
    if (f.samples.length > MAX_SERIES_PER_FAMILY) p(`${f.samples.length} series: unbounded labels?`);

    for (const s of f.samples) {
      if (f.type === 'histogram') {
        if (![`${n}_bucket`, `${n}_sum`, `${n}_count`].includes(s.name)) p(`histogram series ${s.name} is not _bucket, _sum or _count`);
        if ((s.name === `${n}_bucket`) !== Object.hasOwn(s.labels, 'le')) p(`${s.name}: le belongs on _bucket series only`);
      } else {
        if (s.name !== n) p(`series ${s.name} does not match its family`);
        if (Object.hasOwn(s.labels, 'le')) p('le label outside a histogram');
      }
      for (const [label, value] of Object.entries(s.labels)) {
        const allowed = OWN_LABELS[label] ?? DEFAULT_METRIC_LABELS[label];
        if (allowed === undefined) p(`label ${label} is not in the allowed set`);
        else if (!allowed(value)) p(`label ${label}="${value}" is not one of its bounded values`);
        for (const bad of forbidden) if (value.includes(bad)) p(`label ${label}="${value}" names "${bad}" (unbounded cardinality)`);
      }
    }

    if (f.type === 'histogram') {
      if (!/_(seconds|bytes)$/.test(n)) p('histogram does not end in a base unit (_seconds or _bytes)');
      const series = new Map<string, { buckets: { le: number; value: number }[]; sum?: number; count?: number }>();
      for (const s of f.samples) {
        const { le, ...rest } = s.labels;
        const key = JSON.stringify(Object.entries(rest).sort());
        const entry = series.get(key) ?? { buckets: [] };
        series.set(key, entry);
        if (s.name.endsWith('_bucket')) entry.buckets.push({ le: parseFloatStrict(le ?? '', n), value: s.value });
        else if (s.name.endsWith('_sum')) entry.sum = s.value;
        else entry.count = s.value;
      }
      for (const [key, e] of series) {
        const les = e.buckets.map((b) => b.le);
        if (e.sum === undefined || e.count === undefined) p(`${key}: _sum or _count missing`);
        if (les.at(-1) !== Infinity) p(`${key}: no le="+Inf" bucket last`);
        for (let i = 1; i < e.buckets.length; i++) {
          if (!(les[i]! > les[i - 1]!)) p(`${key}: le not strictly increasing`);
          if (e.buckets[i]!.value < e.buckets[i - 1]!.value) p(`${key}: buckets not cumulative`);
        }
        if (e.buckets.at(-1)?.value !== e.count) p(`${key}: le="+Inf" bucket differs from _count`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Harness: a fake API server, and an Agent plus probe server that can be started (and stopped)
// against it more than once, e.g. an audit agent and then a repair agent on the same cluster state.

const V3 = 'hostendpoints.projectcalico.org';
const D = (name: string) => `${METRIC_PREFIX}${name}`;

function node(name: string, labels: Record<string, string> = {}) {
  return { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } };
}

async function startApi(opts: { calicoGroups?: CalicoGroup[]; withNode?: boolean; seed?: object[] } = {}): Promise<FakeApiServer> {
  return startFakeApiServer({
    calicoGroups: opts.calicoGroups ?? ['projectcalico.org/v3'],
    seed: [...(opts.withNode === false ? [] : [node('n1', { role: 'master' })]), ...(opts.seed ?? [])] as never,
  });
}

function agentConfig(extra: Record<string, unknown> = {}) {
  const { intervals, ...rest } = extra as { intervals?: Record<string, unknown> };
  return validateConfig({
    nodeName: 'n1',
    intervals: { debounceMilliseconds: 10, removalGraceSeconds: 0, rescanSeconds: 3600, resyncSeconds: 3600, ...intervals },
    ...rest,
  });
}

interface Run {
  readonly agent: Agent;
  readonly metrics: AgentMetrics;
  readonly probe: ProbeServer;
  get(path: string): Promise<{ status: number; body: string; contentType: string | null }>;
  /** GET /metrics, parsed strictly. */
  scrape(): Promise<Map<string, Family>>;
  /** One series' value from a fresh scrape; undefined when absent. */
  value(name: string, labels?: Record<string, string>): Promise<number | undefined>;
  /** `calico_hep_agent_drift{kind}` for every kind, from one scrape. */
  drift(name?: string): Promise<Record<DriftKind, number | undefined>>;
  /** Triggers a reconcile and waits until one more has finished successfully. */
  reconcileOnce(): Promise<void>;
  stop(): Promise<void>;
}

function seriesValue(families: ReadonlyMap<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(s.labels);
      if (keys.length === Object.keys(labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}

async function startAgent(
  server: FakeApiServer,
  opts: { config?: Record<string, unknown>; interfaces?: NetInterface[]; defaultMetrics?: boolean; start?: boolean } = {},
): Promise<Run> {
  const config = agentConfig(opts.config);
  const interfaces = opts.interfaces ?? [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24'])];
  const metrics = new AgentMetrics(new Registry(), { defaultMetrics: opts.defaultMetrics ?? false });
  const api = apiClient(server, metrics);
  const agent = new Agent({
    config,
    nodeName: 'n1',
    api,
    discover: () => Promise.resolve(interfaces),
    metrics,
    events: new NodeEventRecorder(api, 'n1', { logger: silentLogger, clock: systemClock }),
    logger: process.env['AGENT_TEST_LOGS'] ? createLogger('debug', process.stderr) : silentLogger,
    clock: systemClock,
    version: 'test',
  });
  const probe = await startProbeServer({ address: '127.0.0.1', port: 0, registry: metrics.registry, health: agent });
  const base = `http://127.0.0.1:${probe.port}`;
  const get = async (path: string) => {
    const res = await fetch(base + path);
    return { status: res.status, body: await res.text(), contentType: res.headers.get('content-type') };
  };
  const scrape = async () => {
    const res = await get('/metrics');
    assert.equal(res.status, 200);
    return parseExposition(res.body);
  };
  const value = async (name: string, labels: Record<string, string> = {}) => seriesValue(await scrape(), name, labels);
  const run: Run = {
    agent,
    metrics,
    probe,
    get,
    scrape,
    value,
    drift: async (name = D('drift')) => {
      const fams = await scrape();
      return Object.fromEntries(DRIFT_KINDS.map((kind) => [kind, seriesValue(fams, name, { kind })])) as Record<DriftKind, number | undefined>;
    },
    reconcileOnce: async () => {
      const before = (await value(D('reconciles_total'), { result: 'success' })) ?? 0;
      agent.kernelChanged('test');
      await waitFor('one more successful reconcile', async () => ((await value(D('reconciles_total'), { result: 'success' })) ?? 0) > before);
    },
    stop: async () => {
      await agent.stop();
      await probe.close();
      api.close();
    },
  };
  if (opts.start !== false) agent.start();
  return run;
}

const zeroDrift = Object.fromEntries(DRIFT_KINDS.map((k) => [k, 0])) as Record<DriftKind, number>;

// ---------------------------------------------------------------------------------------------

describe('the strict exposition parser', () => {
  test('reads HELP/TYPE, labels with escapes, trailing commas, special floats and timestamps', () => {
    const text = [
      '# A comment that is neither HELP nor TYPE',
      '# HELP x_total Back\\\\slash and\\nnewline.',
      '# TYPE x_total counter',
      'x_total{a="q\\"uote",b="back\\\\slash",c="new\\nline",} 3 1700000000000',
      'x_total{a="other"} +Inf',
      '# TYPE h_seconds histogram',
      'h_seconds_bucket{le="0.5"} 1',
      'h_seconds_bucket{le="+Inf"} 2',
      'h_seconds_sum 1.5e0',
      'h_seconds_count 2',
      'g NaN',
      'g2 Nan',
      '',
    ].join('\n');
    const fams = parseExposition(text);
    assert.deepEqual([...fams.keys()], ['x_total', 'h_seconds', 'g', 'g2']);
    const x = fams.get('x_total')!;
    assert.equal(x.help, 'Back\\slash and\nnewline.');
    assert.equal(x.type, 'counter');
    assert.deepEqual(x.samples[0], { name: 'x_total', labels: { a: 'q"uote', b: 'back\\slash', c: 'new\nline' }, value: 3, timestamp: 1700000000000 });
    assert.equal(x.samples[1]?.value, Infinity);
    assert.equal(fams.get('h_seconds')?.samples.length, 4);
    assert.ok(Number.isNaN(fams.get('g')?.samples[0]?.value));
    assert.ok(Number.isNaN(fams.get('g2')?.samples[0]?.value), 'as prom-client writes it, and Prometheus reads it');
    assert.equal(fams.get('g')?.type, undefined, 'a sample without TYPE is its own untyped family');
  });

  const bad: [string, string, RegExp][] = [
    ['no final newline', 'a 1', /end with a newline/],
    ['invalid label-value escape', 'a{b="\\t"} 1\n', /invalid escape/],
    ['invalid HELP escape', '# HELP a x\\ty\n', /invalid escape/],
    ['unknown type', '# TYPE a countr\n', /unknown metric type/],
    ['TYPE after samples', 'a 1\n# TYPE a gauge\n', /TYPE for a after its samples/],
    ['second TYPE', '# TYPE a gauge\n# TYPE a gauge\n', /second TYPE/],
    ['second HELP', '# HELP a x\n# HELP a y\n', /second HELP/],
    ['family split in two groups', 'a 1\nb 1\na{c="d"} 2\n', /more than one group/],
    ['duplicate series', 'a{b="1",c="2"} 1\na{c="2",b="1"} 2\n', /duplicate series/],
    ['duplicate label', 'a{b="1",b="2"} 1\n', /duplicate label/],
    ['reserved label', 'a{__name__="x"} 1\n', /reserved label/],
    ['unterminated value', 'a{b="1} 1\n', /unterminated/],
    ['missing value', 'a{b="1"}\n', /expected a value/],
    ['bad float', 'a 1,5\n', /invalid float/],
    ['bad timestamp', 'a 1 1.5\n', /invalid timestamp/],
    ['bad metric name', '1a 1\n', /must start with a metric name/],
    ['label without quotes', 'a{b=1} 1\n', /expected "/],
    ['junk after value', 'a 1 2 3\n', /expected a value/],
  ];
  for (const [what, text, error] of bad) {
    test(`rejects: ${what}`, () => assert.throws(() => parseExposition(text), error));
  }
});

describe('the naming lint', () => {
  test('finds every kind of mistake it is meant to catch', () => {
    const p = METRIC_PREFIX;
    const text = [
      `# HELP ${p}writes Writes.`,
      `# TYPE ${p}writes counter`,
      `${p}writes 1`,
      `# HELP ${p}handles_total Handles.`,
      `# TYPE ${p}handles_total gauge`,
      `${p}handles_total 1`,
      `# HELP ${p}request_duration_milliseconds Duration.`,
      `# TYPE ${p}request_duration_milliseconds histogram`,
      `${p}request_duration_milliseconds_bucket{le="1"} 2`,
      `${p}request_duration_milliseconds_bucket{le="+Inf"} 1`,
      `${p}request_duration_milliseconds_sum 1`,
      `${p}request_duration_milliseconds_count 1`,
      `# TYPE ${p}drift_age gauge`,
      `${p}drift_age{interface="eth0"} 1`,
      `# HELP ${p}drift Drift.`,
      `# TYPE ${p}drift gauge`,
      `${p}drift{kind="n1-eth0"} 1`,
      '# HELP other_metric Other.',
      '# TYPE other_metric gauge',
      'other_metric 1',
      '',
    ].join('\n');
    const problems = lintExposition(parseExposition(text), { forbiddenLabelValues: ['eth0'] });
    const expect = [
      `${p}writes: counter does not end in _total`,
      `${p}handles_total: gauge ends in _total (only counters may)`,
      `${p}request_duration_milliseconds: unit "milliseconds" is not a base unit (use seconds or bytes)`,
      `${p}request_duration_milliseconds: is a time but does not end in _seconds`,
      `${p}request_duration_milliseconds: histogram does not end in a base unit (_seconds or _bytes)`,
      `${p}request_duration_milliseconds: []: buckets not cumulative`,
      `${p}drift_age: no HELP`,
      `${p}drift_age: is a time but does not end in _seconds`,
      `${p}drift_age: label interface is not in the allowed set`,
      `${p}drift_age: label interface="eth0" names "eth0" (unbounded cardinality)`,
      `${p}drift: label kind="n1-eth0" is not one of its bounded values`,
      `${p}drift: label kind="n1-eth0" names "eth0" (unbounded cardinality)`,
      'other_metric: does not start with calico_hep_agent_',
    ];
    assert.deepEqual(problems, expect);
  });

  test('the real /metrics of a converged agent (with the default process metrics, as `run` serves it) passes', async () => {
    const server = await startApi();
    const interfaces = [iface('eth0', ['192.0.2.10/24']), iface('ens5', ['198.51.100.10/24', '2001:db8::5/64'])];
    const run = await startAgent(server, { interfaces, defaultMetrics: true });
    try {
      await waitFor('HEPs created', () => server.store.get(V3, 'n1-eth0') && server.store.get(V3, 'n1-ens5'));
      // Let every family have samples: a repair, a convergence observation, a watch restart.
      server.store.delete(V3, 'n1-ens5');
      await waitFor('recreated', () => server.store.get(V3, 'n1-ens5'));
      server.controls.dropWatches('reset');
      await waitFor('a watch restart and a convergence observation', async () => {
        const fams = await run.scrape();
        const restarts = fams.get(D('watch_restarts_total'))?.samples.length ?? 0;
        return restarts > 0 && (seriesValue(fams, D('convergence_latency_seconds_count')) ?? 0) > 0;
      });
      await run.reconcileOnce();

      const res = await run.get('/metrics');
      assert.equal(res.status, 200);
      assert.equal(res.contentType, 'text/plain; version=0.0.4; charset=utf-8');
      const fams = parseExposition(res.body);
      const problems = lintExposition(fams, { forbiddenLabelValues: ['n1-eth0', 'n1-ens5', 'eth0', 'ens5'] });
      assert.deepEqual(problems, []);

      // The documented families are all there, with their documented types.
      const documented: Record<string, MetricType> = {
        drift: 'gauge',
        drift_detected_total: 'counter',
        drift_repaired_total: 'counter',
        drift_oldest_seconds: 'gauge',
        host_endpoints_desired: 'gauge',
        host_endpoints_actual: 'gauge',
        interfaces_seen: 'gauge',
        interfaces_selected: 'gauge',
        expected_ips: 'gauge',
        reconciles_total: 'counter',
        reconcile_duration_seconds: 'histogram',
        last_successful_reconcile_timestamp_seconds: 'gauge',
        api_requests_total: 'counter',
        watch_restarts_total: 'counter',
        convergence_latency_seconds: 'histogram',
        build_info: 'gauge',
        process_resident_memory_bytes: 'gauge',
      };
      for (const [name, type] of Object.entries(documented)) assert.equal(fams.get(D(name))?.type, type, name);
      assert.equal(seriesValue(fams, D('build_info'), { version: 'test', calico_api: 'projectcalico.org/v3', mode: 'repair' }), 1);
      assert.equal(seriesValue(fams, D('host_endpoints_desired')), 2);
      assert.equal(seriesValue(fams, D('host_endpoints_actual')), 2);
      assert.equal(seriesValue(fams, D('expected_ips')), 3);
      assert.ok((seriesValue(fams, D('api_requests_total'), { verb: 'create', resource: 'hostendpoints', code: '201' }) ?? 0) >= 3);
      assert.ok((seriesValue(fams, D('last_successful_reconcile_timestamp_seconds')) ?? 0) > 1.6e9);
    } finally {
      await run.stop();
      await server.close();
    }
  });
});

describe('probes', () => {
  test('/readyz is 503 until the first successful reconcile, then 200; /healthz is 200 while running', async () => {
    const server = await startApi({ withNode: false });
    const run = await startAgent(server, { start: false });
    try {
      let r = await run.get('/readyz');
      assert.equal(r.status, 503);
      assert.match(r.body, /^not ready: Calico API not found yet\n$/);
      assert.equal((await run.get('/healthz')).status, 200);

      // Started, but the Node is missing: every reconcile fails, so still not ready, and the body says why.
      run.agent.start();
      await waitFor('a failed reconcile', async () => ((await run.value(D('reconciles_total'), { result: 'error' })) ?? 0) >= 1);
      r = await run.get('/readyz');
      assert.equal(r.status, 503);
      assert.match(r.body, /^not ready: Node n1 not found\n$/);
      assert.equal(await run.value(D('reconciles_total'), { result: 'success' }), 0);
      r = await run.get('/healthz');
      assert.deepEqual([r.status, r.body], [200, 'ok\n']);

      server.store.put(node('n1', { role: 'master' }));
      await waitFor('/readyz 200', async () => (await run.get('/readyz')).status === 200, 15_000);
      r = await run.get('/readyz');
      assert.deepEqual([r.status, r.body], [200, 'ok\n']);
      assert.ok(((await run.value(D('reconciles_total'), { result: 'success' })) ?? 0) >= 1);
      assert.ok(server.store.get(V3, 'n1-eth0'));
      assert.equal((await run.get('/healthz')).status, 200);

      assert.equal((await run.get('/nothing-here')).status, 404);
      assert.equal((await fetch(`http://127.0.0.1:${run.probe.port}/metrics`, { method: 'POST' })).status, 405);

      await run.agent.stop();
      r = await run.get('/healthz');
      assert.equal(r.status, 503, 'not live once stopped');
      assert.match(r.body, /^not live/);
    } finally {
      await run.stop();
      await server.close();
    }
  });

  test('with no Calico API group served, /readyz stays 503 and names the reason; /healthz stays 200', async () => {
    const server = await startApi({ calicoGroups: [] });
    const run = await startAgent(server);
    try {
      // Several failed attempts (backoff starts at 200 ms), not just the first one.
      await waitFor('three failed reconciles', async () => ((await run.value(D('reconciles_total'), { result: 'error' })) ?? 0) >= 3, 15_000);
      const r = await run.get('/readyz');
      assert.equal(r.status, 503);
      assert.match(r.body, /^not ready: .*serves no projectcalico\.org\/v3 API/);
      assert.equal((await run.get('/healthz')).status, 200);
      const fams = await run.scrape();
      assert.equal(seriesValue(fams, D('reconciles_total'), { result: 'success' }), 0);
      assert.equal(seriesValue(fams, D('build_info'), { version: 'test', calico_api: 'none', mode: 'repair' }), 1);
      assert.deepEqual(
        server.requests({ verb: 'create' }).filter((e) => e.resource?.startsWith('hostendpoints')),
        [],
      );
      assert.deepEqual(lintExposition(fams), []);
    } finally {
      await run.stop();
      await server.close();
    }
  });
});

describe('drift in /metrics', () => {
  test('audit mode, no HEPs yet: missing = number of interfaces, counted once however many reconciles run', async () => {
    const server = await startApi();
    const interfaces = [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24']), iface('eth2', [])];
    const run = await startAgent(server, { config: { mode: 'audit' }, interfaces });
    try {
      await waitFor('missing drift', async () => (await run.drift()).missing === 3);
      assert.deepEqual(await run.drift(), { ...zeroDrift, missing: 3 });
      assert.deepEqual(await run.drift(D('drift_detected_total')), { ...zeroDrift, missing: 3 });
      for (let i = 0; i < 3; i++) await run.reconcileOnce();
      assert.deepEqual(await run.drift(), { ...zeroDrift, missing: 3 });
      assert.deepEqual(await run.drift(D('drift_detected_total')), { ...zeroDrift, missing: 3 }, 'not once per reconcile');
      assert.deepEqual(await run.drift(D('drift_repaired_total')), zeroDrift);
      await waitFor('drift ages', async () => {
        await run.reconcileOnce();
        return ((await run.value(D('drift_oldest_seconds'))) ?? 0) > 0;
      });
      const fams = await run.scrape();
      assert.equal(seriesValue(fams, D('host_endpoints_desired')), 3);
      assert.equal(seriesValue(fams, D('host_endpoints_actual')), 0);
      assert.equal(seriesValue(fams, D('interfaces_seen')), 3);
      assert.equal(seriesValue(fams, D('interfaces_selected')), 3);
      assert.equal(seriesValue(fams, D('build_info'), { version: 'test', calico_api: 'projectcalico.org/v3', mode: 'audit' }), 1);
      assert.equal(server.store.list(V3).length, 0, 'audit writes nothing');
      assert.equal(await run.get('/readyz').then((r) => r.status), 200, 'audit with drift is still ready');
    } finally {
      await run.stop();
      await server.close();
    }
  });

  test('audit shows missing, modified, stale and conflict at 1 each; a repair agent clears them and counts the repairs', async () => {
    const server = await startApi();
    try {
      const interfaces = [iface('eth0', ['192.0.2.10/24']), iface('eth1', ['198.51.100.10/24']), iface('eth2', ['203.0.113.2/24'])];
      // Seed the cluster as the agent itself would have written it, then break it:
      const config = agentConfig();
      const uid = server.store.get('nodes', 'n1')?.metadata.uid;
      assert.ok(uid);
      const desired = desiredStateBuilder(config)({ name: 'n1', labels: { role: 'master' }, uid }, [...interfaces, iface('eth9', ['192.0.2.99/24'])]);
      const byName = (name: string) => structuredClone(desired.hostEndpoints.find((h) => h.metadata.name === name)!);
      // modified: our HEP for eth1 with the wrong expectedIPs.
      const eth1 = byName('n1-eth1');
      eth1.spec.expectedIPs = ['203.0.113.99'];
      server.store.put(eth1 as never);
      // stale: our HEP for eth9, which the node no longer has (grace 0).
      server.store.put(byName('n1-eth9') as never);
      // conflict: a hand-written HEP for node n1, eth0.
      const byHand: HostEndpoint = {
        apiVersion: 'projectcalico.org/v3',
        kind: 'HostEndpoint',
        metadata: { name: 'eth0-by-hand', labels: { team: 'net' } },
        spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['192.0.2.10'] },
      };
      server.store.put(byHand as never);
      // missing: eth2 has no HEP at all.

      const audit = await startAgent(server, { config: { mode: 'audit' }, interfaces });
      try {
        const expected = { missing: 1, modified: 1, stale: 1, conflict: 1, 'policy-held': 0, breaker: 0 };
        await waitFor('all four drift kinds', async () => JSON.stringify(await audit.drift()) === JSON.stringify(expected));
        assert.deepEqual(await audit.drift(D('drift_detected_total')), expected);
        for (let i = 0; i < 3; i++) await audit.reconcileOnce();
        assert.deepEqual(await audit.drift(), expected, 'audit leaves the drift in place');
        assert.deepEqual(await audit.drift(D('drift_detected_total')), expected, 'each counted once, not per reconcile');
        assert.deepEqual(await audit.drift(D('drift_repaired_total')), zeroDrift);
        const fams = await audit.scrape();
        assert.equal(seriesValue(fams, D('host_endpoints_desired')), 3);
        assert.equal(seriesValue(fams, D('host_endpoints_actual')), 2);
        assert.deepEqual(lintExposition(fams, { forbiddenLabelValues: ['eth0', 'eth1', 'eth2', 'eth9', 'n1-eth'] }), []);
        assert.deepEqual(server.store.get(V3, 'n1-eth1')?.spec, eth1.spec, 'audit wrote nothing');
      } finally {
        await audit.stop();
      }

      // Same cluster, now a repair agent that may adopt the hand-written HEP.
      const repair = await startAgent(server, { config: { adopt: true }, interfaces });
      try {
        await waitFor('every repair counted', async () => {
          const r = await repair.drift(D('drift_repaired_total'));
          return r.missing === 1 && r.modified === 1 && r.stale === 1 && r.conflict === 1;
        });
        await waitFor('drift gauges back to 0', async () => JSON.stringify(await repair.drift()) === JSON.stringify(zeroDrift));
        await waitFor('drift_oldest_seconds back to 0', async () => (await repair.value(D('drift_oldest_seconds'))) === 0);
        // The cluster really is repaired.
        assert.ok(server.store.get(V3, 'n1-eth2'), 'missing: created');
        assert.deepEqual((server.store.get(V3, 'n1-eth1') as HostEndpoint | undefined)?.spec.expectedIPs, ['198.51.100.10'], 'modified: updated');
        assert.equal(server.store.get(V3, 'n1-eth9'), undefined, 'stale: deleted');
        assert.equal(server.store.get(V3, 'eth0-by-hand')?.metadata.labels?.[MANAGED_BY_LABEL], 'calico-hep-agent', 'conflict: adopted');
        assert.equal(server.store.get(V3, 'n1-eth0'), undefined);

        // Quiet from now on: more reconciles neither detect nor repair anything again.
        for (let i = 0; i < 3; i++) await repair.reconcileOnce();
        const once = { missing: 1, modified: 1, stale: 1, conflict: 1, 'policy-held': 0, breaker: 0 };
        assert.deepEqual(await repair.drift(), zeroDrift);
        assert.deepEqual(await repair.drift(D('drift_detected_total')), once);
        assert.deepEqual(await repair.drift(D('drift_repaired_total')), once);
        const fams = await repair.scrape();
        assert.equal(seriesValue(fams, D('host_endpoints_desired')), 3);
        assert.equal(seriesValue(fams, D('host_endpoints_actual')), 3);
        assert.deepEqual(lintExposition(fams, { forbiddenLabelValues: ['eth0', 'eth1', 'eth2', 'eth9', 'n1-eth'] }), []);
      } finally {
        await repair.stop();
      }
    } finally {
      await server.close();
    }
  });
  test('policy-held and breaker appear and clear: a create held by the guard, deletes held by the circuit breaker', async () => {
    const denyAll = {
      apiVersion: 'projectcalico.org/v3',
      kind: 'GlobalNetworkPolicy',
      metadata: { name: 'default-deny' },
      spec: { selector: 'projectcalico.org/namespace not in {"kube-system"}', types: ['Ingress', 'Egress'] },
    };
    const server = await startApi({ seed: [denyAll] });
    try {
      const uid = server.store.get('nodes', 'n1')?.metadata.uid;
      assert.ok(uid);
      const eth0 = iface('eth0', ['192.0.2.10/24']);
      const eth5 = iface('eth5', ['192.0.2.55/24']);
      const eth6 = iface('eth6', ['192.0.2.66/24']);
      // Our HEPs for eth5 and eth6, which the node no longer has (grace 0): deleting both would leave
      // 2 of 2 managed interfaces without a HEP, more than safety.maxDeleteFraction 0.5.
      for (const h of desiredStateBuilder(agentConfig())({ name: 'n1', labels: { role: 'master' }, uid }, [eth5, eth6]).hostEndpoints)
        server.store.put(h as never);
      const interfaces = [eth0];
      const run = await startAgent(server, { interfaces });
      try {
        // eth0's create: the pod default-deny would drop what is allowed today.
        const expected = { ...zeroDrift, 'policy-held': 1, breaker: 2 };
        await waitFor('policy-held 1, breaker 2', async () => JSON.stringify(await run.drift()) === JSON.stringify(expected));
        assert.deepEqual(await run.drift(D('drift_detected_total')), expected);
        assert.equal(server.store.list(V3).length, 2, 'nothing created, nothing deleted');
        // eth5 comes back (only eth6 is gone: 1 of 2, within the fraction) and the policy is deleted.
        interfaces.push(eth5);
        server.store.delete('globalnetworkpolicies.projectcalico.org', 'default-deny');
        await run.reconcileOnce();
        await waitFor('drift gauges back to 0', async () => JSON.stringify(await run.drift()) === JSON.stringify(zeroDrift));
        assert.ok(server.store.get(V3, 'n1-eth0'), 'the held create went out once the policy was gone');
        assert.ok(server.store.get(V3, 'n1-eth5'));
        assert.equal(server.store.get(V3, 'n1-eth6'), undefined, 'the delete the breaker held went out');
        const repaired = await run.drift(D('drift_repaired_total'));
        assert.equal(repaired.missing, 1);
        assert.equal(repaired.stale, 1);
        assert.equal(repaired['policy-held'], 0, 'a hold is not a repair');
        assert.equal(repaired.breaker, 0);
      } finally {
        await run.stop();
      }
    } finally {
      await server.close();
    }
  });
});
