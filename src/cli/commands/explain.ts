// `explain`: for each HostEndpoint, the GlobalNetworkPolicies that select it in Calico's evaluation
// order, their rules in short, what happens to unmatched traffic, and the failsafe ports; then lint.
// Exit 1 when lint finds errors, 0 otherwise (warnings included), 2 for bad flags or input files.
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { ApiClient } from '../../adapters/kube/api-client.ts';
import { chooseCalicoApi, servedGroupVersions } from '../../adapters/kube/calico-api.ts';
import { HostEndpointApi } from '../../adapters/kube/hostendpoints.ts';
import { apiClientFor, findKubeConfig, requireKubeConfig } from '../../adapters/kube/kubeconfig.ts';
import { readNodeFacts } from '../../adapters/kube/nodes.ts';
import { NO_OBSERVER } from '../../adapters/kube/observer.ts';
import { CalicoPolicyApi } from '../../adapters/kube/policies.ts';
import { discoverInterfaces } from '../../adapters/netlink/discover.ts';
import type { Config } from '../../config/schema.ts';
import { desiredStateBuilder, type NodeFacts } from '../../core/desired.ts';
import { managedSelector } from '../../core/labels.ts';
import type { HostEndpoint, NetInterface } from '../../core/model.ts';
import { MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../core/ownership.ts';
import {
  collectObjects,
  explainHostEndpoint,
  failsafeFrom,
  formatPort,
  lint,
  parsePolicyText,
  PolicyFileError,
  ruleSummary,
  selectsLabels,
  sortPolicies,
  tierTable,
  type AppliedPolicy,
  type DirectionExplanation,
  type Failsafe,
  type Finding,
  type HostEndpointExplanation,
  type Policy,
  type PolicyDocuments,
  type Tier,
} from '../../core/policy/index.ts';
import { commandConfig, oneOf, parseFlags, parseLabelList } from '../flags.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo, type Command } from '../io.ts';

const HELP = `usage: calico-hep-agent explain [flags]

Shows, for each HostEndpoint, the GlobalNetworkPolicies that select it in Calico's evaluation order
(tier, then order, then name), their rules in short, what happens to traffic no rule matches, and
the failsafe ports that stay open; then lints the policies (lockouts, fail-opens, and what Calico
rejects or ignores). Exit code 1 when there are errors, 0 with warnings only.

  --policies FILE        GlobalNetworkPolicies from a YAML/JSON file (multi-document, a List, or a
                         sequence); repeatable. Tier and FelixConfiguration objects in it are used too.
  --from-cluster         read the policies, Tiers and FelixConfiguration (failsafe ports) from the cluster
  --node NAME            the node (default: $NODE_NAME, the config's nodeName, the hostname); with
                         --from-cluster, explain its managed HostEndpoints in the cluster
  --all-nodes            with --from-cluster: every managed HostEndpoint in the cluster
  --config FILE          agent config, to compute this node's desired HostEndpoints like 'plan'
  --node-labels k=v,...  the Node's labels for that computation (default: read from the cluster)
  --kubeconfig FILE      kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --output text|json     output format (default text)

Without --from-cluster --node/--all-nodes, the HostEndpoints are the ones this machine would get.
`;

export interface ExplainDeps {
  /** Interface discovery; tests inject a list. */
  readonly discover?: () => Promise<NetInterface[]>;
}

export interface ExplainReport {
  readonly apiVersion: 'calico-hep-agent.io/v1alpha1';
  readonly kind: 'PolicyExplanation';
  readonly hostEndpointSource: 'desired' | 'cluster';
  readonly policySources: readonly string[];
  readonly failsafe: Failsafe;
  readonly tiers: readonly Tier[];
  readonly policies: readonly {
    readonly name: string;
    readonly source: string;
    readonly tier: string;
    readonly order: number | null;
    readonly selector: string;
    readonly preDNAT: boolean;
    readonly applyOnForward: boolean;
    readonly doNotTrack: boolean;
    readonly types: readonly string[];
    readonly ingress: ReturnType<typeof ruleSummary>[];
    readonly egress: ReturnType<typeof ruleSummary>[];
    readonly selects: readonly string[];
  }[];
  readonly hostEndpoints: readonly HostEndpointExplanation[];
  readonly findings: readonly Finding[];
  readonly notes: readonly string[];
  readonly summary: { readonly hostEndpoints: number; readonly policies: number; readonly errors: number; readonly warnings: number };
}

/** The whole analysis, pure: what `explain` prints. */
export function buildReport(input: {
  hostEndpoints: readonly HostEndpoint[];
  hostEndpointSource: 'desired' | 'cluster';
  docs: PolicyDocuments;
  policySources: readonly string[];
  failsafe: Failsafe;
}): ExplainReport {
  const { docs } = input;
  const table = tierTable(docs.tiers, docs.policies);
  const sorted = sortPolicies(docs.policies, table);
  const heps = [...input.hostEndpoints].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const explanations = heps.map((h) => explainHostEndpoint(h, sorted, table));
  const findings = lint({ policies: sorted, hostEndpoints: heps, explanations, failsafe: input.failsafe });
  const notes = [...docs.notes];
  const usedTiers = [...new Set(sorted.map((p) => p.tier))].map((t) => table.get(t)!);
  for (const t of usedTiers) if (!t.known) notes.push(`tier ${t.name}: no Tier object seen; its order is unknown, so it is sorted after every known tier (as Felix does)`);
  return {
    apiVersion: 'calico-hep-agent.io/v1alpha1',
    kind: 'PolicyExplanation',
    hostEndpointSource: input.hostEndpointSource,
    policySources: input.policySources,
    failsafe: input.failsafe,
    tiers: usedTiers,
    policies: sorted.map((p) => ({
      name: p.name,
      source: p.source,
      tier: p.tier,
      order: p.order ?? null,
      selector: p.selector?.toString() ?? p.selectorText,
      preDNAT: p.preDNAT,
      applyOnForward: p.applyOnForward,
      doNotTrack: p.doNotTrack,
      types: p.types,
      ingress: p.ingress.map(ruleSummary),
      egress: p.egress.map(ruleSummary),
      selects: heps.filter((h) => selectsLabels(p, h.metadata.labels ?? {})).map((h) => h.metadata.name),
    })),
    hostEndpoints: explanations,
    findings,
    notes,
    summary: {
      hostEndpoints: heps.length,
      policies: sorted.length,
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
    },
  };
}

function flags(p: AppliedPolicy): string {
  const out: string[] = [];
  if (p.order !== null) out.push(`order ${p.order}`);
  else out.push('no order');
  if (p.applyOnForward) out.push('applyOnForward');
  return out.join(', ');
}

function renderDirection(name: string, d: DirectionExplanation): string[] {
  const lines = [`  ${name}:`];
  if (d.policies.length === 0) lines.push('    (no policy)');
  d.policies.forEach((p, i) => {
    lines.push(`    ${i + 1}. [${p.stage}] ${p.tier}/${p.name} (${flags(p)})`);
    if (p.rules.length === 0) lines.push('         (no rules: nothing matches)');
    for (const r of p.rules) lines.push(`         ${r.text}`);
  });
  for (const ig of d.ignored) lines.push(`    ignored: ${ig.name}: ${ig.reason}`);
  lines.push(`    unmatched: ${d.unmatched.action.toUpperCase()} (${d.unmatched.reason})`);
  lines.push(`    forwarded: ${d.forward.unmatched}${d.forward.policies.length > 0 ? ` after ${d.forward.policies.join(', ')}` : ''} (${d.forward.reason})`);
  return lines;
}

export function renderText(r: ExplainReport): string {
  const lines: string[] = [];
  lines.push(`Failsafe ports (${r.failsafe.source}), open whatever the policies say:`);
  lines.push(`  inbound:  ${r.failsafe.inbound.map(formatPort).join(', ') || '(none: disabled)'}`);
  lines.push(`  outbound: ${r.failsafe.outbound.map(formatPort).join(', ') || '(none: disabled)'}`);
  if (r.tiers.length > 0) {
    lines.push(`Tiers in order: ${r.tiers.map((t) => `${t.name} (order ${t.order ?? 'none'}, end of tier: ${t.defaultAction})`).join(', ')}`);
  }
  lines.push('');
  if (r.hostEndpoints.length === 0) lines.push('No HostEndpoints.', '');
  for (const x of r.hostEndpoints) {
    lines.push(
      `HostEndpoint ${x.name}  node ${x.node}  interface ${x.interfaceName}  IPs ${x.expectedIPs.join(',') || '(none)'}  profiles ${x.profiles.join(',') || '(none)'}`,
    );
    lines.push(...renderDirection('ingress', x.ingress), ...renderDirection('egress', x.egress), '');
  }
  const unused = r.policies.filter((p) => p.selects.length === 0).map((p) => p.name);
  if (unused.length > 0) lines.push(`Policies selecting none of these HostEndpoints: ${unused.join(', ')}`, '');
  if (r.findings.length > 0) {
    lines.push('Findings:');
    for (const f of r.findings) lines.push(`  ${f.severity.padEnd(7)} ${f.code}: ${f.message}`);
    lines.push('');
  }
  lines.push(`${r.summary.errors} error(s), ${r.summary.warnings} warning(s); ${r.summary.policies} policies, ${r.summary.hostEndpoints} HostEndpoint(s)`);
  return `${lines.join('\n')}\n`;
}

async function readPolicyFiles(files: readonly string[], docs: PolicyDocuments): Promise<void> {
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--policies: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    try {
      parsePolicyText(text, file, docs);
    } catch (err) {
      if (err instanceof PolicyFileError) throw new UsageError(`--policies: ${err.message}`);
      throw err;
    }
  }
}

