// Unit tests of the pure pieces: selectors, patch formats, server-side apply, admission.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leafPaths, serverSideApply, recordUpdate } from './apply.ts';
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.ts';
import { calicoTypes } from './resources.ts';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.ts';
import { ApiError } from './status.ts';
import type { KubeObject } from './store.ts';
import { Store } from './store.ts';
import { admit } from './validation.ts';

const code = (fn: () => unknown) => {
  try {
    fn();
    return 0;
  } catch (e) {
    return (e as ApiError).code;
  }
};

describe('label selectors', () => {
  const L = { app: 'agent', tier: 'node', 'example.com/iface': 'eth0' };
  const m = (s: string, l: Record<string, string> | undefined = L) => matchesLabels(parseLabelSelector(s), l);
  it('supports =, ==, !=, in, notin, exists, !key and conjunctions', () => {
    assert.equal(m('app=agent'), true);
    assert.equal(m('app==agent'), true);
    assert.equal(m('app!=agent'), false);
    assert.equal(m('missing!=x'), true, 'a missing label satisfies !=');
    assert.equal(m('tier in (node, master)'), true);
    assert.equal(m('tier notin (node)'), false);
    assert.equal(m('missing notin (node)'), true);
    assert.equal(m('example.com/iface'), true);
    assert.equal(m('!example.com/iface'), false);
    assert.equal(m('!missing'), true);
    assert.equal(m('app=agent,tier in (node,x),!missing'), true);
    assert.equal(m('app=agent,tier=x'), false);
    assert.equal(m(''), true);
    assert.equal(matchesLabels(parseLabelSelector('app'), undefined), false);
  });
  it('rejects malformed selectors with 400', () => {
    for (const s of ['app in ()', 'a=b=c', '=x', 'app in (a', 'Bad Key=1', 'x=' + 'v'.repeat(64)]) {
      assert.equal(
        code(() => parseLabelSelector(s)),
        400,
        s,
      );
    }
  });
});

describe('field selectors', () => {
  const o = { metadata: { name: 'a', namespace: 'ns' } };
  it('matches metadata.name / metadata.namespace and refuses other fields with 400', () => {
    assert.equal(matchesFields(parseFieldSelector('metadata.name=a', ['metadata.name']), o), true);
    assert.equal(matchesFields(parseFieldSelector('metadata.name!=a', ['metadata.name']), o), false);
    assert.equal(matchesFields(parseFieldSelector('metadata.name==a,metadata.namespace=ns', ['metadata.name', 'metadata.namespace']), o), true);
    assert.equal(
      code(() => parseFieldSelector('spec.node=n1', ['metadata.name'])),
      400,
    );
  });
});

describe('patch formats', () => {
  it('merge patch (RFC 7386): null deletes, objects merge, arrays replace', () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, l: [1, 2] }, { b: { c: null, e: 4 }, l: [3] }), { a: 1, b: { d: 3, e: 4 }, l: [3] });
  });
  it('json patch (RFC 6902) incl. test, and 422 when an op does not apply', () => {
    const doc = { metadata: { labels: { a: 'x' } }, spec: { l: [1] } };
    assert.deepEqual(
      jsonPatch(doc, [
        { op: 'add', path: '/metadata/labels/b~1c', value: 'y' },
        { op: 'add', path: '/spec/l/-', value: 2 },
        { op: 'test', path: '/spec/l/0', value: 1 },
      ]),
      { metadata: { labels: { a: 'x', 'b/c': 'y' } }, spec: { l: [1, 2] } },
    );
    assert.equal(
      code(() => jsonPatch(doc, [{ op: 'remove', path: '/metadata/labels/nope' }])),
      422,
    );
    assert.equal(
      code(() => jsonPatch(doc, [{ op: 'test', path: '/spec/l/0', value: 9 }])),
      422,
    );
    assert.equal(
      code(() => jsonPatch(doc, { not: 'a list' })),
      400,
    );
  });
  it('strategic merge patch merges keyed lists and honours $patch/$deleteFromPrimitiveList', () => {
    const node = {
      metadata: { labels: { a: '1' }, finalizers: ['x'] },
      status: {
        conditions: [
          { type: 'Ready', status: 'False' },
          { type: 'DiskPressure', status: 'False' },
        ],
      },
    };
    const out = strategicMergePatch(node, {
      metadata: { labels: { b: '2' }, $setElementOrder: 'ignored', '$deleteFromPrimitiveList/finalizers': ['x'] },
      status: {
        conditions: [
          { type: 'Ready', status: 'True' },
          { type: 'DiskPressure', $patch: 'delete' },
        ],
      },
    }) as { metadata: { labels: Record<string, string>; finalizers: string[] }; status: { conditions: unknown[] } };
    assert.deepEqual(out.metadata.labels, { a: '1', b: '2' });
    assert.deepEqual(out.metadata.finalizers, []);
    assert.deepEqual(out.status.conditions, [{ type: 'Ready', status: 'True' }]);
  });
});

