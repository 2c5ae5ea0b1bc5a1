// Property tests: random selector trees are written out in random (valid) surface syntax, parsed, and
// compared with an independent reference evaluator written here from Calico's documented semantics.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseSelector, SelectorError, type Selector } from '../../../src/core/selector/index.ts';

type Labels = Record<string, string>;

type Ref =
  | { t: 'all' }
  | { t: 'global' }
  | { t: 'has'; key: string }
  | { t: 'cmp'; op: '==' | '!=' | 'contains' | 'starts' | 'ends'; key: string; value: string }
  | { t: 'set'; not: boolean; key: string; values: string[] }
  | { t: 'not'; x: Ref }
  | { t: 'and' | 'or'; xs: Ref[] };

interface Gen {
  ref: Ref;
  text: string;
}

const KEYS = ['a', 'b', 'k8s-app', 'projectcalico.org/name', 'x_y.z'];
const VALUES = ['', 'x', 'xy', 'yx', 'eth0', "it's", 'say "hi"', 'é', '😀', '&& ||', 'a b'];

function refEval(r: Ref, l: Labels): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(l, k);
  switch (r.t) {
    case 'all':
    case 'global':
      return true;
    case 'has':
      return has(r.key);
    case 'cmp': {
      if (!has(r.key)) return r.op === '!=';
      const v = l[r.key] as string;
      if (r.op === '==') return v === r.value;
      if (r.op === '!=') return v !== r.value;
      if (r.op === 'contains') return v.indexOf(r.value) >= 0;
      if (r.op === 'starts') return v.slice(0, r.value.length) === r.value;
      return r.value.length <= v.length && v.slice(v.length - r.value.length) === r.value;
    }
    case 'set':
      return has(r.key) ? r.values.includes(l[r.key] as string) !== r.not : r.not;
    case 'not':
      return !refEval(r.x, l);
    case 'and':
      return r.xs.every((x) => refEval(x, l));
    case 'or':
      return r.xs.some((x) => refEval(x, l));
  }
}

const ws: fc.Arbitrary<string> = fc.constantFrom('', '', ' ', '  ', '\t');
const ws1: fc.Arbitrary<string> = fc.constantFrom(' ', ' ', '\t', ' \t ');
const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom(...VALUES);

/** A literal in either quote that can hold it. */
const literal = (v: string) =>
  fc.boolean().map((preferSingle) => {
    const q = v.includes('"') ? "'" : v.includes("'") ? '"' : preferSingle ? "'" : '"';
    return q + v + q;
  });

const leaf: fc.Arbitrary<Gen> = fc.oneof(
  fc.tuple(ws, fc.constantFrom('all', 'global')).map(([w, f]): Gen => ({
    ref: { t: f },
    text: `${f}(${w})`,
  })),
  fc.tuple(key, ws, ws).map(([k, w1, w2]): Gen => ({ ref: { t: 'has', key: k }, text: `has(${w1}${k}${w2})` })),
  fc.tuple(key, fc.constantFrom('==', '!=', 'contains', 'starts', 'ends'), value, ws, ws1, fc.constantFrom('', ' ', '\t ')).chain(([k, op, v, w, w1, mid]) =>
    literal(v).map((lit): Gen => {
      let opText: string;
      let before = w;
      if (op === '==' || op === '!=') opText = op;
      else {
        before = w1; // a word operator needs space after the key, or it is part of the key
        opText = op === 'contains' ? 'contains' : `${op}${mid}with`;
      }
      return { ref: { t: 'cmp', op, key: k, value: v }, text: `${k}${before}${opText}${w}${lit}` };
    }),
  ),
  fc
    .tuple(key, fc.boolean(), fc.array(value, { maxLength: 4 }), ws1, fc.constantFrom('', ' ', '  '), fc.boolean(), ws)
    .chain(([k, not, vs, w1, mid, trailingComma, w]) =>
      fc.tuple(...vs.map(literal)).map((lits): Gen => ({
        ref: { t: 'set', not, key: k, values: vs },
        text: `${k}${w1}${not ? `not${mid}in` : 'in'}${w}{${w}${lits.join(`${w},${w}`)}${trailingComma && lits.length > 0 ? ',' : ''}${w}}`,
      })),
    ),
);

const paren = (g: Gen, w: string) => ({ ref: g.ref, text: `(${w}${g.text}${w})` });

const { expr } = fc.letrec<{ expr: Gen; not: Gen; and: Gen; or: Gen }>((tie) => ({
  expr: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('not'), tie('and'), tie('or')),
  not: fc.tuple(tie('expr'), fc.integer({ min: 1, max: 3 }), ws).map(([g, n, w]) => {
    // '!' binds tighter than && and ||: a compound operand needs parentheses.
    const operand = g.ref.t === 'and' || g.ref.t === 'or' ? paren(g, w).text : g.text;
    let ref = g.ref;
    for (let i = 0; i < n; i++) ref = { t: 'not', x: ref };
    return { ref, text: `${'!'.concat(w).repeat(n)}${operand}` };
  }),
  and: fc.tuple(fc.array(fc.tuple(tie('expr'), fc.boolean()), { minLength: 2, maxLength: 3 }), ws).map(([parts, w]) => ({
    ref: { t: 'and', xs: parts.map(([g]) => g.ref) },
    // && binds tighter than ||: an || operand needs parentheses; other parentheses are optional.
    text: parts.map(([g, wrap]) => (wrap || g.ref.t === 'or' ? paren(g, w).text : g.text)).join(`${w}&&${w}`),
  })),
  or: fc.tuple(fc.array(fc.tuple(tie('expr'), fc.boolean()), { minLength: 2, maxLength: 3 }), ws).map(([parts, w]) => ({
    ref: { t: 'or', xs: parts.map(([g]) => g.ref) },
    text: parts.map(([g, wrap]) => (wrap ? paren(g, w).text : g.text)).join(`${w}||${w}`),
  })),
}));

