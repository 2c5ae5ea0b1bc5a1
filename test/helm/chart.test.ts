// The chart's files stay in step with the rest of the tree without rendering anything: appVersion and
// package.json, the `config` value and the agent's schema, values.schema.json, the README's values
// table, and the copies in files/. test/helm/render.test.ts renders the chart with a real helm.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import type { z } from 'zod/mini';
import { validateConfig } from '../../src/config/load.ts';
import { configSchema } from '../../src/config/schema.ts';
import { CHART, ROOT, configJsonSchema, staleDerived, valuesDocs } from '../../scripts/helm-tools.ts';

/** Parsed YAML or JSON: a mapping whose values are read by the test, never trusted to have a shape. */
type Obj = Record<string, unknown>;

/** values.yaml as far as these tests read it. */
interface Values extends Obj {
  image: { tag: string };
  config: unknown;
}

/** Sets the value at a dotted key path (every step before the last must be a mapping). */
function set(v: Obj, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = v;
  for (const k of keys.slice(0, -1)) node = node[k] as Obj;
  node[keys[keys.length - 1]!] = value;
}

const read = (path: string) => readFile(join(CHART, path), 'utf8');

/** Every key path of the agent's config schema, down to leaves (records and arrays are leaves). */
function schemaKeyPaths(schema: z.ZodMiniType, prefix = ''): string[] {
  type Node = { _zod: { def: Obj } };
  let node = schema as unknown as Node;
  while (['default', 'prefault', 'optional', 'nullable'].includes(node._zod.def['type'] as string)) node = node._zod.def['innerType'] as Node;
  if (node._zod.def['type'] !== 'object') return prefix === '' ? [] : [prefix];
  return Object.entries(node._zod.def['shape'] as Record<string, z.ZodMiniType>).flatMap(([k, v]) => schemaKeyPaths(v, prefix === '' ? k : `${prefix}.${k}`));
}

function valueKeyPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => valueKeyPaths(v, prefix === '' ? k : `${prefix}.${k}`));
}