describe('server-side apply', () => {
  const base: KubeObject = { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } };
  it('owns applied fields, removes fields it stops applying, and reports conflicts unless forced', () => {
    let o = serverSideApply(undefined, { ...base, metadata: { name: 'n', labels: { a: '1', b: '2' } } }, 'agent', false, 'v1');
    assert.deepEqual(o.metadata.labels, { a: '1', b: '2' });
    assert.equal(o.metadata.managedFields?.[0]?.manager, 'agent');
    o = serverSideApply(o, { ...base, metadata: { name: 'n', labels: { a: '1' } } }, 'agent', false, 'v1');
    assert.deepEqual(o.metadata.labels, { a: '1' }, 'b was dropped from the applied config, so it is removed');
    const edited = structuredClone(o);
    edited.metadata.labels = { a: 'changed' };
    recordUpdate(o, edited, 'kubectl-label', 'v1');
    let err: ApiError | undefined;
    try {
      serverSideApply(edited, { ...base, metadata: { name: 'n', labels: { a: '1' } } }, 'agent', false, 'v1');
    } catch (e) {
      err = e as ApiError;
    }
    assert.equal(err?.code, 409);
    assert.equal(err?.status.details?.causes?.[0]?.reason, 'FieldManagerConflict');
    assert.equal(err?.status.details?.causes?.[0]?.field, '.metadata.labels.a');
    const forced = serverSideApply(edited, { ...base, metadata: { name: 'n', labels: { a: '1' } } }, 'agent', true, 'v1');
    assert.equal(forced.metadata.labels?.a, '1');
    assert.equal(
      forced.metadata.managedFields?.some((m) => m.manager === 'kubectl-label'),
      false,
    );
  });
  it('ignores identity metadata in field sets', () => {
    assert.deepEqual([...leafPaths({ apiVersion: 'v1', kind: 'X', metadata: { name: 'n', uid: 'u', labels: { a: 'b' } } })], ['["metadata","labels","a"]']);
  });
});

describe('admission of Calico objects', () => {
  const [hepType, gnpType] = calicoTypes('projectcalico.org/v3');
  const [v1Hep] = calicoTypes('crd.projectcalico.org/v1');
  const run = (spec: unknown, name = 'h1', type = hepType!) => {
    const obj = { apiVersion: 'x', kind: type.kind, metadata: { name }, spec } as KubeObject;
    return { obj, ...admit(obj, type, { create: true, calicoRules: true }) };
  };
  it('accepts a valid HostEndpoint in both groups', () => {
    assert.deepEqual(
      run({ node: 'n1', interfaceName: 'eth0', expectedIPs: ['10.0.0.1', 'fd00::1'], ports: [{ name: 'http', port: 80, protocol: 'TCP' }] }).causes,
      [],
    );
    assert.deepEqual(run({ node: 'n1', interfaceName: '*' }, 'h1', v1Hep).causes, []);
  });
  it('enforces maxLength, CEL rules, Calico interface/IP rules and name syntax', () => {
    const fields = (r: ReturnType<typeof run>) => r.causes.map((c) => `${c.field}|${c.reason}`);
    assert.ok(fields(run({ node: 'n1', interfaceName: 'a-very-long-interface' })).includes('spec.interfaceName|FieldValueTooLong'));
    const cel = run({ interfaceName: 'eth0' });
    assert.ok(
      cel.causes.some((c) => c.field === 'spec' && c.message === 'Invalid value: "object": node must be specified'),
      JSON.stringify(cel.causes),
    );
    assert.ok(run({ node: 'n1' }).causes.some((c) => c.message.includes('at least one of interfaceName or expectedIPs')));
    assert.ok(fields(run({ node: 'n1', interfaceName: 'eth 0' })).includes('spec.interfaceName|FieldValueInvalid'));
    assert.ok(fields(run({ node: 'n1', expectedIPs: ['not-an-ip'] })).includes('spec.expectedIPs[0]|FieldValueInvalid'));
    assert.ok(fields(run({ node: 'n1', expectedIPs: ['10.0.0.1', '10.0.0.1'] })).includes('spec.expectedIPs[1]|FieldValueDuplicate'));
    assert.ok(
      fields(run({ node: 'n1', interfaceName: 'eth0', ports: [{ name: 'p', port: 70000, protocol: 'TCP' }] })).includes('spec.ports[0].port|FieldValueInvalid'),
    );
    assert.ok(fields(run({ node: 'n1', interfaceName: 'eth0' }, 'Bad_Name')).includes('metadata.name|FieldValueInvalid'));
    assert.ok(fields(run({ node: 'n1', interfaceName: 'eth0' }, 'x'.repeat(254))).includes('metadata.name|FieldValueInvalid'));
  });
  it('prunes unknown fields (reporting them) and drops non-nullable nulls instead of rejecting', () => {
    const r = run({ node: 'n1', interfaceName: 'eth0', bogus: 1, profiles: null });
    assert.deepEqual(r.causes, []);
    assert.deepEqual(r.unknownFields, ['spec.bogus']);
    assert.deepEqual(r.obj.spec, { node: 'n1', interfaceName: 'eth0' });
  });
  it('evaluates GlobalNetworkPolicy CEL rules and applies schema defaults', () => {
    const r = run({ selector: 'all()', preDNAT: true, doNotTrack: true, applyOnForward: true }, 'p', gnpType);
    assert.ok(
      r.causes.some((c) => c.reason === 'FieldValueForbidden' && c.message.includes('preDNAT and doNotTrack cannot both be true')),
      JSON.stringify(r.causes),
    );
    const ok = run({ selector: 'all()', ingress: [{ action: 'Allow', protocol: 'TCP', destination: { ports: [22] } }] }, 'p', gnpType);
    assert.deepEqual(ok.causes, []);
    assert.equal((ok.obj.spec as { tier?: unknown }).tier, 'default', 'schema default applied');
  });
});