/** Files win over the cluster for a policy of the same name. */
function mergeDocs(files: PolicyDocuments, cluster: PolicyDocuments): PolicyDocuments {
  const fileNames = new Set(files.policies.map((p) => p.name));
  const notes = [...cluster.notes, ...files.notes];
  const policies: Policy[] = [...files.policies];
  for (const p of cluster.policies) {
    if (fileNames.has(p.name)) notes.push(`policy ${p.name}: the file's version replaces the cluster's`);
    else policies.push(p);
  }
  const tierNames = new Set(files.tiers.map((t) => t.name));
  return {
    policies,
    tiers: [...files.tiers, ...cluster.tiers.filter((t) => !tierNames.has(t.name))],
    felixConfigurations: [...cluster.felixConfigurations, ...files.felixConfigurations],
    notes,
  };
}

async function listManaged(heps: HostEndpointApi, labelSelector: string): Promise<HostEndpoint[]> {
  const items: HostEndpoint[] = [];
  let continueToken: string | undefined;
  do {
    const page = await heps.list({ labelSelector, limit: 500, ...(continueToken !== undefined ? { continueToken } : {}) });
    items.push(...page.items);
    continueToken = page.continue;
  } while (continueToken !== undefined);
  return items;
}

async function nodeFacts(name: string, labelFlag: string | undefined, kc: ApiClient | undefined, io: CliIo): Promise<NodeFacts> {
  if (labelFlag !== undefined) return { name, labels: parseLabelList(labelFlag, '--node-labels') };
  if (kc === undefined) {
    io.stderr.write('note: no --node-labels and no kubeconfig: computing HostEndpoints without Node labels\n');
    return { name, labels: {} };
  }
  const facts = await readNodeFacts(kc, name);
  if (facts === undefined) {
    io.stderr.write(`warning: Node "${name}" not found in the cluster; computing HostEndpoints without Node labels\n`);
    return { name, labels: {} };
  }
  return { name, labels: facts.labels };
}

