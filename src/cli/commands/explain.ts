// `explain`: for each HostEndpoint, the GlobalNetworkPolicies that select it in Calico's evaluation
// order, their rules in short, what happens to unmatched traffic, and the failsafe ports; then lint.
// Exit 1 when lint finds errors, 0 otherwise (warnings included), 2 for bad flags or input files.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { hostname } from 'node:os';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiClient } from '../../adapters/kube/api-client.ts';
import { chooseCalicoApi, servedGroupVersions } from '../../adapters/kube/calico-api.ts';
import { HostEndpointApi } from '../../adapters/kube/hostendpoints.ts';
import { apiClientFor, findKubeConfig, requireKubeConfig } from '../../adapters/kube/kubeconfig.ts';
import { readNodeFacts } from '../../adapters/kube/nodes.ts';
import { NO_OBSERVER } from '../../adapters/kube/observer.ts';
import { CalicoPolicyApi } from '../../adapters/kube/policies.ts';
import { discoverInterfaces } from '../../adapters/netlink/discover.ts';
import type { Config } from '../../config/schema.ts';
import { desiredStateBuilder } from '../../core/desired.ts';
import { managedSelector } from '../../core/labels.ts';
import type { HostEndpoint, NetInterface } from '../../core/model.ts';
import { isManaged, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../core/ownership.ts';
import { governInterfaces, interfacesFromHostEndpoints, type HostInterface, type NodeGovernance } from '../../core/policy/governance.ts';
import { stagedEffects, type StagedEffect } from '../../core/policy/staged.ts';
import { packetVerdict, protocolNumber, type Packet, type PacketVerdict } from '../../core/policy/packet.ts';
import { canonicalIp } from '../../core/ip.ts';
import {
  describeCause,
  endpointPipeline,
  hostEndpointPipeline,
  policyRejections,
  acceptedPolicies,
  buildPolicyModel,
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
import { clusterNodeSource, nodeFactsForCli } from '../node-labels.ts';
import { EXIT_FAILURE, EXIT_OK, UsageError, type CliIo, type Command } from '../io.ts';
import { errorMessage } from '../../core/error-message.ts';

const HELP = `usage: calico-hep-agent explain [flags]

Shows, for each HostEndpoint, the GlobalNetworkPolicies that select it in Calico's evaluation order
(tier, then order, then name), their rules in short, what happens to traffic no rule matches, and
the failsafe ports that stay open; then lints the policies (lockouts, fail-opens, and what Calico
rejects or ignores). Exit code 1 when there are errors, 0 with warnings only.

  --policies FILE|DIR    GlobalNetworkPolicies from a YAML/JSON file (multi-document, a List, or a
                         sequence), or every such file in a directory; repeatable. Tier and
                         FelixConfiguration objects in them are used too.
  --from-cluster         read the policies, Tiers and FelixConfiguration (failsafe ports) from the cluster
  --node NAME            the node (default: $NODE_NAME, the config's nodeName, the hostname); with
                         --from-cluster, explain ALL its HostEndpoints in the cluster: the agent's,
                         Calico's auto HEPs and hand-written ones, and which one Felix uses on
                         each interface (interfaces as the agent's HEPs describe them)
  --all-nodes            with --from-cluster: every HostEndpoint in the cluster
  --config FILE          agent config, to compute this node's desired HostEndpoints like 'plan'
  --node-labels k=v,...  the Node's labels for that computation (default: read from the cluster)
  --kubeconfig FILE      kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --output text|json     output format (default text)

One packet instead of the whole report ("will SSH from the bastion still work?"):
  --packet               the verdict for one packet and the rule, end of tier, profile or failsafe port
                         that decides it; exit 0 allow, 1 drop, 3 depends (on what cannot be known
                         offline: the peer's identity or port, HTTP) or left undecided by Calico
  --interface NAME       the node's interface (the HostEndpoint Felix uses there decides)
  --direction DIR        ingress (default: to the node) or egress (from the node)
  --protocol P           tcp (default), udp, sctp, icmp, icmpv6, udplite or a number
  --port N               destination port: the node's on ingress, the peer's on egress
  --peer ADDR            the other side's address; a HostEndpoint's expectedIPs identify it, any
                         other address is outside Calico (selectors do not match it)
  --peer-labels k=v,...  the peer's labels, when it is a Calico endpoint not among the HEPs read
  --local ADDR           the node's address the packet is to/from (for rules on the node's nets)
  --forwarded            the packet is routed through the interface, not to or from the node

Without --from-cluster --node/--all-nodes, the HostEndpoints are the ones this machine would get
(with --from-cluster, next to the node's hand-written and Calico auto HEPs already in the cluster),
and the interfaces are this machine's.
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
    /** Calico's API rejects it (see findings): not enforced, not evaluated. */
    readonly rejected: boolean;
    /** `GlobalNetworkPolicy` or `StagedGlobalNetworkPolicy` (never enforced; see `staged`). */
    readonly kind: string;
    readonly ingress: ReturnType<typeof ruleSummary>[];
    readonly egress: ReturnType<typeof ruleSummary>[];
    readonly selects: readonly string[];
  }[];
  readonly hostEndpoints: readonly HostEndpointExplanation[];
  /** Per node: which HostEndpoint Felix uses for each interface, and why (governance.ts). */
  readonly governance: readonly NodeGovernance[];
  /** StagedGlobalNetworkPolicies: what enforcing each would change (staged.ts). */
  readonly staged: readonly StagedEffect[];
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
  /** The interfaces of each node examined; a node without an entry gets them from its HEPs. */
  interfaces?: ReadonlyMap<string, readonly HostInterface[]>;
  /** The agent's port (config server.port), checked as a lockout port. */
  agentPort?: number;
  /** Interfaces with the default route, per node (desired mode: from discovery). */
  defaultRouteInterfaces?: ReadonlyMap<string, ReadonlySet<string>>;
}): ExplainReport {
  const { docs } = input;
  const table = tierTable(docs.tiers, docs.policies);
  const sorted = sortPolicies(docs.policies, table);
  // What Calico's API rejects is never stored, so never enforced: left out of the evaluation; staged
  // policies never enforce either (buildPolicyModel leaves them out).
  const model = buildPolicyModel(acceptedPolicies(docs.policies), docs.tiers);
  const enforced = model.policies;
  const enforcedSet = new Set(enforced);
  const heps = [...input.hostEndpoints].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const explanations = heps.map((h) => explainHostEndpoint(h, model));
  const nodes = [...new Set(heps.map((h) => h.spec.node))].sort();
  const governance = nodes.map((n) => governInterfaces(n, input.interfaces?.get(n) ?? interfacesFromHostEndpoints(n, heps), heps, enforced));
  const clusterFacing = clusterFacingHostEndpoints(governance, input.defaultRouteInterfaces);
  const staged = stagedEffects({
    policies: docs.policies,
    tiers: docs.tiers,
    hostEndpoints: heps,
    failsafe: input.failsafe,
    clusterFacing,
    ...(input.agentPort !== undefined ? { agentPort: input.agentPort } : {}),
  });
  const findings = lint({
    policies: sorted,
    hostEndpoints: heps,
    explanations,
    failsafe: input.failsafe,
    model,
    clusterFacing,
    ...(input.agentPort !== undefined ? { agentPort: input.agentPort } : {}),
  });
  const notes = [...docs.notes];
  const usedTiers = [...new Set(sorted.map((p) => p.tier))].map((t) => table.get(t)!);
  for (const t of usedTiers)
    if (!t.known) notes.push(`tier ${t.name}: no Tier object seen; its order is unknown, so it is sorted after every known tier (as Felix does)`);
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
      rejected: policyRejections(p).length > 0,
      kind: p.kind,
      ingress: p.ingress.map(ruleSummary),
      egress: p.egress.map(ruleSummary),
      selects: enforcedSet.has(p) ? heps.filter((h) => selectsLabels(p, h.metadata.labels ?? {})).map((h) => h.metadata.name) : [],
    })),
    hostEndpoints: explanations,
    governance,
    staged,
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

/**
 * The HEPs in use on an interface that carries the cluster's own traffic: the default-route interface
 * (when known), a node's only interface, and an all-interfaces (*) HEP in use.
 */
function clusterFacingHostEndpoints(governance: readonly NodeGovernance[], defaultRoutes: ReadonlyMap<string, ReadonlySet<string>> | undefined): Set<string> {
  const out = new Set<string>();
  for (const g of governance) {
    const used = g.interfaces.filter((i) => i.governing !== undefined);
    const routes = defaultRoutes?.get(g.node);
    for (const i of used) {
      const only = g.interfaces.length === 1;
      if (only || routes?.has(i.interfaceName) === true || i.governing!.via === 'all-interfaces default') out.add(i.governing!.hostEndpoint);
    }
  }
  return out;
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

function renderStaged(staged: readonly StagedEffect[]): string[] {
  const lines = ['StagedGlobalNetworkPolicies (never enforced): what enforcing each would change:'];
  for (const s of staged) {
    const what =
      s.stagedAction === 'Delete'
        ? `would delete GlobalNetworkPolicy ${s.name}`
        : s.replaces !== undefined
          ? `would replace GlobalNetworkPolicy ${s.name}`
          : 'would create a new GlobalNetworkPolicy';
    lines.push(`  ${s.name} (stagedAction ${s.stagedAction}): ${what}; selects ${s.selects.join(', ') || 'none of the HostEndpoints examined'}`);
    if (s.rejections.length > 0) {
      lines.push(`    rejected by Calico's API, so enforcing it would fail: ${s.rejections.map((r) => r.message).join('; ')}`);
      continue;
    }
    if (s.stagedAction === 'Learn' || s.stagedAction === 'Ignore') {
      lines.push('    changes nothing when enforced');
      continue;
    }
    if (s.changes.length === 0) lines.push('    no change to what the HostEndpoints examined let through');
    for (const c of s.changes) lines.push(`    ${c.change === 'newly-dropped' ? 'DROPS' : 'ALLOWS'} on ${c.hostEndpoint}: ${c.text}`);
    for (const f of s.lockouts) lines.push(`    ${f.severity} ${f.code}: ${f.message}`);
    for (const r of s.resolves) lines.push(`    resolves ${r}`);
  }
  return lines;
}

