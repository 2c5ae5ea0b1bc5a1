// The monitoring bundle stays true to the agent: rules and dashboard name metrics the agent exports,
// every alert has a runbook that exists, and kustomize renders it.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { parse, parseAllDocuments } from 'yaml';
import { AgentMetrics } from '../../src/observability/metrics.ts';
import { run } from '../helpers/netns.ts';
import { prereq } from '../helpers/prereq.ts';

const dir = new URL('../../deploy/monitoring/', import.meta.url);
const read = (name: string) => readFile(new URL(name, dir), 'utf8');

async function exportedNames(): Promise<Set<string>> {
  const text = await new AgentMetrics(new Registry()).registry.metrics();
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) /.exec(line);
    if (m?.[1] !== undefined) names.add(m[1]);
  }
  return names;
}

/** `calico_hep_agent_x_bucket` is part of the family `calico_hep_agent_x`. */
function family(name: string): string {
  return name.replace(/_(bucket|sum|count)$/, '');
}

function referencedMetrics(expr: string): string[] {
  return [...expr.matchAll(/\bcalico_hep_agent_[a-z_]+/g)].map((m) => m[0]);
}

interface Rule {
  alert: string;
  expr: string;
  annotations: Record<string, string>;
}

test('every alert has summary, description and a runbook that exists in docs/operations.md', async () => {
  const rule = parse(await read('prometheusrule.yaml')) as { spec: { groups: { rules: Rule[] }[] } };
  const ops = await readFile(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const anchors = new Set(
    [...ops.matchAll(/^#+ (.+)$/gm)].map((m) =>
      m[1]!
        .toLowerCase()
        .replace(/[^a-z0-9 -]/g, '')
        .replace(/ /g, '-'),
    ),
  );
  const rules = rule.spec.groups.flatMap((g) => g.rules);
  assert.ok(rules.length >= 5);
  for (const r of rules) {
    assert.ok(r.annotations['summary'] && r.annotations['description'], r.alert);
    const anchor = r.annotations['runbook_url']?.split('#')[1];
    assert.ok(anchor !== undefined && anchors.has(anchor), `${r.alert}: runbook anchor #${anchor} missing`);
  }
});

test('rules and dashboard only use metrics the agent exports', async () => {
  const names = await exportedNames();
  const rule = parse(await read('prometheusrule.yaml')) as { spec: { groups: { rules: Rule[] }[] } };
  const dashboard = JSON.parse(await read('dashboard.json')) as { panels: { title: string; targets: { expr: string }[] }[] };
  const exprs = [
    ...rule.spec.groups.flatMap((g) => g.rules.map((r) => [r.alert, r.expr] as const)),
    ...dashboard.panels.flatMap((p) => p.targets.map((t) => [p.title, t.expr] as const)),
  ];
  for (const [where, expr] of exprs) {
    for (const metric of referencedMetrics(expr)) assert.ok(names.has(family(metric)), `${where}: ${metric} is not exported`);
  }
  assert.ok(dashboard.panels.length >= 8);
});

const kubectlSkip = prereq(
  (await run('kubectl', ['version', '--client']).then(
    (r) => r.code === 0,
    () => false,
  ))
    ? null
    : 'kubectl not found',
);

test('kubectl kustomize renders the PodMonitor, PrometheusRule and dashboard ConfigMap', { skip: kubectlSkip }, async () => {
  const r = await run('kubectl', ['kustomize', new URL('.', dir).pathname]);
  assert.equal(r.code, 0, r.stderr);
  const kinds = parseAllDocuments(r.stdout)
    .map((d) => (d.toJSON() as { kind: string }).kind)
    .sort();
  assert.deepEqual(kinds, ['ConfigMap', 'PodMonitor', 'PrometheusRule']);
});
