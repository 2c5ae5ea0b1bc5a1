// The ValidatingAdmissionPolicy's CEL, evaluated with @marcbachmann/cel-js the way kube-apiserver
// evaluates it: matchConditions decide whether the policy applies (false: not our request);
// variables are computed; every validation must be true, and one that is false or fails to
// evaluate denies (failurePolicy: Fail). cel-js supports what the policy uses: has() on fields,
// map `in`, map and list index, size(), the ternary operator and string concatenation.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as celParse } from '@marcbachmann/cel-js';
import { parseAllDocuments } from 'yaml';
import { DEPLOY } from './render.ts';

interface Policy {
  kind: string;
  spec: {
    failurePolicy: string;
    matchConditions: { name: string; expression: string }[];
    variables: { name: string; expression: string }[];
    validations: { expression: string; message?: string; messageExpression?: string; reason?: string }[];
  };
}

const docs = parseAllDocuments(await readFile(join(DEPLOY, 'admission-policy.yaml'), 'utf8')).map((d) => d.toJS() as Policy);
const policy = docs.find((d) => d.kind === 'ValidatingAdmissionPolicy')!;
const AGENT = 'system:serviceaccount:calico-hep-agent:calico-hep-agent';
const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';

type Decision = { allowed: true; applied: boolean } | { allowed: false; message: string };

const compiled = {
  match: policy.spec.matchConditions.map((c) => celParse(c.expression)),
  variables: policy.spec.variables.map((v) => ({ name: v.name, fn: celParse(v.expression) })),
  validations: policy.spec.validations.map((v) => ({
    fn: celParse(v.expression),
    message: v.messageExpression !== undefined ? celParse(v.messageExpression) : undefined,
    text: v.message,
  })),
};

/** kube-apiserver's decision for one request. */
function admit(request: { operation: 'CREATE' | 'UPDATE' | 'DELETE'; userInfo: Record<string, unknown> }, object: unknown, oldObject: unknown): Decision {
  const base = { request, object: object ?? null, oldObject: oldObject ?? null };
  try {
    if (!compiled.match.every((m) => m(base) === true)) return { allowed: true, applied: false };
  } catch (err) {
    return { allowed: false, message: `match condition error: ${String(err)}` }; // failurePolicy: Fail
  }
  const variables: Record<string, unknown> = {};
  const ctx = { ...base, variables };
  for (const v of compiled.variables) {
    try {
      variables[v.name] = v.fn(ctx);
    } catch {
      // A variable that fails makes every validation reading it fail: denied below.
    }
  }
  for (const v of compiled.validations) {
    let ok: unknown;
    try {
      ok = v.fn(ctx);
    } catch (err) {
      return { allowed: false, message: `evaluation error: ${String(err)}` };
    }
    if (ok !== true) {
      let message = v.text ?? 'denied';
      if (v.message !== undefined) {
        try {
          message = String(v.message(ctx));
        } catch {
          // kube-apiserver falls back to message, then to a generic text.
        }
      }
      return { allowed: false, message };
    }
  }
  return { allowed: true, applied: true };
}

const hep = (node: string | undefined, group = 'projectcalico.org/v3') => ({
  apiVersion: group,
  kind: 'HostEndpoint',
  metadata: { name: `${node}-eth0`, labels: { 'app.kubernetes.io/managed-by': 'calico-hep-agent' } },
  spec: { ...(node !== undefined ? { node } : {}), interfaceName: 'eth0' },
});

const agentOn = (node: string) => ({ username: AGENT, groups: ['system:serviceaccounts', 'system:authenticated'], extra: { [NODE_NAME_EXTRA]: [node], 'authentication.kubernetes.io/pod-name': ['calico-hep-agent-x'] } });