function renderGovernance(g: NodeGovernance): string[] {
  const lines = [
    `Which HostEndpoint Felix uses on node ${g.node} (felix endpoint_mgr.go: by interface name or expectedIPs, alphabetically first; * only where none claims):`,
  ];
  if (g.interfaces.length === 0) lines.push('  (no interfaces known)');
  for (const i of g.interfaces) {
    const who = i.governing === undefined ? '(none)' : `${i.governing.hostEndpoint} [${i.governing.origin}]`;
    lines.push(`  ${i.interfaceName}: ${who} - ${i.reason}`);
    for (const c of i.inactive) lines.push(`      inactive: ${c.hostEndpoint} [${c.origin}, by ${c.via}]`);
    if (i.shadows !== undefined) {
      lines.push(
        `      shadows the all-interfaces HostEndpoint ${i.shadows.hostEndpoint}${i.shadows.policies.length > 0 ? `: policies that select it but not ${i.governing!.hostEndpoint} do not apply here: ${i.shadows.policies.join(', ')}` : ' (every policy selecting it selects this one too)'}`,
      );
    }
  }
  for (const x of g.idle) lines.push(`  idle: ${x.hostEndpoint} governs no interface: ${x.reason}`);
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
  for (const g of r.governance) lines.push(...renderGovernance(g), '');
  const rejected = r.policies.filter((p) => p.rejected).map((p) => p.name);
  if (rejected.length > 0) lines.push(`Rejected by Calico's API, so never enforced and left out above: ${rejected.join(', ')}`, '');
  if (r.staged.length > 0) lines.push(...renderStaged(r.staged), '');
  const unused = r.policies.filter((p) => p.selects.length === 0 && !p.rejected && p.kind === 'GlobalNetworkPolicy').map((p) => p.name);
  if (unused.length > 0) lines.push(`Policies selecting none of these HostEndpoints: ${unused.join(', ')}`, '');
  if (r.findings.length > 0) {
    lines.push('Findings:');
    for (const f of r.findings) lines.push(`  ${f.severity.padEnd(7)} ${f.code}: ${f.message}`);
    lines.push('');
  }
  lines.push(`${r.summary.errors} error(s), ${r.summary.warnings} warning(s); ${r.summary.policies} policies, ${r.summary.hostEndpoints} HostEndpoint(s)`);
  return `${lines.join('\n')}\n`;
}

