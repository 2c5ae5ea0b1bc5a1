// StagedGlobalNetworkPolicies: what enforcing each would change. Felix never enforces a staged kind
// (felix/rules/endpoints.go, model.KindIsStaged); enforcing replaces the GNP of the same name
// (api/pkg/apis/projectcalico/v3/stagedglobalnetworkpolicy.go ConvertStagedGlobalPolicyToEnforced) or
// deletes it (stagedAction Delete, libcalico-go validator.go validateStagedGlobalNetworkPolicy).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostEndpoint } from '../../../src/core/model.ts';
import { buildPolicyModel, DEFAULT_FAILSAFE, parsePolicy, type Policy } from '../../../src/core/policy/index.ts';
import { stagedEffects } from '../../../src/core/policy/staged.ts';

const pol = (kind: string, name: string, spec: Record<string, unknown>): Policy =>
  parsePolicy({ kind, metadata: { name }, spec: { types: ['Ingress'], ...spec } }, 't');
const gnp = (name: string, spec: Record<string, unknown>) => pol('GlobalNetworkPolicy', name, spec);
const sgnp = (name: string, spec: Record<string, unknown>) => pol('StagedGlobalNetworkPolicy', name, spec);
const H: HostEndpoint = {
  apiVersion: 'projectcalico.org/v3',
  kind: 'HostEndpoint',
  metadata: { name: 'n1-eth0', labels: { role: 'edge' } },
  spec: { node: 'n1', interfaceName: 'eth0', expectedIPs: ['10.0.0.5'], profiles: ['projectcalico-default-allow'] },
};
const web = gnp('web', { selector: 'role == "edge"', order: 10, ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [80] } }] });
const deny = { selector: 'role == "edge"', order: 20, ingress: [{ action: 'Deny' }] };

// [what, policies, expected per staged policy: [changes "kind direction", lockout codes, resolves count, rejected]]
const TABLE: ReadonlyArray<readonly [string, Policy[], string[], string[], number, boolean]> = [
  [
    'a staged deny on a HEP no policy selects yet: newly dropped ingress, kubelet and agent port closed',
    [sgnp('deny', deny)],
    ['newly-dropped ingress'],
    ['agent-port-closed', 'kubelet-closed'],
    0,
    false,
  ],
  [
    'the same deny after an allow-80 policy changes nothing: the end of tier drops it already (felix/rules/endpoints.go)',
    [web, sgnp('deny', deny)],
    [],
    [],
    0,
    false,
  ],
  [
    'a staged Delete of the only enforced deny: ingress opens (default-allow profile), the lockouts resolve',
    [gnp('deny', deny), sgnp('deny', { stagedAction: 'Delete' })],
    ['newly-allowed ingress'],
    [],
    2,
    false,
  ],
  [
    'a staged replacement of the deny by one denying SSH only',
    [gnp('deny', deny), sgnp('deny', { ...deny, ingress: [{ action: 'Deny', protocol: 'TCP', destination: { ports: [22] } }, { action: 'Allow' }] })],
    ['newly-allowed ingress'],
    [],
    2,
    false,
  ],
  ['stagedAction Learn changes nothing', [sgnp('deny', { ...deny, stagedAction: 'Learn' })], [], [], 0, false],
  [
    'a staged policy Calico rejects: enforcing it fails',
    [sgnp('deny', { ...deny, ingress: [{ action: 'Deny', destination: { ports: [22] } }] })],
    [],
    [],
    0,
    true,
  ],
];

describe('StagedGlobalNetworkPolicies: what enforcing each would change', () => {
  for (const [what, policies, changes, lockouts, resolves, rejected] of TABLE) {
    it(what, () => {
      const [e] = stagedEffects({ policies, tiers: [], hostEndpoints: [H], failsafe: DEFAULT_FAILSAFE, clusterFacing: new Set(['n1-eth0']) });
      assert.ok(e !== undefined);
      assert.deepEqual([...new Set(e.changes.map((c) => `${c.change} ${c.direction}`))], changes, JSON.stringify(e.changes));
      assert.deepEqual(e.lockouts.map((f) => f.code).sort(), lockouts);
      assert.equal(e.resolves.length, resolves, JSON.stringify(e.resolves));
      assert.equal(e.rejections.length > 0, rejected);
      // Whatever is staged, today's model never holds it.
      assert.ok(buildPolicyModel(policies, []).policies.every((p) => p.kind === 'GlobalNetworkPolicy'));
    });
  }

  it('names the policy it replaces and what it selects', () => {
    const [e] = stagedEffects({
      policies: [gnp('deny', deny), sgnp('deny', { stagedAction: 'Delete' })],
      tiers: [],
      hostEndpoints: [H],
      failsafe: DEFAULT_FAILSAFE,
    });
    assert.equal(e!.replaces, 'deny');
    assert.deepEqual(e!.selects, ['n1-eth0'], 'a Delete touches what the deleted policy selects');
  });
});