describe('chart files', () => {
  let values: Values;
  let valuesText: string;
  before(async () => {
    valuesText = await read('values.yaml');
    values = parse(valuesText) as Values;
  });

  test('Chart.yaml: apiVersion v2, appVersion = package.json version, the image tag it implies', async () => {
    const chart = parse(await read('Chart.yaml')) as { apiVersion: string; name: string; appVersion: string; version: string };
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal(chart.apiVersion, 'v2');
    assert.equal(chart.name, 'calico-hep-agent');
    assert.equal(chart.appVersion, pkg.version, 'bump appVersion in Chart.yaml with package.json');
    assert.match(chart.version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/, 'the chart version is SemVer');
    assert.equal(values.image.tag, '', 'the tag defaults to appVersion');
  });

  test('values.yaml config: the agent accepts it, and it is the shipped deploy/config.yaml', async () => {
    const fromChart = validateConfig(values['config'], 'values.yaml config');
    const shipped = validateConfig(parse(await readFile(join(ROOT, 'deploy/config.yaml'), 'utf8')), 'deploy/config.yaml');
    assert.deepEqual(fromChart, shipped);
  });

  test("values.yaml config covers every key of the agent's schema, and nothing else", () => {
    // nodeName is per pod (NODE_NAME from the downward API); a ConfigMap shared by all nodes must not set it.
    // requirePolicy is deprecated (policyGuard.mode replaces it) and not shipped.
    const schemaKeys = schemaKeyPaths(configSchema)
      .filter((k) => k !== 'nodeName' && k !== 'requirePolicy')
      .sort();
    assert.ok(schemaKeys.length >= 20, `walked the schema: ${schemaKeys.join(', ')}`);
    assert.deepEqual(valueKeyPaths(values['config']).sort(), schemaKeys);
  });

  test('every value is documented with a `# --` comment, and README.md lists them all', async () => {
    const { docs, undocumented } = valuesDocs(valuesText);
    assert.deepEqual(undocumented, [], 'keys without a `# -- ` description in values.yaml');
    const documented = new Set(docs.map((d) => d.key));
    for (const top of Object.keys(values)) {
      assert.ok(
        [...documented].some((k) => k === top || k.startsWith(`${top}.`)),
        `${top} is documented`,
      );
    }
    for (const key of schemaKeyPaths(configSchema).filter((k) => k !== 'nodeName' && k !== 'requirePolicy'))
      assert.ok(documented.has(`config.${key}`), `config.${key}`);
    const readme = await read('README.md');
    for (const d of docs) assert.ok(readme.includes(`| \`${d.key}\` |`), `README.md lists ${d.key}`);
  });

  test('files/, values.schema.json config and the README table are what `node scripts/helm-tools.ts sync` writes', async () => {
    assert.deepEqual(await staleDerived(), [], 'out of date: run node scripts/helm-tools.ts sync');
  });

  describe('values.schema.json (with ajv, as helm applies it)', () => {
    let validate: ValidateFunction;
    before(async () => {
      const schema = JSON.parse(await read('values.schema.json')) as Obj;
      validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    });
    const withValues = (patch: (v: Obj) => void): Obj => {
      const v = structuredClone(values);
      patch(v);
      return v;
    };

    test('accepts the defaults', () => {
      assert.equal(validate(values), true, JSON.stringify(validate.errors));
    });

    test('config there is the agent schema converted (minus nodeName, port >= 1)', async () => {
      const schema = JSON.parse(await read('values.schema.json')) as { properties: { config: { additionalProperties?: unknown } } };
      assert.deepEqual(schema.properties.config, JSON.parse(JSON.stringify(configJsonSchema())));
      assert.equal(schema.properties.config.additionalProperties, false);
    });

    const bad: [string, (v: Obj) => void][] = [
      ['unknown top-level key', (v) => set(v, 'replicas', 3)],
      ['unknown config key', (v) => set(v, 'config.interval', 5)],
      ['config.nodeName', (v) => set(v, 'config.nodeName', 'n1')],
      ['mode enum', (v) => set(v, 'config.mode', 'fix')],
      ['apiGroup enum', (v) => set(v, 'config.apiGroup', 'projectcalico.org/v1')],
      ['logLevel enum', (v) => set(v, 'config.logLevel', 'verbose')],
      ['port too high', (v) => set(v, 'config.server.port', 70000)],
      ['port 0', (v) => set(v, 'config.server.port', 0)],
      ['port as string', (v) => set(v, 'config.server.port', '9808')],
      ['interval below minimum', (v) => set(v, 'config.intervals.resyncSeconds', 5)],
      ['interval not an integer', (v) => set(v, 'config.intervals.rescanSeconds', 1.5)],
      ['profiles not a list', (v) => set(v, 'config.hostEndpoint.profiles', 'projectcalico-default-allow')],
      ['interface rule without match', (v) => set(v, 'config.interfaceRules', [{ name: 'x', labels: {} }])],
      ['boolean as string', (v) => set(v, 'config.dryRun', 'yes')],
      ['pullPolicy enum', (v) => set(v, 'image.pullPolicy', 'Sometimes')],
      ['digest format', (v) => set(v, 'image.digest', 'latest')],
      ['Deny with Warn', (v) => set(v, 'admissionPolicy.validationActions', ['Deny', 'Warn'])],
      ['unknown validation action', (v) => set(v, 'admissionPolicy.validationActions', ['Block'])],
      ['scrape interval', (v) => set(v, 'monitoring.podMonitor.interval', 'soon')],
      ['monitoring typo', (v) => set(v, 'monitoring.podmonitor', { enabled: true })],
      ['label value not a string', (v) => set(v, 'commonLabels', { team: 1 })],
    ];
    for (const [name, patch] of bad) {
      test(`rejects: ${name}`, () => {
        assert.equal(validate(withValues(patch)), false);
      });
    }
  });
});