/** A directory stands for its *.yaml, *.yml and *.json files (kustomization.yaml excepted), sorted. */
async function expandPolicyPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const path of paths) {
    let entries: string[] | undefined;
    try {
      if ((await stat(path)).isDirectory()) entries = await readdir(path);
    } catch {
      entries = undefined; // not readable: readPolicyFiles reports it
    }
    if (entries === undefined) out.push(path);
    else {
      const files = entries.filter((f) => /\.(ya?ml|json)$/.test(f) && !/^kustomization\.ya?ml$/.test(f)).sort();
      if (files.length === 0) throw new UsageError(`--policies: directory ${path} holds no .yaml, .yml or .json file`);
      out.push(...files.map((f) => join(path, f)));
    }
  }
  return out;
}

async function readPolicyFiles(files: readonly string[], docs: PolicyDocuments): Promise<void> {
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError(`--policies: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
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
  const key = (p: Policy) => `${p.kind}/${p.name}`;
  const fileNames = new Set(files.policies.map(key));
  const notes = [...cluster.notes, ...files.notes];
  const policies: Policy[] = [...files.policies];
  for (const p of cluster.policies) {
    if (fileNames.has(key(p))) notes.push(`${p.kind === 'GlobalNetworkPolicy' ? 'policy' : p.kind} ${p.name}: the file's version replaces the cluster's`);
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

/** Calico kube-controllers' auto HEPs carry this label (kube-controllers/pkg/controllers/node/controller.go). */
const CALICO_AUTO_HEP_SELECTOR = 'projectcalico.org/created-by=calico-kube-controllers';

/**
 * Every HostEndpoint of a node (or of every node), in three label-selected lists so that our HEPs of
 * other nodes are never downloaded: ours by node label; Calico's auto HEPs; and the hand-written
 * rest (no label names their node, so those are listed cluster-wide and filtered on spec.node).
 */
async function listNodeHostEndpoints(heps: HostEndpointApi, node: string | undefined): Promise<HostEndpoint[]> {
  const ours = node === undefined ? `${MANAGED_BY_LABEL}=${MANAGED_BY_VALUE}` : managedSelector(node);
  const others = [CALICO_AUTO_HEP_SELECTOR, `${MANAGED_BY_LABEL}!=${MANAGED_BY_VALUE},projectcalico.org/created-by!=calico-kube-controllers`];
  const lists = await Promise.all([ours, ...others].map((sel) => listManaged(heps, sel)));
  const seen = new Set<string>();
  const out: HostEndpoint[] = [];
  for (const h of lists.flat()) {
    if (seen.has(h.metadata.name) || (node !== undefined && h.spec.node !== node)) continue;
    seen.add(h.metadata.name);
    out.push(h);
  }
  return out;
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

/** `explain --packet` exit code when the verdict depends on what cannot be known offline (or Calico leaves it undecided). */
export const EXIT_DEPENDS = 3;

function packetFromFlags(values: Record<string, string | boolean | string[] | undefined>): { packet: Packet; interfaceName: string } {
  const interfaceName = values['interface'];
  if (typeof interfaceName !== 'string' || interfaceName === '') throw new UsageError('--packet needs --interface NAME');
  const direction = oneOf(values['direction'] as string | undefined, ['ingress', 'egress'] as const, '--direction', 'ingress');
  const protocol = String(values['protocol'] ?? 'tcp').toLowerCase();
  if (protocolNumber(protocol) === undefined)
    throw new UsageError(`--protocol: expected tcp, udp, sctp, icmp, icmpv6, udplite or a number 1-255, got "${protocol}"`);
  let port: number | undefined;
  if (values['port'] !== undefined) {
    port = Number(values['port']);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port: expected 1-65535, got "${String(values['port'])}"`);
  } else if (['tcp', 'udp', 'sctp', '6', '17', '132'].includes(protocol)) throw new UsageError(`--packet with --protocol ${protocol} needs --port`);
  for (const f of ['peer', 'local'] as const) {
    const v = values[f];
    if (v !== undefined && (typeof v !== 'string' || canonicalIp(v) === undefined)) throw new UsageError(`--${f}: expected an IP address, got "${String(v)}"`);
  }
  const peerLabels = typeof values['peer-labels'] === 'string' ? parseLabelList(values['peer-labels'], '--peer-labels') : undefined;
  return {
    interfaceName,
    packet: {
      direction,
      path: values['forwarded'] === true ? 'forward' : 'host',
      protocol,
      port,
      peer: values['peer'] as string | undefined,
      local: values['local'] as string | undefined,
      peerLabels,
    },
  };
}

