// `explain` end to end in-process: policies from files (the Calico guide's, and crafted bad ones),
// desired HostEndpoints from injected interfaces, and the from-cluster path against the fake API server.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { runCli } from '../../src/cli/cli.ts';
import { makeExplain, type ExplainReport } from '../../src/cli/commands/explain.ts';
import { EXIT_USAGE, UsageError, type CliIo } from '../../src/cli/io.ts';
import type { NetInterface } from '../../src/core/model.ts';
import { MANAGED_BY_LABEL, NODE_LABEL } from '../../src/core/ownership.ts';
import { startFakeApiServer, type FakeApiServer } from '../fake-apiserver/index.ts';
import { iface } from '../helpers/interfaces.ts';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.text += chunk.toString();
    done();
  }
}

const fixtures = new URL('../core/policy/fixtures/', import.meta.url).pathname;
const GUIDE = join(fixtures, 'guide-http-https.yaml');
const FIXED = join(fixtures, 'fixed-http-https.yaml');

let dir: string;
let configFile: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'explain-'));
  // The guide's labels: role from the Node, type: external for em4 (as an interface rule).
  configFile = join(dir, 'config.yaml');
  await writeFile(configFile, 'hostEndpoint: {profiles: []}\ninterfaceRules:\n  - {name: external, match: {names: [em4]}, labels: {type: external}}\n');
});
after(async () => rm(dir, { recursive: true, force: true }));

const em4: NetInterface[] = [iface('em4', ['120.133.60.219/24']), iface('eth0', ['10.0.0.5/24'])];

async function run(argv: string[], opts: { interfaces?: NetInterface[]; env?: Record<string, string> } = {}) {
  const stdout = new Capture();
  const stderr = new Capture();
  const io: CliIo = { stdout, stderr, stdin: Readable.from([]), env: opts.env ?? {} };
  let code: number;
  try {
    code = await makeExplain({ discover: () => Promise.resolve(opts.interfaces ?? em4) })(argv, io);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    stderr.text += err.message;
    code = EXIT_USAGE;
  }
  return { code, stdout: stdout.text, stderr: stderr.text };
}

const json = (text: string) => JSON.parse(text) as ExplainReport;

