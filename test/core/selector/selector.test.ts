import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_LABEL_LENGTH, nodeLabelKeys, nodeToString, parseSelector, quoteLiteral, SelectorError } from '../../../src/core/selector/index.ts';

type Labels = Record<string, string>;

// [selector, labels it matches, labels it does not match]
const MATCH_TABLE: ReadonlyArray<readonly [string, Labels[], Labels[]]> = [
  // ==
  [`a == "b"`, [{ a: 'b' }, { a: 'b', c: 'd' }], [{}, { a: 'c' }, { c: 'd' }, { a: 'B' }, { a: 'b ' }]],
  [`a == 'b'`, [{ a: 'b' }], [{ a: 'bb' }]],
  [`a == ""`, [{ a: '' }], [{}, { a: 'x' }]],
  [`a=="b"`, [{ a: 'b' }], [{}]],
  // != is true when the label is absent
  [`a != "b"`, [{}, { a: 'c' }, { a: '' }, { c: 'b' }], [{ a: 'b' }]],
  [`a!='"'`, [{}, { a: "'" }], [{ a: '"' }]],
  // contains / starts with / ends with: false when absent
  [`a contains "a"`, [{ a: 'a' }, { a: 'bab' }, { a: 'aaa', b: 'c' }], [{}, { a: 'b' }, { b: 'aaa' }]],
  [`a contains ""`, [{ a: '' }, { a: 'x' }], [{}]],
  [`a contains"x"`, [{ a: 'yxy' }], [{ a: 'y' }]],
  [`a starts with "a"`, [{ a: 'a' }, { a: 'abb' }], [{}, { a: 'b' }, { a: 'baa' }, { b: 'aaa' }]],
  [`a startswith "a"`, [{ a: 'ab' }], [{ a: 'ba' }]],
  [`a starts \t with "a"`, [{ a: 'ab' }], [{ a: 'ba' }]],
  [`a ends with "a"`, [{ a: 'a' }, { a: 'bba' }], [{}, { a: 'b' }, { a: 'aab' }, { b: 'aaa' }]],
  [`a endswith "a"`, [{ a: 'ba' }], [{ a: 'ab' }]],
  // in / not in
  [`a in {"'", '"', "c"}`, [{ a: 'c' }, { a: '"' }, { a: "'" }], [{}, { a: 'e' }, { a: `'"` }]],
  [`a not in {"'", '"', "c"}`, [{}, { a: 'e' }], [{ a: 'c' }, { a: '"' }, { a: "'" }]],
  [`a notin {"c"}`, [{ a: 'd' }], [{ a: 'c' }]],
  [`a not  in {"c"}`, [{ a: 'd' }], [{ a: 'c' }]],
  [`a in {}`, [], [{}, { a: '' }, { a: 'x' }]],
  [`a not in {}`, [{}, { a: 'x' }], []],
  [`a in {"x",}`, [{ a: 'x' }], [{ a: '' }]],
  [`a in{"x","y"}`, [{ a: 'y' }], [{ a: 'z' }]],
  [`!a in {"a"}`, [{}, { a: 'b' }], [{ a: 'a' }]],
  // has
  [`has(a)`, [{ a: 'b' }, { a: '' }], [{}, { b: 'a' }]],
  [`has( a )`, [{ a: 'b' }], [{}]],
  [`!has(a)`, [{}, { b: 'b' }], [{ a: 'b' }]],
  [`! has(a)`, [{}], [{ a: '' }]],
  [`!!has(b)`, [{ b: '' }], [{ a: 'b' }]],
  [`!!!has(a)`, [{}], [{ a: 'b' }]],
  [`!! ! has(a)`, [{}], [{ a: 'b' }]],
  [`has(calico/k8s_NS-.1/role)`, [{ 'calico/k8s_NS-.1/role': 'x' }], [{ 'calico/k8s_ns-.1/role': 'x' }]],
  // all(), global(), empty
  [``, [{}, { a: 'b' }], []],
  [` \t `, [{}, { a: 'b' }], []],
  [`all()`, [{}, { a: 'b' }], []],
  [`all( )`, [{}], []],
  [`!all()`, [], [{}, { a: 'b' }]],
  [`global()`, [{}, { a: 'b' }], []],
  [`!global()`, [], [{}]],
  // keywords are label keys unless followed by their syntax
  [`all == "x"`, [{ all: 'x' }], [{}]],
  [`contains contains "contains"`, [{ contains: 'a contains b' }], [{ contains: 'x' }]],
  [`in in {"in"}`, [{ in: 'in' }], [{ in: 'x' }]],
  [`has == "x"`, [{ has: 'x' }], [{}]],
  [`global.example/x == "y"`, [{ 'global.example/x': 'y' }], [{}]],
  // label keys with every allowed character
  [`calico/k8s_ns == "kube-system" && k8s-app == "kube-dns"`, [{ 'calico/k8s_ns': 'kube-system', 'k8s-app': 'kube-dns' }], [{ 'k8s-app': 'kube-dns' }]],
  [`projectcalico.org/name == "eth0"`, [{ 'projectcalico.org/name': 'eth0' }], [{ 'projectcalico.org/name': 'eth1' }]],
  // and / or / not and precedence: || lowest, then &&, then !
  [`a == "b" && c == "d"`, [{ a: 'b', c: 'd' }], [{}, { a: 'b', c: 'e' }, { a: 'c', c: 'd' }, { a: 'b' }]],
  [`a == "b" || c == "d"`, [{ a: 'b', c: 'd' }, { a: 'b' }, { c: 'd' }], [{}, { a: 'e', c: 'e' }]],
  [`has(a) || has(b) && has(c)`, [{ a: '' }, { b: '', c: '' }], [{ b: '' }, { c: '' }, {}]],
  [
    `(has(a) || has(b)) && has(c)`,
    [
      { a: '', c: '' },
      { b: '', c: '' },
    ],
    [{ a: '' }, { b: '' }],
  ],
  [`has(a) && has(b) || has(c)`, [{ a: '', b: '' }, { c: '' }], [{ a: '' }, { b: '' }]],
  [`!has(a) && has(b)`, [{ b: '' }], [{ a: '', b: '' }, {}]],
  [`!(has(a) && has(b))`, [{}, { a: '' }, { b: '' }], [{ a: '', b: '' }]],
  [`!has(a) || has(b)`, [{}, { a: '', b: '' }, { b: '' }], [{ a: '' }]],
  [`! a == 'a1' || ! b == 'b1'`, [{}, { a: 'a1' }], [{ a: 'a1', b: 'b1' }]],
  [`a != 'a1' && !b == 'b1'`, [{}], [{ a: 'a1', b: 'b1' }, { b: 'b1' }]],
  [`!(!has(a) || has(b))`, [{ a: 'a' }], [{}, { a: '', b: '' }]],
  [`((((has(a)))))`, [{ a: '' }], [{}]],
  [`has(a)&&has(b)||has(c)`, [{ c: '' }], [{ a: '' }]],
  [`has(a) && has(b) && has(c) && has(d)`, [{ a: '', b: '', c: '', d: '' }], [{ a: '', b: '', c: '' }]],
  [`has(a) || has(b) || has(c) || has(d)`, [{ d: '' }], [{ e: '' }]],
  // quoting: no escapes, the other quote is an ordinary character, so is a backslash
  [`a == "it's"`, [{ a: "it's" }], [{ a: 'its' }]],
  [`a == 'say "hi"'`, [{ a: 'say "hi"' }], [{ a: 'say hi' }]],
  [`a == "back\\slash"`, [{ a: 'back\\slash' }], [{ a: 'backslash' }]],
  [`a == "&& || ! ( ) { } ,"`, [{ a: '&& || ! ( ) { } ,' }], [{}]],
  [`a == "héllo 😀"`, [{ a: 'héllo 😀' }], [{ a: 'hello' }]],
  // only own properties are labels
  [`has(constructor)`, [{ constructor: 'x' }], [{}]],
  [`has(toString) || has(__proto__)`, [JSON.parse('{"__proto__": "x"}') as Labels], [{}]],
  [`constructor != "x"`, [{}], [{ constructor: 'x' }]],
  [`hasOwnProperty not in {"x"}`, [{}], [{ hasOwnProperty: 'x' }]],
];