export interface PacketAnswer {
  readonly apiVersion: 'calico-hep-agent.io/v1alpha1';
  readonly kind: 'PacketVerdict';
  readonly node: string;
  readonly interfaceName: string;
  readonly packet: Packet;
  /** The HEP Felix uses on the interface (undefined: none, the interface is not policed) and why. */
  readonly hostEndpoint: string | undefined;
  readonly governance: string;
  readonly verdict: PacketVerdict['verdict'];
  /** Every way the packet may end, in evaluation order; one entry when the verdict is certain. */
  readonly outcomes: readonly { readonly verdict: string; readonly cause: string; readonly certain: boolean }[];
  readonly failsafe: Failsafe;
}

/** `explain --packet`, pure: the interface's governing HEP (governance.ts), then the Felix model's walk for this packet (packet.ts). */
export function buildPacketAnswer(input: {
  hostEndpoints: readonly HostEndpoint[];
  docs: PolicyDocuments;
  failsafe: Failsafe;
  interfaces: ReadonlyMap<string, readonly HostInterface[]>;
  node: string;
  interfaceName: string;
  packet: Packet;
}): PacketAnswer {
  const model = buildPolicyModel(acceptedPolicies(input.docs.policies), input.docs.tiers);
  const known = input.interfaces.get(input.node) ?? interfacesFromHostEndpoints(input.node, input.hostEndpoints);
  const iface = known.find((i) => i.name === input.interfaceName) ?? { name: input.interfaceName, addresses: [] };
  const g = governInterfaces(input.node, [iface], input.hostEndpoints, model.policies).interfaces[0]!;
  const hep = g.governing === undefined ? undefined : input.hostEndpoints.find((h) => h.metadata.name === g.governing!.hostEndpoint);
  const pipeline = hep === undefined ? endpointPipeline(undefined, model) : hostEndpointPipeline(hep, model);
  const v = packetVerdict(pipeline, input.packet, input.hostEndpoints, input.failsafe);
  return {
    apiVersion: 'calico-hep-agent.io/v1alpha1',
    kind: 'PacketVerdict',
    node: input.node,
    interfaceName: input.interfaceName,
    packet: input.packet,
    hostEndpoint: hep?.metadata.name,
    governance: g.reason,
    verdict: v.verdict,
    outcomes: v.outcomes.map((o) => ({ verdict: o.verdict, cause: describeCause(o.cause), certain: o.certain })),
    failsafe: input.failsafe,
  };
}