describe('explain with policy files and desired HostEndpoints', () => {
  it("the guide's example: text lists both preDNAT policies in order and exits 1 on its lockout errors", async () => {
    const r = await run(['--policies', GUIDE, '--config', configFile, '--node', 'master1', '--node-labels', 'role=master']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /HostEndpoint master1-em4 {2}node master1 {2}interface em4 {2}IPs 120\.133\.60\.219 {2}profiles \(none\)/);
    assert.match(
      r.stdout,
      /1\. \[preDNAT\] default\/allow-http-https-traffic-only \(order 10, applyOnForward\)\n +Allow tcp to ports 80,443\n +2\. \[preDNAT\] default\/drop-other-ingress \(order 20, applyOnForward\)\n +Deny \(everything\)/,
    );
    assert.match(r.stdout, /error +deny-all-endpoints: policy drop-other-ingress/);
    assert.match(
      r.stdout,
      /error +no-policy: HostEndpoint master1-eth0 is selected by no normal .* policy for egress and has no projectcalico-default-allow profile: only failsafe ports are open \(egress: udp:53/,
    );
    assert.match(r.stdout, /inbound: {2}tcp:22, udp:68, tcp:179, tcp:2379, tcp:2380, tcp:5473, tcp:6443, tcp:6666, tcp:6667/);
  });

  it('JSON: the report shape tools rely on', async () => {
    const r = await run(['--policies', GUIDE, '--config', configFile, '--node', 'master1', '--node-labels', 'role=master', '--output', 'json']);
    assert.equal(r.code, 1);
    const report = json(r.stdout);
    assert.equal(report.kind, 'PolicyExplanation');
    assert.equal(report.hostEndpointSource, 'desired');
    assert.deepEqual(report.policySources, [GUIDE]);
    assert.deepEqual(Object.keys(report).sort(), [
      'apiVersion',
      'failsafe',
      'findings',
      'governance',
      'hostEndpointSource',
      'hostEndpoints',
      'kind',
      'notes',
      'policies',
      'policySources',
      'staged',
      'summary',
      'tiers',
    ]);
    assert.deepEqual(
      report.policies.map((p) => [p.name, p.order, p.preDNAT, p.applyOnForward, p.selects]),
      [
        ['allow-http-https-traffic-only', 10, true, true, ['master1-em4']],
        ['drop-other-ingress', 20, true, true, ['master1-em4', 'master1-eth0']],
      ],
    );
    const em = report.hostEndpoints.find((h) => h.name === 'master1-em4')!;
    assert.deepEqual(em.labels['type'], 'external');
    assert.deepEqual(
      em.ingress.policies.map((p) => p.name),
      ['allow-http-https-traffic-only', 'drop-other-ingress'],
    );
    assert.deepEqual(em.ingress.unmatched, {
      action: 'deny',
      code: 'catch-all-rule',
      reason: 'preDNAT policy drop-other-ingress (tier default) denies everything that reaches it',
      policy: 'drop-other-ingress',
      tier: 'default',
    });
    assert.equal(em.egress.unmatched.code, 'no-policy');
    // Lockout ports: closed on both interfaces, neither known to carry the cluster's traffic (no default route here): warnings.
    assert.deepEqual(report.summary, { hostEndpoints: 2, policies: 2, errors: 3, warnings: 4 });
    assert.deepEqual(
      report.findings
        .filter((f) => f.severity === 'warning')
        .map((f) => `${f.code} ${f.hostEndpoint}`)
        .sort(),
      ['agent-port-closed master1-em4', 'agent-port-closed master1-eth0', 'kubelet-closed master1-em4', 'kubelet-closed master1-eth0'],
    );
    assert.deepEqual(report.tiers, [{ name: 'default', order: 1_000_000, defaultAction: 'Deny', known: true }]);
    assert.deepEqual(report.failsafe.inbound[0], { protocol: 'tcp', port: 22 });
  });

  it('the fixed policies: exit 0 (kubelet and agent ports open to 10.0.0.0/8 only: warnings), and the ignored ConfigMap is a note on stderr', async () => {
    const r = await run(['--policies', FIXED, '--config', configFile, '--node', 'master1', '--node-labels', 'role=master', '--output', 'text'], {
      interfaces: [em4[0]!],
    });
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stderr, /note: .*ConfigMap not-a-policy is not a GlobalNetworkPolicy; ignored/);
    assert.match(r.stdout, /0 error\(s\), 2 warning\(s\); 4 policies, 1 HostEndpoint\(s\)/);
    assert.match(
      r.stdout,
      /warning kubelet-closed: HostEndpoint master1-em4: TCP 10250 ingress \(the kubelet\) is closed by preDNAT policy drop-other-ingress .* except for the peers these rules allow: allow-cluster-node-ports ingress rule 1 \(Allow tcp from nets 10\.0\.0\.0\/8 to ports 10250,9808\)/,
    );
  });

  it('warnings only exit 0; several --policies files combine', async () => {
    const extra = join(dir, 'typo.yaml');
    await writeFile(
      extra,
      'kind: GlobalNetworkPolicy\napiVersion: projectcalico.org/v3\nmetadata: {name: typo}\nspec: {selector: role == "mastr", ingress: [{action: Allow}]}\n',
    );
    const r = await run(['--policies', FIXED, '--policies', extra, '--config', configFile, '--node', 'master1', '--node-labels', 'role=master', '-o', 'json'], {
      interfaces: [em4[0]!],
    });
    assert.equal(r.code, 0);
    assert.deepEqual(
      json(r.stdout)
        .findings.filter((f) => f.policy === 'typo')
        .map((f) => [f.severity, f.code, f.policy]),
      [
        ['warning', 'types-missing', 'typo'],
        ['warning', 'selects-nothing', 'typo'],
      ],
    );
    assert.equal(json(r.stdout).summary.errors, 0);
  });

  it('crafted bad policies and disabled failsafe ports from a FelixConfiguration in the file', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(
      bad,
      [
        'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: no-aof}\nspec: {selector: has(role), preDNAT: true, ingress: [{action: Allow, protocol: TCP, destination: {ports: [22]}}]}',
        'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: dnat-egress}\nspec: {selector: has(role), preDNAT: true, applyOnForward: true, egress: [{action: Allow}]}',
        'apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {failsafeInboundHostPorts: []}',
      ].join('\n---\n'),
    );
    const r = await run(['--policies', bad, '--config', configFile, '--node', 'master1', '--node-labels', 'role=master', '-o', 'json']);
    assert.equal(r.code, 1);
    const report = json(r.stdout);
    assert.deepEqual(report.failsafe.inbound, []);
    assert.deepEqual([...new Set(report.findings.map((f) => f.code))].sort(), [
      'failsafe-disabled',
      'no-policy',
      'prednat-egress',
      'prednat-without-applyonforward',
    ]);
  });
});