describe('parseSelector: matching', () => {
  for (const [text, yes, no] of MATCH_TABLE) {
    it(`${JSON.stringify(text)}`, () => {
      const sel = parseSelector(text);
      const again = parseSelector(sel.toString());
      for (const labels of yes) {
        assert.equal(sel.matches(labels), true, `should match ${JSON.stringify(labels)}`);
        assert.equal(again.matches(labels), true, `canonical form should match ${JSON.stringify(labels)}`);
      }
      for (const labels of no) {
        assert.equal(sel.matches(labels), false, `should not match ${JSON.stringify(labels)}`);
        assert.equal(again.matches(labels), false, `canonical form should not match ${JSON.stringify(labels)}`);
      }
    });
  }

  it('treats labels with a null prototype like any other', () => {
    const labels = Object.assign(Object.create(null) as Labels, { a: 'b' });
    assert.equal(parseSelector('a == "b" && !has(c)').matches(labels), true);
  });
});

// Canonical text is what Calico's String() prints (cases from libcalico-go's parser tests and more).
const CANONICAL: ReadonlyArray<readonly [string, string]> = [
  ['', 'all()'],
  [' all() ', 'all()'],
  [' (all() )', 'all()'],
  ['!!all()', 'all()'],
  ['global()', 'global()'],
  ['! (has( b)||! has(a ))', '!(has(b) || !has(a))'],
  ['! (a == "b"&&! c != "d")', '!(a == "b" && !c != "d")'],
  [`a == "'"`, `a == "'"`],
  [`a == '"'`, `a == '"'`],
  [`a == 'b'`, `a == "b"`],
  [`a contains '"'`, `a contains '"'`],
  [`a contains "'"`, `a contains "'"`],
  [`a startswith '"'`, `a starts with '"'`],
  [`a endswith "'"`, `a ends with "'"`],
  [`a!='"'`, `a != '"'`],
  [`a notin{'x'}`, `a not in {"x"}`],
  [`a in {"d"}`, `a in {"d"}`],
  [`a in {"d", "a", "b"}`, `a in {"a", "b", "d"}`],
  [`a in {"z", "z", "x", "y", "x", "a",}`, `a in {"a", "x", "y", "z"}`],
  [`a in {'"', "'"}`, `a in {'"', "'"}`],
  [`a in {}`, `a in {}`],
  // Go compares strings bytewise (UTF-8), i.e. by code point: U+FF5E sorts before U+1F600.
  [`a in {"😀", "～", "b"}`, `a in {"b", "～", "😀"}`],
  ['has(a) && has(b) && has(c)', '(has(a) && has(b) && has(c))'],
  ['has(a) || has(b) && has(c)', '(has(a) || (has(b) && has(c)))'],
  ['(has(a) && has(b)) && has(c)', '((has(a) && has(b)) && has(c))'],
  ['!(k == "v")', '!k == "v"'],
  [`!(!(k == 'v' && has(t) || all()) && (a in {'b', 'c'}))`, `!(!((k == "v" && has(t)) || all()) && a in {"b", "c"})`],
];