describe('store', () => {
  it('keeps one global resourceVersion, rebuilds snapshots and answers 410 once compacted', () => {
    const s = new Store(10);
    const a = s.commit('ADDED', 'nodes', { metadata: { name: 'a' } });
    const rvA = Number(a.metadata.resourceVersion);
    s.commit('ADDED', 'hostendpoints.projectcalico.org', { metadata: { name: 'h' } });
    s.commit('MODIFIED', 'nodes', { metadata: { name: 'a', labels: { x: 'y' } } });
    assert.equal(s.resourceVersion, rvA + 2);
    assert.deepEqual(s.snapshot('nodes', rvA)[0]?.metadata.labels, undefined);
    assert.equal(s.eventsSince(rvA).length, 2);
    s.compact();
    assert.equal(
      code(() => s.eventsSince(rvA)),
      410,
    );
    for (let i = 0; i < 20; i++) s.commit('MODIFIED', 'nodes', { metadata: { name: 'a', labels: { i: String(i) } } });
    assert.equal(
      code(() => s.eventsSince(s.resourceVersion - 15)),
      410,
      'history is bounded',
    );
  });

  it('filters before copying: a selective list or snapshot reads every object but copies only the matches, in key order', () => {
    const s = new Store(100);
    for (const n of ['c', 'a', 'b', 'd']) s.commit('ADDED', 'nodes', { metadata: { name: n, labels: { keep: n === 'd' ? 'no' : 'yes' } } });
    const rv = s.resourceVersion;
    s.commit('MODIFIED', 'nodes', { metadata: { name: 'a', labels: { keep: 'no' } } });
    const seen: string[] = [];
    const keep = (o: KubeObject) => {
      seen.push(o.metadata.name!);
      return o.metadata.labels?.['keep'] === 'yes';
    };
    assert.deepEqual(
      s.list('nodes', undefined, keep).map((o) => o.metadata.name),
      ['b', 'c'],
    );
    assert.equal(seen.length, 4, 'the predicate sees each stored object once');
    assert.deepEqual(
      s.snapshot('nodes', rv, keep).map((o) => o.metadata.name),
      ['a', 'b', 'c'],
      'the snapshot filters the state at rv',
    );
    // select hands out the stored objects themselves (no copy); list and snapshot hand out copies.
    const stored = s.select('nodes', undefined, keep);
    assert.equal(stored[0], s.select('nodes', undefined, keep)[0]);
    const copy = s.list('nodes', undefined, keep)[0]!;
    copy.metadata.labels = { keep: 'mutated' };
    assert.equal(s.get('nodes', 'b')?.metadata.labels?.['keep'], 'yes', 'mutating a listed copy leaves the store alone');
  });
});