const labels: fc.Arbitrary<Labels> = fc.dictionary(key, value, { maxKeys: 4 });
const labelSets = fc.array(labels, { minLength: 1, maxLength: 8 });

const RUNS = { numRuns: 400 };

function sameOn(a: Selector, b: Selector, sets: Labels[]): void {
  for (const l of sets) assert.equal(a.matches(l), b.matches(l), `${a.toString()} vs ${b.toString()} on ${JSON.stringify(l)}`);
}

describe('selector properties', () => {
  it('matches like the reference evaluator, whatever the spacing, quoting and parentheses', () => {
    fc.assert(
      fc.property(expr, labelSets, (g, sets) => {
        const sel = parseSelector(g.text);
        for (const l of sets) assert.equal(sel.matches(l), refEval(g.ref, l), `${g.text} on ${JSON.stringify(l)}`);
      }),
      RUNS,
    );
  });

  it('!(a) is the negation of a', () => {
    fc.assert(
      fc.property(expr, labels, (g, l) => {
        assert.equal(parseSelector(`!(${g.text})`).matches(l), !parseSelector(g.text).matches(l));
      }),
      RUNS,
    );
  });

  it('a && b implies a, and a implies a || b', () => {
    fc.assert(
      fc.property(expr, expr, labels, (a, b, l) => {
        const sa = parseSelector(a.text).matches(l);
        if (parseSelector(`(${a.text}) && (${b.text})`).matches(l)) assert.equal(sa, true);
        if (sa) assert.equal(parseSelector(`(${a.text}) || (${b.text})`).matches(l), true);
      }),
      RUNS,
    );
  });

  it('&& and || are commutative', () => {
    fc.assert(
      fc.property(expr, expr, labels, (a, b, l) => {
        for (const op of ['&&', '||']) {
          assert.equal(parseSelector(`(${a.text}) ${op} (${b.text})`).matches(l), parseSelector(`(${b.text}) ${op} (${a.text})`).matches(l));
        }
      }),
      RUNS,
    );
  });

  it('parsing the canonical text gives an equivalent selector, and canonical text settles after one round', () => {
    fc.assert(
      fc.property(expr, labelSets, (g, sets) => {
        const sel = parseSelector(g.text);
        const again = parseSelector(sel.toString());
        sameOn(sel, again, sets);
        assert.equal(parseSelector(again.toString()).toString(), again.toString());
        assert.deepEqual(again.labelKeys(), sel.labelKeys());
      }),
      RUNS,
    );
  });

  it('a != v is !(a == v), and a not in S is !(a in S)', () => {
    fc.assert(
      fc.property(key, value, fc.array(value, { maxLength: 3 }), labels, (k, v, vs, l) => {
        const lit = (s: string) => (s.includes('"') ? `'${s}'` : `"${s}"`);
        assert.equal(parseSelector(`${k} != ${lit(v)}`).matches(l), !parseSelector(`${k} == ${lit(v)}`).matches(l));
        const set = `{${vs.map(lit).join(', ')}}`;
        assert.equal(parseSelector(`${k} not in ${set}`).matches(l), !parseSelector(`${k} in ${set}`).matches(l));
        // and `in` is a disjunction of ==
        const ors = vs.length === 0 ? '!all()' : vs.map((x) => `${k} == ${lit(x)}`).join(' || ');
        assert.equal(parseSelector(`${k} in ${set}`).matches(l), parseSelector(ors).matches(l));
      }),
      RUNS,
    );
  });

  it('labelKeys lists exactly the keys whose presence can matter', () => {
    fc.assert(
      fc.property(expr, labels, key, value, (g, l, k, v) => {
        const sel = parseSelector(g.text);
        if (sel.labelKeys().includes(k)) return;
        // Changing a label the selector does not read never changes the answer.
        const changed = { ...l, [k]: v };
        assert.equal(sel.matches(changed), sel.matches(l));
      }),
      RUNS,
    );
  });

  it('any text either parses or fails with a SelectorError inside the text', () => {
    const alphabet = fc.constantFrom(...'ab!&|=(){},"\' \tinotcshawdlg\n%'.split(''), 'has(', 'all()', ' in ', ' not in ', '==', '!=');
    fc.assert(
      fc.property(
        fc.array(alphabet, { maxLength: 30 }).map((parts) => parts.join('')),
        (text) => {
          try {
            const sel = parseSelector(text);
            // Whatever parsed must print as something that parses to the same canonical text.
            assert.equal(parseSelector(sel.toString()).toString(), parseSelector(parseSelector(sel.toString()).toString()).toString());
          } catch (err) {
            assert.ok(err instanceof SelectorError, String(err));
            assert.ok(err.position >= 0 && err.position <= text.length, `${err.position} in ${JSON.stringify(text)}`);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('a valid selector cut short fails at or before the cut', () => {
    fc.assert(
      fc.property(expr, fc.nat(), (g, n) => {
        const cut = g.text.slice(0, n % (g.text.length + 1));
        try {
          parseSelector(cut);
        } catch (err) {
          assert.ok(err instanceof SelectorError);
          assert.ok(err.position <= cut.length);
        }
      }),
      RUNS,
    );
  });
});