describe('parseSelector: canonical text', () => {
  for (const [input, expected] of CANONICAL) {
    it(`${JSON.stringify(input)} -> ${expected}`, () => {
      const sel = parseSelector(input);
      assert.equal(sel.toString(), expected);
      assert.equal(String(sel), expected);
      assert.equal(parseSelector(expected).toString(), expected, 'canonical text is a fixpoint');
      assert.deepEqual(parseSelector(expected).ast, sel.ast);
    });
  }

  it('prints a double negation inside parentheses as Calico does, and settles after one round trip', () => {
    const sel = parseSelector('!(!has(a))');
    assert.equal(sel.toString(), '!!has(a)');
    assert.equal(parseSelector(sel.toString()).toString(), 'has(a)');
  });
});

// [selector, position, a fragment of the message]
const ERRORS: ReadonlyArray<readonly [string, number, string]> = [
  ['b == b', 5, 'expected a quoted string'],
  ['b contains b', 11, 'expected a quoted string'],
  ['b starts with b', 14, 'expected a quoted string'],
  ['b ends with b', 12, 'expected a quoted string'],
  [`'b1' == b`, 0, 'expected a label key'],
  ['b', 1, "after label key 'b', found end of selector"],
  ['a b', 2, "expected '==', '!=', 'in', 'not in', 'contains', 'starts with' or 'ends with' after label key 'a', found 'b'"],
  ['a ', 2, 'found end of selector'],
  ['!', 1, 'expected a label key'],
  ['foo == "bar" &', 13, "expected '&&', found '&'"],
  ['foo == "bar" |', 13, "expected '||'"],
  ['foo == "bar" & has(x)', 13, "expected '&&'"],
  ['foo != ||', 7, 'expected a quoted string'],
  ['foo in {"", ||', 12, "expected a quoted string or '}'"],
  ['foo in {"" "x"}', 11, "expected ',' or '}'"],
  ['foo in {,}', 8, "expected a quoted string or '}'"],
  ['foo in {"x"', 11, "expected ',' or '}', found end of selector"],
  ['foo in ""', 7, "expected '{'"],
  ['foo in bar', 7, "expected '{'"],
  ['"FOO', 0, 'expected a label key'],
  ['a == "FOO', 5, 'expected a closing " for the string that starts here, found end of selector'],
  [`a == 'FOO"`, 5, "expected a closing ' for the string"],
  ['(', 1, 'found end of selector'],
  ['(a == "foo"', 11, "expected '&&', '||' or ')'"],
  ['(a == "foo" b', 12, "expected '&&', '||' or ')', found 'b'"],
  [')', 0, "found ')'"],
  ['()', 1, "found ')'"],
  ['%', 0, "found '%'"],
  ['a == "b" && %', 12, "found '%'"],
  ['a == "b" || %', 12, "found '%'"],
  ['has(foo) &&', 11, 'found end of selector'],
  ['has(foo) has(bar)', 9, "expected '&&', '||' or end of selector, found 'has'"],
  ['has(foo))', 8, "found ')'"],
  ['has()', 4, 'expected a label key inside has()'],
  ['has(a b)', 6, "expected ')' to close has("],
  ['has(a', 5, "expected ')' to close has(, found end of selector"],
  ['has (a)', 4, "after label key 'has', found '('"],
  ['all(x)', 4, "expected ')' to close all("],
  ['global(', 7, "expected ')' to close global("],
  ['a = "b"', 2, "expected '==', found '='"],
  ['a === "b"', 4, "expected a quoted string (\"...\" or '...'), found '='"],
  ['a starts "x"', 9, "expected 'with' after 'starts'"],
  ['a ends foo "x"', 7, "expected 'with' after 'ends', found 'foo'"],
  ['a not "x"', 6, "expected 'in' after 'not'"],
  ['a squiggles "x"', 2, "found 'squiggles'"],
  ['a == b"', 5, "found 'b'"],
  ['!= "x"', 0, "found '!'"],
  // Calico's whitespace is spaces and tabs only.
  ['a ==\n"b"', 4, "found '\\n'"],
  ['has(a)\r\n', 6, "found '\\r'"],
  ['a\u00a0== "b"', 1, "found '\u00a0'"],
  // Label keys are ASCII letters, digits and _ . / - only.
  ['café == "x"', 3, "found 'é'"],
  ['a:b == "x"', 1, "found ':'"],
];