describe('explain on the shipped examples (deploy/examples, deploy/config.example.yaml)', () => {
  const EXAMPLES = new URL('../../deploy/examples/', import.meta.url).pathname;
  const CONFIG = new URL('../../deploy/config.example.yaml', import.meta.url).pathname;
  const uplink: NetInterface[] = [iface('eth0', ['10.0.0.5/24'], { hasDefaultRoute: true })];
  const argv = (policies: string[]) => [
    ...policies.flatMap((p) => ['--policies', p]),
    '--config',
    CONFIG,
    '--node',
    'master1',
    '--node-labels',
    'node-role.kubernetes.io/control-plane=',
    '-o',
    'json',
  ];

  it('no errors; names what the deny closes on the uplink and what stays open to the cluster', async () => {
    const r = await run(argv([EXAMPLES]), { interfaces: uplink });
    const report = json(r.stdout);
    assert.equal(r.code, 0, JSON.stringify(report.findings, null, 1));
    assert.deepEqual(
      report.policies.map((p) => p.name),
      ['prednat-nodeports-external', 'allow-http-https-external', 'allow-cluster-node-ports-external', 'deny-other-ingress-external'],
    );
    const closes = report.findings.filter((f) => f.hostEndpoint === 'master1-eth0').map((f) => `${f.severity} ${f.code} ${f.policy}`);
    assert.deepEqual(closes.sort(), ['warning agent-port-closed deny-other-ingress-external', 'warning kubelet-closed deny-other-ingress-external']);
    assert.match(report.findings[0]!.message, /except for the peers these rules allow: allow-cluster-node-ports-external ingress rule 1/);
  });

  it('without allow-cluster-node-ports-external the uplink loses the kubelet and the agent: errors', async () => {
    const files = ['allow-http-https-external.yaml', 'deny-other-ingress-external.yaml', 'prednat-nodeports-external.yaml'].map((f) => join(EXAMPLES, f));
    const r = await run(argv(files), { interfaces: uplink });
    assert.equal(r.code, 1);
    assert.deepEqual(
      json(r.stdout)
        .findings.filter((f) => f.severity === 'error')
        .map((f) => f.code)
        .sort(),
      ['agent-port-closed', 'kubelet-closed'],
    );
  });

  it('staged first: the deny as a StagedGlobalNetworkPolicy is not enforced, and explain says what enforcing it would close', async () => {
    const staged = join(dir, 'staged-deny.yaml');
    await writeFile(
      staged,
      (await readFile(join(EXAMPLES, 'deny-other-ingress-external.yaml'), 'utf8')).replace('kind: GlobalNetworkPolicy', 'kind: StagedGlobalNetworkPolicy'),
    );
    const r = await run(argv([join(EXAMPLES, 'prednat-nodeports-external.yaml'), staged]), { interfaces: uplink });
    const report = json(r.stdout);
    const eth0 = report.hostEndpoints.find((h) => h.name === 'master1-eth0')!;
    assert.deepEqual(
      eth0.ingress.policies.map((p) => p.name),
      ['prednat-nodeports-external'],
      'staged: not enforced',
    );
    const [s] = report.staged;
    assert.equal(s!.name, 'deny-other-ingress-external');
    assert.deepEqual(
      s!.changes.map((c) => [c.hostEndpoint, c.change, c.direction, c.path]),
      [['master1-eth0', 'newly-dropped', 'ingress', 'host']],
    );
    assert.deepEqual(s!.lockouts.map((f) => `${f.severity} ${f.code}`).sort(), ['error agent-port-closed', 'error kubelet-closed']);
  });
});