describe('admission policy: an agent writes only its own node\'s HostEndpoints', () => {
  test('the policy fails closed', () => {
    assert.equal(policy.spec.failurePolicy, 'Fail');
  });

  test('own node: create, update and delete are allowed (both Calico API groups)', () => {
    for (const group of ['projectcalico.org/v3', 'crd.projectcalico.org/v1']) {
      assert.deepEqual(admit({ operation: 'CREATE', userInfo: agentOn('n1') }, hep('n1', group), null), { allowed: true, applied: true });
      assert.deepEqual(admit({ operation: 'UPDATE', userInfo: agentOn('n1') }, hep('n1', group), hep('n1', group)), { allowed: true, applied: true });
      assert.deepEqual(admit({ operation: 'DELETE', userInfo: agentOn('n1') }, null, hep('n1', group)), { allowed: true, applied: true });
    }
  });

  test('another node\'s HostEndpoint: create, update and delete are denied with a message naming the node', () => {
    const create = admit({ operation: 'CREATE', userInfo: agentOn('n1') }, hep('n2'), null);
    assert.equal(create.allowed, false);
    assert.match((create as { message: string }).message, /on node n1 may only write HostEndpoints whose spec\.node is n1/);
    assert.equal(admit({ operation: 'UPDATE', userInfo: agentOn('n1') }, hep('n2'), hep('n2')).allowed, false);
    const del = admit({ operation: 'DELETE', userInfo: agentOn('n1') }, null, hep('n2'));
    assert.equal(del.allowed, false, 'an agent cannot delete other nodes\' HEPs under this policy');
    assert.match((del as { message: string }).message, /may only change or delete/);
  });

  test('moving a HostEndpoint between nodes is denied in both directions', () => {
    assert.equal(admit({ operation: 'UPDATE', userInfo: agentOn('n1') }, hep('n2'), hep('n1')).allowed, false, 'giving away its own');
    assert.equal(admit({ operation: 'UPDATE', userInfo: agentOn('n1') }, hep('n1'), hep('n2')).allowed, false, 'taking over another');
  });

  test('a HostEndpoint without spec.node is denied', () => {
    assert.equal(admit({ operation: 'CREATE', userInfo: agentOn('n1') }, hep(undefined), null).allowed, false);
    assert.equal(admit({ operation: 'DELETE', userInfo: agentOn('n1') }, null, hep(undefined)).allowed, false);
    assert.equal(admit({ operation: 'CREATE', userInfo: agentOn('n1') }, { metadata: { name: 'x' } }, null).allowed, false, 'no spec at all');
  });

  test('the agent without the node-name extra is denied everything (a legacy or non-pod-bound token)', () => {
    const cases: Record<string, unknown>[] = [
      { username: AGENT },
      { username: AGENT, extra: {} },
      { username: AGENT, extra: { 'authentication.kubernetes.io/pod-name': ['p'] } },
      { username: AGENT, extra: { [NODE_NAME_EXTRA]: [] } },
      { username: AGENT, extra: { [NODE_NAME_EXTRA]: ['n1', 'n2'] } },
      { username: AGENT, extra: { [NODE_NAME_EXTRA]: [''] } },
    ];
    for (const userInfo of cases) {
      for (const [op, obj, old] of [['CREATE', hep('n1'), null], ['UPDATE', hep('n1'), hep('n1')], ['DELETE', null, hep('n1')]] as const) {
        const d = admit({ operation: op, userInfo }, obj, old);
        assert.equal(d.allowed, false, `${op} with ${JSON.stringify(userInfo)}`);
      }
    }
    const d = admit({ operation: 'CREATE', userInfo: { username: AGENT } }, hep(''), null);
    assert.equal(d.allowed, false, 'an empty node name never equals a missing one');
    assert.match((d as { message: string }).message, /pod-bound service account token/);
  });

  test('other users are not affected: admins, controllers, a same-named account elsewhere', () => {
    const others = [
      { username: 'kubernetes-admin', groups: ['system:masters'] },
      { username: 'system:serviceaccount:kube-system:generic-garbage-collector' },
      { username: 'system:serviceaccount:other:calico-hep-agent', extra: { [NODE_NAME_EXTRA]: ['n9'] } },
      { username: 'system:node:n1' },
    ];
    for (const userInfo of others) {
      assert.deepEqual(admit({ operation: 'DELETE', userInfo }, null, hep('n2')), { allowed: true, applied: false }, userInfo.username);
      assert.deepEqual(admit({ operation: 'CREATE', userInfo }, hep('n2'), null), { allowed: true, applied: false }, userInfo.username);
    }
  });
});