describe('parseSelector: invalid selectors', () => {
  for (const [input, position, message] of ERRORS) {
    it(`${JSON.stringify(input)} fails at ${position}`, () => {
      assert.throws(
        () => parseSelector(input),
        (err: unknown) => {
          assert.ok(err instanceof SelectorError, `SelectorError, got ${String(err)}`);
          assert.ok(err instanceof Error);
          assert.equal(err.name, 'SelectorError');
          assert.equal(err.position, position, err.message);
          assert.ok(err.message.includes(message), `message ${JSON.stringify(err.message)} lacks ${JSON.stringify(message)}`);
          assert.ok(err.message.startsWith(`invalid selector at position ${position}: expected `));
          assert.equal(err.message, `invalid selector at position ${position}: expected ${err.expected}, found ${err.found}`);
          return true;
        },
      );
    });
  }
});

describe('parseSelector: label key length (libcalico-go/lib/selector/tokenizer/tokenizer.go MaxLabelLength = 512)', () => {
  const k512 = 'k'.repeat(MAX_LABEL_LENGTH);
  const k513 = 'k'.repeat(MAX_LABEL_LENGTH + 1);
  // [selector, accepted]: cutIdentifier refuses an identifier longer than 512 bytes wherever it is read.
  const TABLE: ReadonlyArray<readonly [string, string, boolean]> = [
    ['512-char key in ==', `${k512} == "x"`, true],
    ['513-char key in ==', `${k513} == "x"`, false],
    ['512-char key in has()', `has(${k512})`, true],
    ['513-char key in has()', `has(${k513})`, false],
    ['513-char key after &&', `has(a) && ${k513} in {"x"}`, false],
    ['513-char string literal (values have no limit)', `a == "${'v'.repeat(MAX_LABEL_LENGTH + 1)}"`, true],
  ];
  for (const [name, text, ok] of TABLE) {
    it(`${name}: ${ok ? 'accepted' : 'rejected'}`, () => {
      if (ok) assert.ok(parseSelector(text).matches({ [k512]: 'x', a: 'v'.repeat(MAX_LABEL_LENGTH + 1) }) !== undefined);
      else {
        assert.throws(
          () => parseSelector(text),
          (err: unknown) =>
            err instanceof SelectorError &&
            err.message.includes(`a label key of at most ${MAX_LABEL_LENGTH} characters`) &&
            err.found === `one of ${MAX_LABEL_LENGTH + 1}`,
        );
      }
    });
  }
  it('a 513-char key fails at the start of the key', () => {
    assert.throws(
      () => parseSelector(`has(a) && ${k513} == "x"`),
      (err: unknown) => err instanceof SelectorError && err.position === 10,
    );
  });
});