export function makeExplain(deps: ExplainDeps = {}): Command {
  return async (argv: readonly string[], io: CliIo): Promise<number> => {
    const { values } = parseFlags(argv, {
      config: { type: 'string' },
      policies: { type: 'string', multiple: true },
      'from-cluster': { type: 'boolean' },
      kubeconfig: { type: 'string' },
      node: { type: 'string' },
      'all-nodes': { type: 'boolean' },
      'node-labels': { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    const output = oneOf(values.output, ['text', 'json'] as const, '--output', 'text');
    const files = values.policies ?? [];
    const fromCluster = values['from-cluster'] === true;
    const allNodes = values['all-nodes'] === true;
    if (files.length === 0 && !fromCluster) throw new UsageError('give --policies FILE (repeatable) or --from-cluster');
    if (allNodes && values.node !== undefined) throw new UsageError('--node and --all-nodes cannot be combined');
    if (allNodes && !fromCluster) throw new UsageError('--all-nodes needs --from-cluster (the HostEndpoints of other nodes live in the cluster)');
    if (fromCluster && (values.node !== undefined || allNodes) && (values['node-labels'] !== undefined || values.config !== undefined)) {
      throw new UsageError('--node-labels and --config compute desired HostEndpoints; with --from-cluster --node/--all-nodes the cluster\'s are explained');
    }

    const config: Config = await commandConfig({ file: values.config, env: io.env, overrides: { nodeName: values.node } });
    const nodeName = config.nodeName ?? hostname().toLowerCase();

    const fileDocs: PolicyDocuments = { policies: [], tiers: [], felixConfigurations: [], notes: [] };
    await readPolicyFiles(files, fileDocs);
    let docs = fileDocs;
    const sources = [...files];

    let kc: ApiClient | undefined;
    let clusterHeps: HostEndpoint[] | undefined;
    if (fromCluster) {
      kc = apiClientFor(await requireKubeConfig({ file: values.kubeconfig, env: io.env }), NO_OBSERVER);
      const calico = chooseCalicoApi(await servedGroupVersions(kc), config.apiGroup);
      const api = new CalicoPolicyApi(kc, calico);
      const felixNames = allNodes ? ['default'] : ['default', `node.${nodeName}`];
      const [gnps, tiers, ...felix] = await Promise.all([
        api.listGlobalNetworkPolicies(),
        api.listTiers(),
        ...felixNames.map((n) => api.getFelixConfiguration(n)),
      ]);
      const cluster = collectObjects(gnps.items, 'cluster');
      if (tiers === undefined) cluster.notes.push('the cluster serves no Tier objects: using Calico\'s built-in tier orders (default 1000000, kube-admin 1000, kube-baseline 10000000)');
      else collectObjects(tiers, 'cluster', cluster);
      for (const f of felix) if (f !== undefined) cluster.felixConfigurations.push(f);
      docs = mergeDocs(fileDocs, cluster);
      sources.push(`cluster (${calico.group}/${calico.version})`);
      if (values.node !== undefined || allNodes) {
        const heps = new HostEndpointApi(kc, calico);
        clusterHeps = await listManaged(heps, allNodes ? `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` : managedSelector(nodeName));
      }
    }

    let hostEndpoints: HostEndpoint[];
    if (clusterHeps !== undefined) hostEndpoints = clusterHeps;
    else {
      if (kc === undefined && values['node-labels'] === undefined) {
        const found = await findKubeConfig({ file: values.kubeconfig, env: io.env });
        if (found !== undefined) kc = apiClientFor(found, NO_OBSERVER);
      }
      const [interfaces, node] = await Promise.all([(deps.discover ?? discoverInterfaces)(), nodeFacts(nodeName, values['node-labels'], kc, io)]);
      const state = desiredStateBuilder(config)(node, interfaces);
      for (const w of state.warnings) io.stderr.write(`warning: ${w}\n`);
      hostEndpoints = state.hostEndpoints;
    }

    const failsafe = failsafeFrom(docs.felixConfigurations, allNodes ? undefined : nodeName);
    const report = buildReport({
      hostEndpoints,
      hostEndpointSource: clusterHeps !== undefined ? 'cluster' : 'desired',
      docs,
      policySources: sources,
      failsafe,
    });
    if (output === 'json') io.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    else {
      for (const n of report.notes) io.stderr.write(`note: ${n}\n`);
      io.stdout.write(renderText(report));
    }
    return report.summary.errors > 0 ? EXIT_FAILURE : EXIT_OK;
  };
}

export const explain: Command = makeExplain();