describe('explain --packet: "will SSH from the bastion still work?"', () => {
  let files: string[];
  before(async () => {
    const ssh = join(dir, 'ssh.yaml');
    await writeFile(
      ssh,
      [
        'apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ssh-from-bastion}\nspec:\n  order: 10\n  selector: type == "external"\n  types: [Ingress]\n  ingress:\n  - {action: Allow, protocol: TCP, source: {nets: [10.9.9.9/32]}, destination: {ports: [22]}}\n  - {action: Allow, protocol: TCP, source: {selector: role == "bastion"}, destination: {ports: [22]}}\n  - {action: Deny}',
        'apiVersion: projectcalico.org/v3\nkind: FelixConfiguration\nmetadata: {name: default}\nspec: {failsafeInboundHostPorts: []}',
      ].join('\n---\n'),
    );
    files = ['--policies', ssh, '--config', configFile, '--node', 'master1', '--node-labels', 'role=master'];
  });
  const ask = (extra: string[]) => run([...files, '--packet', '--interface', 'em4', ...extra]);

  // [peer flags, exit code, verdict line]
  const TABLE: [string[], number, RegExp][] = [
    [
      ['--port', '22', '--peer', '10.9.9.9'],
      0,
      /Verdict: ALLOW by policy ssh-from-bastion \(tier default\) ingress rule 1 \(Allow tcp from nets 10\.9\.9\.9\/32 to ports 22\)/,
    ],
    [['--port', '22', '--peer', '203.0.113.5'], 1, /Verdict: DROP by policy ssh-from-bastion \(tier default\) ingress rule 3 \(Deny \(everything\)\)/],
    [['--port', '22', '--peer', '172.16.0.9', '--peer-labels', 'role=bastion'], 0, /Verdict: ALLOW by policy ssh-from-bastion .* ingress rule 2/],
    [
      ['--port', '22'],
      3,
      /Verdict: DEPENDS .*\n {2}ALLOW if it matches: policy ssh-from-bastion .* rule 1 .*\n {2}ALLOW if it matches: .* rule 2 .*\n {2}DROP otherwise: .* rule 3/,
    ],
    [
      ['--port', '22', '--peer', '10.9.9.9', '--interface', 'eth0'],
      1,
      /HostEndpoint: master1-eth0 - master1-eth0 names interface eth0\nVerdict: DROP by no policy decided and the HostEndpoint has no profile/,
    ],
    [['--port', '443', '--peer', '10.9.9.9', '--direction', 'egress'], 1, /Verdict: DROP by no policy decided/],
    [
      ['--port', '22', '--peer', '10.9.9.9', '--interface', 'wg0'],
      0,
      /HostEndpoint: \(none\) - no HostEndpoint claims wg0: Felix does not police it.*\nVerdict: ALLOW by no HostEndpoint/,
    ],
  ];
  for (const [flags, code, verdict] of TABLE) {
    it(`${flags.join(' ')} -> exit ${code}`, async () => {
      const r = await ask(flags);
      assert.equal(r.code, code, r.stdout + r.stderr);
      assert.match(r.stdout, verdict);
    });
  }

  it('JSON: the verdict, every outcome and the HEP that governs the interface', async () => {
    const r = await ask(['--port', '22', '--peer', '10.9.9.9', '-o', 'json']);
    const a = JSON.parse(r.stdout) as { kind: string; hostEndpoint: string; verdict: string; outcomes: { verdict: string; cause: string }[] };
    assert.deepEqual([a.kind, a.hostEndpoint, a.verdict], ['PacketVerdict', 'master1-em4', 'allow']);
    assert.equal(a.outcomes.length, 1);
  });

  const usage: [string[], RegExp][] = [
    [['--packet', '--port', '22'], /--packet needs --interface NAME/],
    [['--packet', '--interface', 'em4'], /--packet with --protocol tcp needs --port/],
    [['--packet', '--interface', 'em4', '--port', '0'], /--port: expected 1-65535/],
    [['--packet', '--interface', 'em4', '--port', '22', '--peer', 'bastion'], /--peer: expected an IP address/],
    [['--packet', '--interface', 'em4', '--protocol', 'gre'], /--protocol: expected tcp/],
    [['--interface', 'em4'], /--interface describes a packet: add --packet/],
  ];
  for (const [flags, message] of usage) {
    it(`exit 2: ${flags.join(' ')}`, async () => {
      const r = await run([...files, ...flags]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
    });
  }
});

describe('explain flags', () => {
  const cases: [string[], RegExp][] = [
    [[], /--policies FILE .* or --from-cluster/],
    [['--policies', GUIDE, '--all-nodes'], /--all-nodes needs --from-cluster/],
    [['--from-cluster', '--node', 'a', '--all-nodes'], /cannot be combined/],
    [['--policies', GUIDE, '--output', 'yaml'], /--output: must be one of text, json/],
    [['--policies', '/nonexistent.yaml'], /cannot read \/nonexistent\.yaml: ENOENT/],
  ];
  for (const [argv, message] of cases) {
    it(`exit 2: ${argv.join(' ') || '(no flags)'}`, async () => {
      const r = await run(argv);
      assert.equal(r.code, 2);
      assert.match(r.stderr, message);
    });
  }

  it('is wired into the CLI, with help', async () => {
    const stdout = new Capture();
    const code = await runCli(['explain', '--help'], { stdout, stderr: new Capture(), stdin: Readable.from([]), env: {} });
    assert.equal(code, 0);
    assert.match(stdout.text, /usage: calico-hep-agent explain/);
    const bad = await mkdtemp(join(tmpdir(), 'explain-bad-'));
    await writeFile(join(bad, 'x.yaml'), 'a: [\n');
    const stderr = new Capture();
    assert.equal(await runCli(['explain', '--policies', join(bad, 'x.yaml')], { stdout: new Capture(), stderr, stdin: Readable.from([]), env: {} }), 2);
    assert.match(stderr.text, /not valid YAML/);
    await rm(bad, { recursive: true, force: true });
  });
});

describe('explain --from-cluster against the fake API server', () => {
  let server: FakeApiServer;
  let kubeconfig: string;
  const managed = (node: string, ifaceName: string, labels: Record<string, string>, ips: string[]) => ({
    apiVersion: 'projectcalico.org/v3',
    kind: 'HostEndpoint',
    metadata: { name: `${node}-${ifaceName}`, labels: { ...labels, [MANAGED_BY_LABEL]: 'calico-hep-agent', [NODE_LABEL]: node } },
    spec: { node, interfaceName: ifaceName, expectedIPs: ips },
  });

  before(async () => {
    const guide = parse(await readFile(GUIDE, 'utf8')) as { metadata: { name: string } }[];
    server = await startFakeApiServer({
      calicoGroups: ['projectcalico.org/v3'],
      seed: [
        ...guide,
        managed('master1', 'em4', { role: 'master', type: 'external' }, ['120.133.60.219']),
        managed('master2', 'em4', { role: 'master', type: 'external' }, ['120.133.60.220']),
        // Hand-written and Calico's auto HEPs: explained too, and compared with ours per interface.
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'HostEndpoint',
          metadata: { name: 'manual', labels: { role: 'master' } },
          spec: { node: 'master1', interfaceName: 'eth9', profiles: ['projectcalico-default-allow'] },
        },
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'HostEndpoint',
          metadata: { name: 'master1-auto-hep', labels: { 'projectcalico.org/created-by': 'calico-kube-controllers', 'kubernetes.io/hostname': 'master1' } },
          spec: { node: 'master1', interfaceName: '*', expectedIPs: ['120.133.60.219'], profiles: ['projectcalico-default-allow'] },
        },
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'HostEndpoint',
          metadata: { name: 'master2-auto-hep', labels: { 'projectcalico.org/created-by': 'calico-kube-controllers' } },
          spec: { node: 'master2', interfaceName: '*', profiles: ['projectcalico-default-allow'] },
        },
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'GlobalNetworkPolicy',
          metadata: { name: 'by-hostname' },
          spec: { selector: 'kubernetes.io/hostname == "master1"', ingress: [{ action: 'Allow' }] },
        },
        {
          apiVersion: 'projectcalico.org/v3',
          kind: 'FelixConfiguration',
          metadata: { name: 'default' },
          spec: { failsafeInboundHostPorts: [{ protocol: 'TCP', port: 22 }] },
        },
      ] as never,
    });
    kubeconfig = join(dir, 'kubeconfig');
    await server.writeKubeconfig(kubeconfig);
  });
  after(async () => server.close());

  it("--node: ALL that node's HEPs (ours, hand-written, Calico auto), which one governs each interface, the cluster's policies and failsafe ports", async () => {
    const r = await run(['--from-cluster', '--kubeconfig', kubeconfig, '--node', 'master1', '-o', 'json']);
    assert.equal(r.code, 1, r.stderr);
    const report = json(r.stdout);
    assert.equal(report.hostEndpointSource, 'cluster');
    assert.deepEqual(
      report.hostEndpoints.map((h) => h.name),
      ['manual', 'master1-auto-hep', 'master1-em4'],
    );
    const g = report.governance.find((x) => x.node === 'master1')!;
    assert.deepEqual(
      g.interfaces.map((i) => [i.interfaceName, i.governing?.hostEndpoint, i.governing?.origin]),
      [
        ['em4', 'master1-em4', 'agent'],
        ['eth9', 'manual', 'hand-written'],
      ],
    );
    // Our named HEP shadows the auto HEP on em4: the policy keyed on the auto HEP's label stops applying there.
    assert.deepEqual(g.interfaces[0]!.shadows, { hostEndpoint: 'master1-auto-hep', policies: ['by-hostname'] });
    assert.deepEqual(g.idle, [{ hostEndpoint: 'master1-auto-hep', reason: 'every interface is claimed by a named or address-matched HostEndpoint' }]);
    const text = await run(['--from-cluster', '--kubeconfig', kubeconfig, '--node', 'master1']);
    assert.match(
      text.stdout,
      /em4: master1-em4 \[agent\] - master1-em4 names interface em4\n +shadows the all-interfaces HostEndpoint master1-auto-hep: policies that select it but not master1-em4 do not apply here: by-hostname/,
    );
    assert.deepEqual(
      report.policies.map((p) => p.name),
      ['allow-http-https-traffic-only', 'drop-other-ingress', 'by-hostname'],
    );
    assert.equal(report.failsafe.source, 'FelixConfiguration default');
    assert.deepEqual(report.failsafe.inbound, [{ protocol: 'tcp', port: 22 }]);
    assert.equal(report.failsafe.outbound.length, 9, 'unset outbound keeps Calico defaults');
    // The fake API server serves projectcalico.org Tiers (none stored) but no StagedGlobalNetworkPolicies.
    assert.doesNotMatch(report.notes.join('\n'), /serves no Tier objects/);
    assert.match(report.notes.join('\n'), /serves no StagedGlobalNetworkPolicies/);
    assert.deepEqual([...new Set(report.findings.map((f) => f.code))].sort(), [
      'agent-port-closed',
      'apiserver-closed',
      'deny-all-endpoints',
      'kubelet-closed',
      'no-policy',
      'types-missing',
    ]);
    // master1 has two interfaces (em4, eth9) and no default-route information from the cluster: which one
    // carries the cluster's traffic is unknown, so the closed kubelet is a warning naming the policy.
    const kubelet = report.findings.find((f) => f.code === 'kubelet-closed' && f.hostEndpoint === 'master1-em4')!;
    assert.equal(kubelet.severity, 'warning');
    assert.equal(kubelet.policy, 'drop-other-ingress');
  });

  it("--all-nodes: every HEP; a policy file overrides the cluster's policy of the same name", async () => {
    const r = await run(['--from-cluster', '--kubeconfig', kubeconfig, '--all-nodes', '--policies', FIXED, '-o', 'json']);
    const report = json(r.stdout);
    assert.deepEqual(
      report.hostEndpoints.map((h) => h.name),
      ['manual', 'master1-auto-hep', 'master1-em4', 'master2-auto-hep', 'master2-em4'],
    );
    assert.deepEqual(
      report.governance.map((g) => g.node),
      ['master1', 'master2'],
    );
    assert.match(report.notes.join('\n'), /policy drop-other-ingress: the file's version replaces the cluster's/);
    assert.equal(r.code, 0, JSON.stringify(report.findings));
  });

  it("without --node/--all-nodes: this machine's desired HEPs against the cluster's policies", async () => {
    const r = await run(['--from-cluster', '--kubeconfig', kubeconfig, '--config', configFile, '--node-labels', 'role=master', '-o', 'json'], {
      env: { NODE_NAME: 'master9' },
    });
    const report = json(r.stdout);
    assert.equal(report.hostEndpointSource, 'desired');
    assert.deepEqual(
      report.hostEndpoints.map((h) => h.name),
      ['master9-em4', 'master9-eth0'],
    );
  });
});