describe('Selector tooling API', () => {
  it('lists the label keys a selector reads, sorted, once each', () => {
    const sel = parseSelector('b == "1" || !(has(a) && c.io/x in {"y"}) || b starts with "z" || all() || global()');
    assert.deepEqual(sel.labelKeys(), ['a', 'b', 'c.io/x']);
    assert.deepEqual(parseSelector('').labelKeys(), []);
    assert.ok(Object.isFrozen(sel.labelKeys()));
  });

  it('tells whether a selector is all()', () => {
    for (const text of ['', '  ', 'all()', '(all())', '!!all()']) assert.equal(parseSelector(text).isAll(), true, text);
    for (const text of ['global()', '!all()', 'all() || has(a)', 'has(a) || !has(a)']) {
      assert.equal(parseSelector(text).isAll(), false, text);
    }
  });

  it('exposes a frozen tree with the expected shape', () => {
    const sel = parseSelector(`!has(a) && (b in {"y", "x", "y"} || c != 'z') && global()`);
    assert.deepEqual(sel.ast, {
      kind: 'and',
      operands: [
        { kind: 'not', operand: { kind: 'has', label: 'a' } },
        {
          kind: 'or',
          operands: [
            { kind: 'in', label: 'b', values: ['x', 'y'] },
            { kind: 'ne', label: 'c', value: 'z' },
          ],
        },
        { kind: 'global' },
      ],
    });
    assert.ok(Object.isFrozen(sel.ast));
    assert.throws(() => {
      (sel.ast as { kind: string }).kind = 'all';
    }, TypeError);
    assert.equal(nodeToString(sel.ast), sel.toString());
    assert.deepEqual(nodeLabelKeys(sel.ast), ['a', 'b', 'c']);
  });

  it('builds every value operator', () => {
    const kinds = ['==', '!=', 'contains', 'starts with', 'ends with'].map((op) => parseSelector(`k ${op} "v"`).ast.kind);
    assert.deepEqual(kinds, ['eq', 'ne', 'contains', 'startsWith', 'endsWith']);
    assert.equal(parseSelector('k not in {}').ast.kind, 'notIn');
  });

  it('quotes literals as Calico does, and refuses one it cannot write', () => {
    assert.equal(quoteLiteral('x'), '"x"');
    assert.equal(quoteLiteral(`it's`), `"it's"`);
    assert.equal(quoteLiteral('"q"'), `'"q"'`);
    assert.throws(() => quoteLiteral(`'"`), RangeError);
  });

  it('accepts deep nesting up to a limit, then fails with a SelectorError instead of overflowing the stack', () => {
    const nest = (n: number) => '('.repeat(n) + 'has(a)' + ')'.repeat(n);
    assert.equal(parseSelector(nest(1000)).matches({ a: '' }), true);
    assert.throws(
      () => parseSelector(nest(100_000)),
      (err: unknown) => {
        assert.ok(err instanceof SelectorError);
        assert.equal(err.position, 1000);
        assert.match(err.message, /expected at most 1000 nested parentheses, found '\('/);
        return true;
      },
    );
    assert.equal(parseSelector('!'.repeat(100_001) + 'has(a)').matches({ a: '' }), false);
  });

  it('parses a long flat selector without deep recursion', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `k${i} == "v"`).join(' || ');
    const sel = parseSelector(text);
    assert.equal(sel.matches({ k4999: 'v' }), true);
    assert.equal(sel.matches({ k5000: 'v' }), false);
    assert.equal(sel.labelKeys().length, 5000);
  });
});