export function renderPacket(a: PacketAnswer): string {
  const p = a.packet;
  const proto = `${p.protocol}${p.port !== undefined ? `/${p.port}` : ''}`;
  const peer = p.peer !== undefined ? `${p.direction === 'ingress' ? 'from' : 'to'} ${p.peer}` : `${p.direction === 'ingress' ? 'from' : 'to'} any peer`;
  const lines = [
    `Packet: ${p.direction} ${proto} ${peer}${p.path === 'forward' ? `, forwarded ${p.direction === 'ingress' ? 'in through' : 'out through'}` : `, ${p.direction === 'ingress' ? 'to' : 'from'} node ${a.node} on`} ${a.interfaceName}`,
    `HostEndpoint: ${a.hostEndpoint ?? '(none)'} - ${a.governance}`,
  ];
  if (a.verdict === 'depends') {
    lines.push("Verdict: DEPENDS on what cannot be known offline (the peer's identity or port, HTTP); in order:");
    a.outcomes.forEach((o, i) => lines.push(`  ${o.verdict.toUpperCase()} ${i === a.outcomes.length - 1 ? 'otherwise' : 'if it matches'}: ${o.cause}`));
  } else lines.push(`Verdict: ${a.verdict.toUpperCase()} by ${a.outcomes[a.outcomes.length - 1]!.cause}`);
  return `${lines.join('\n')}\n`;
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
      packet: { type: 'boolean' },
      interface: { type: 'string' },
      direction: { type: 'string' },
      protocol: { type: 'string' },
      port: { type: 'string' },
      peer: { type: 'string' },
      local: { type: 'string' },
      'peer-labels': { type: 'string' },
      forwarded: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      io.stdout.write(HELP);
      return EXIT_OK;
    }
    const output = oneOf(values.output, ['text', 'json'] as const, '--output', 'text');
    const files = await expandPolicyPaths(values.policies ?? []);
    const fromCluster = values['from-cluster'] === true;
    const allNodes = values['all-nodes'] === true;
    if (files.length === 0 && !fromCluster) throw new UsageError('give --policies FILE (repeatable) or --from-cluster');
    if (allNodes && values.node !== undefined) throw new UsageError('--node and --all-nodes cannot be combined');
    const packet = values.packet === true ? packetFromFlags(values) : undefined;
    if (packet !== undefined && allNodes) throw new UsageError('--packet asks about one node: give --node (or none for this machine), not --all-nodes');
    if (packet === undefined) {
      for (const f of ['interface', 'direction', 'protocol', 'port', 'peer', 'local', 'peer-labels', 'forwarded'] as const) {
        if (values[f] !== undefined) throw new UsageError(`--${f} describes a packet: add --packet`);
      }
    }
    if (allNodes && !fromCluster) throw new UsageError('--all-nodes needs --from-cluster (the HostEndpoints of other nodes live in the cluster)');
    if (fromCluster && (values.node !== undefined || allNodes) && (values['node-labels'] !== undefined || values.config !== undefined)) {
      throw new UsageError("--node-labels and --config compute desired HostEndpoints; with --from-cluster --node/--all-nodes the cluster's are explained");
    }

    const config: Config = await commandConfig({ file: values.config, env: io.env, overrides: { nodeName: values.node } });
    const nodeName = config.nodeName ?? hostname().toLowerCase();

    const fileDocs: PolicyDocuments = { policies: [], tiers: [], felixConfigurations: [], notes: [] };
    await readPolicyFiles(files, fileDocs);
    let docs = fileDocs;
    const sources = [...files];

    let kubeconfig: KubeConfig | undefined;
    let kc: ApiClient | undefined;
    let clusterHeps: HostEndpoint[] | undefined;
    /** Hand-written and Calico auto HEPs of this node, next to the desired ones. */
    let otherHeps: HostEndpoint[] = [];
    if (fromCluster) {
      kubeconfig = await requireKubeConfig({ file: values.kubeconfig, env: io.env });
      kc = apiClientFor(kubeconfig, NO_OBSERVER);
      const calico = chooseCalicoApi(await servedGroupVersions(kc), config.apiGroup);
      const api = new CalicoPolicyApi(kc, calico);
      // Every FelixConfiguration: node.<name>, selector-scoped ones (nodeSelector, 3.32.1) and default.
      const [gnps, staged, tiers, felix] = await Promise.all([
        api.listGlobalNetworkPolicies(),
        api.listAll('stagedglobalnetworkpolicies', 'StagedGlobalNetworkPolicy'),
        api.listTiers(),
        api.listAll('felixconfigurations', 'FelixConfiguration'),
      ]);
      // Stored objects: a policy without types is Ingress+Egress for Felix (policy_sorter.go).
      const cluster = collectObjects(gnps.items, 'cluster', undefined, { types: 'felix' });
      if (staged === undefined) cluster.notes.push('the cluster serves no StagedGlobalNetworkPolicies');
      else collectObjects(staged, 'cluster', cluster, { types: 'felix' });
      if (tiers === undefined)
        cluster.notes.push(
          "the cluster serves no Tier objects: using Calico's built-in tier orders (default 1000000, kube-admin 1000, kube-baseline 10000000)",
        );
      else collectObjects(tiers, 'cluster', cluster);
      for (const f of felix ?? []) cluster.felixConfigurations.push(f);
      docs = mergeDocs(fileDocs, cluster);
      sources.push(`cluster (${calico.group}/${calico.version})`);
      const heps = new HostEndpointApi(kc, calico);
      if (values.node !== undefined || allNodes) clusterHeps = await listNodeHostEndpoints(heps, allNodes ? undefined : nodeName);
      else otherHeps = (await listNodeHostEndpoints(heps, nodeName)).filter((h) => !isManaged(h.metadata.labels));
    }

    let hostEndpoints: HostEndpoint[];
    let nodeLabels: Readonly<Record<string, string>> | undefined;
    if (clusterHeps !== undefined && !allNodes && kc !== undefined) nodeLabels = (await readNodeFacts(kc, nodeName))?.labels;
    const interfaces = new Map<string, HostInterface[]>();
    const defaultRoutes = new Map<string, Set<string>>();
    if (clusterHeps !== undefined) hostEndpoints = clusterHeps;
    else {
      if (kubeconfig === undefined && values['node-labels'] === undefined) kubeconfig = await findKubeConfig({ file: values.kubeconfig, env: io.env });
      const source = kubeconfig === undefined ? undefined : clusterNodeSource(kubeconfig, kc);
      const [discovered, node] = await Promise.all([(deps.discover ?? discoverInterfaces)(), nodeFactsForCli(nodeName, values['node-labels'], source, io)]);
      nodeLabels = node.labels;
      const state = desiredStateBuilder(config)(node, discovered);
      for (const w of state.warnings) io.stderr.write(`warning: ${w}\n`);
      hostEndpoints = [...state.hostEndpoints, ...otherHeps];
      // This machine's interfaces, as Felix sees host interfaces (workload interfaces are never HEPs').
      interfaces.set(
        nodeName,
        discovered.filter((i) => !i.name.startsWith('cali')).map((i) => ({ name: i.name, addresses: i.addresses.map((a) => a.address) })),
      );
      defaultRoutes.set(nodeName, new Set(discovered.filter((i) => i.hasDefaultRoute).map((i) => i.name)));
    }

    // Per-host, then selector-scoped (by the Node's labels), then default (failsafe.ts).
    const failsafe = failsafeFrom(docs.felixConfigurations, allNodes ? undefined : { name: nodeName, labels: nodeLabels });
    if (packet !== undefined) {
      const answer = buildPacketAnswer({ hostEndpoints, docs, failsafe, interfaces, node: nodeName, ...packet });
      if (output === 'json') io.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
      else {
        for (const n of docs.notes) io.stderr.write(`note: ${n}\n`);
        io.stdout.write(renderPacket(answer));
      }
      return answer.verdict === 'allow' ? EXIT_OK : answer.verdict === 'drop' ? EXIT_FAILURE : EXIT_DEPENDS;
    }
    const report = buildReport({
      hostEndpoints,
      hostEndpointSource: clusterHeps !== undefined ? 'cluster' : 'desired',
      docs,
      policySources: sources,
      failsafe,
      interfaces,
      agentPort: config.server.port,
      defaultRouteInterfaces: defaultRoutes,
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
