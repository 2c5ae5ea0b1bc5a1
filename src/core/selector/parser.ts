// A recursive-descent parser for Calico's selector language. It accepts exactly what Calico's own
// tokenizer and parser (libcalico-go/lib/selector) accept and builds the same tree:
//
//   selector  := ws* | or
//   or        := and ('||' and)*                     lowest precedence
//   and       := unary ('&&' unary)*
//   unary     := '!'* primary                        an even number of '!' cancels out
//   primary   := '(' or ')' | 'has(' key ')' | 'all(' ')' | 'global(' ')'
//              | key ('==' | '!=' | 'contains' | 'starts with' | 'ends with') literal
//              | key ('in' | 'not in') '{' (literal (',' literal)* ','?)? '}'
//   key       := [A-Za-z0-9_./-]{1,512}           longer keys are refused, as Calico's tokenizer does
//   literal   := '"' [^"]* '"' | "'" [^']* "'"     no escapes; values are never bare words
//
// Whitespace is spaces and tabs only (Calico rejects newlines). `has(`, `all(` and `global(` take no
// space before the parenthesis, but may have spaces inside it. `starts with`, `ends with` and `not in`
// may be written with any amount of space between the words, none included: `startswith`, `notin`.
// The operator words after a key are matched as prefixes, as Calico's tokenizer does (`a contains"x"`).

import { compareCodePoints, type SelectorNode, type ValueOp } from './ast.ts';

/** A selector that does not parse. `position` is the 0-based index in the text where parsing stopped. */
export class SelectorError extends Error {
  override readonly name = 'SelectorError';
  readonly position: number;
  /** What the parser wanted at `position`, e.g. `a quoted string`. */
  readonly expected: string;
  /** What it found there, e.g. `'b'` or `end of selector`. */
  readonly found: string;

  constructor(position: number, expected: string, found: string) {
    super(`invalid selector at position ${position}: expected ${expected}, found ${found}`);
    this.position = position;
    this.expected = expected;
    this.found = found;
  }
}

/** Deeper nesting than this is refused (Calico has no limit; no real selector comes near it). */
export const MAX_NESTING = 1000;

/**
 * The longest label key Calico's tokenizer accepts, in bytes (`MaxLabelLength` in
 * libcalico-go/lib/selector/tokenizer/tokenizer.go: `cutIdentifier` fails with "label too long").
 * Keys are ASCII, so bytes are characters. String literals have no such limit.
 */
export const MAX_LABEL_LENGTH = 512;

const OPERATORS = "'==', '!=', 'in', 'not in', 'contains', 'starts with' or 'ends with'";
const OPERAND = "a label key, 'has(', 'all()', 'global()', '!' or '('";

function isKeyChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x2e || // .
    c === 0x2f || // /
    c === 0x2d // -
  );
}

class Parser {
  readonly text: string;
  pos = 0;
  depth = 0;

  constructor(text: string) {
    this.text = text;
  }

  skipSpace(): void {
    const t = this.text;
    while (this.pos < t.length && (t[this.pos] === ' ' || t[this.pos] === '\t')) this.pos++;
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  startsWith(s: string): boolean {
    return this.text.startsWith(s, this.pos);
  }

  /** A short description of what is at `pos`, for error messages. */
  found(pos = this.pos): string {
    const t = this.text;
    if (pos >= t.length) return 'end of selector';
    let end = pos;
    while (end < t.length && isKeyChar(t.charCodeAt(end))) end++;
    if (end === pos) {
      const ch = String.fromCodePoint(t.codePointAt(pos) ?? 0);
      if (ch === "'") return `"'"`;
      const code = ch.charCodeAt(0);
      // Control characters (a newline, say) are shown escaped.
      if (code < 0x20 || code === 0x7f) {
        return code === 0x0a ? `'\\n'` : code === 0x0d ? `'\\r'` : `'\\u${code.toString(16).padStart(4, '0')}'`;
      }
      return `'${ch}'`;
    }
    return `'${t.slice(pos, end)}'`;
  }

  fail(expected: string, pos = this.pos): never {
    throw new SelectorError(pos, expected, this.found(pos));
  }

  parseSelector(): SelectorNode {
    this.skipSpace();
    if (this.atEnd()) return { kind: 'all' };
    const node = this.parseOr();
    // parseOr stops at anything that is not '||' or '&&'; only the end of the text is acceptable here.
    if (!this.atEnd()) this.failAfterOperand("'&&', '||' or end of selector");
    return node;
  }

  /** After a complete operand, a lone '&', '|' gets a precise message; anything else `expected`. */
  failAfterOperand(expected: string): never {
    if (this.startsWith('&')) this.fail("'&&'");
    if (this.startsWith('|')) this.fail("'||'");
    this.fail(expected);
  }

  parseOr(): SelectorNode {
    const first = this.parseAnd();
    const operands = [first];
    for (;;) {
      this.skipSpace();
      if (!this.startsWith('||')) break;
      this.pos += 2;
      operands.push(this.parseAnd());
    }
    return operands.length === 1 ? first : { kind: 'or', operands };
  }

  parseAnd(): SelectorNode {
    const first = this.parseUnary();
    const operands = [first];
    for (;;) {
      this.skipSpace();
      if (!this.startsWith('&&')) break;
      this.pos += 2;
      operands.push(this.parseUnary());
    }
    return operands.length === 1 ? first : { kind: 'and', operands };
  }

  parseUnary(): SelectorNode {
    let negated = false;
    for (;;) {
      this.skipSpace();
      // '!=' is the not-equal operator, never a negation (Calico tokenizes it first).
      if (this.startsWith('!') && !this.startsWith('!=')) {
        negated = !negated;
        this.pos++;
      } else {
        break;
      }
    }
    const operand = this.parsePrimary();
    return negated ? { kind: 'not', operand } : operand;
  }

  parsePrimary(): SelectorNode {
    this.skipSpace();
    if (this.startsWith('(')) {
      // Bound the recursion so hostile input gets a SelectorError rather than a stack overflow.
      if (++this.depth > MAX_NESTING) this.fail(`at most ${MAX_NESTING} nested parentheses`);
      this.pos++;
      const inner = this.parseOr();
      this.depth--;
      this.skipSpace();
      if (!this.startsWith(')')) this.failAfterOperand("'&&', '||' or ')'");
      this.pos++;
      return inner;
    }
    if (this.startsWith('has(')) {
      this.pos += 4;
      this.skipSpace();
      const label = this.readKey();
      if (label === '') this.fail('a label key inside has()');
      this.skipSpace();
      if (!this.startsWith(')')) this.fail("')' to close has(");
      this.pos++;
      return { kind: 'has', label };
    }
    if (this.startsWith('all(')) {
      this.pos += 4;
      this.closeEmptyCall('all(');
      return { kind: 'all' };
    }
    if (this.startsWith('global(')) {
      this.pos += 7;
      this.closeEmptyCall('global(');
      return { kind: 'global' };
    }
    const label = this.readKey();
    if (label === '') this.fail(OPERAND);
    return this.parseComparison(label);
  }

  closeEmptyCall(call: string): void {
    this.skipSpace();
    if (!this.startsWith(')')) this.fail(`')' to close ${call}`);
    this.pos++;
  }

  readKey(): string {
    const start = this.pos;
    const t = this.text;
    while (this.pos < t.length && isKeyChar(t.charCodeAt(this.pos))) this.pos++;
    if (this.pos - start > MAX_LABEL_LENGTH) {
      throw new SelectorError(start, `a label key of at most ${MAX_LABEL_LENGTH} characters`, `one of ${this.pos - start}`);
    }
    return t.slice(start, this.pos);
  }

  parseComparison(label: string): SelectorNode {
    this.skipSpace();
    const opPos = this.pos;
    let op: ValueOp | 'in' | 'notIn';
    if (this.startsWith('==')) {
      op = 'eq';
      this.pos += 2;
    } else if (this.startsWith('!=')) {
      op = 'ne';
      this.pos += 2;
    } else if (this.startsWith('=')) {
      this.fail("'=='");
    } else if (this.startsWith('contains')) {
      op = 'contains';
      this.pos += 8;
    } else if (this.startsWith('starts')) {
      this.pos += 6;
      this.expectWith('starts');
      op = 'startsWith';
    } else if (this.startsWith('ends')) {
      this.pos += 4;
      this.expectWith('ends');
      op = 'endsWith';
    } else if (this.startsWith('not')) {
      this.pos += 3;
      this.skipSpace();
      if (!this.startsWith('in')) this.fail("'in' after 'not'");
      this.pos += 2;
      op = 'notIn';
    } else if (this.startsWith('in')) {
      op = 'in';
      this.pos += 2;
    } else {
      this.fail(`${OPERATORS} after label key '${label}'`, opPos);
    }
    if (op === 'in' || op === 'notIn') return { kind: op, label, values: this.readSet() };
    return { kind: op, label, value: this.readLiteral() };
  }

  expectWith(word: string): void {
    this.skipSpace();
    if (!this.startsWith('with')) this.fail(`'with' after '${word}'`);
    this.pos += 4;
  }

  /** Reads a quoted literal; returns undefined (consuming nothing) when there is no quote here. */
  tryLiteral(): string | undefined {
    this.skipSpace();
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'") return undefined;
    const close = this.text.indexOf(quote, this.pos + 1);
    if (close === -1) {
      // Point at the opening quote: that is where the user has to look.
      throw new SelectorError(this.pos, `a closing ${quote} for the string that starts here`, 'end of selector');
    }
    const value = this.text.slice(this.pos + 1, close);
    this.pos = close + 1;
    return value;
  }

  readLiteral(): string {
    const value = this.tryLiteral();
    if (value === undefined) this.fail(`a quoted string ("..." or '...')`);
    return value;
  }

  readSet(): string[] {
    this.skipSpace();
    if (!this.startsWith('{')) this.fail("'{' to start a set of quoted strings");
    this.pos++;
    const values: string[] = [];
    let afterValue = false;
    for (;;) {
      const value = this.tryLiteral();
      if (value === undefined) break;
      values.push(value);
      this.skipSpace();
      afterValue = !this.startsWith(',');
      if (afterValue) break;
      this.pos++; // Calico accepts a trailing comma: `{"a",}`.
    }
    this.skipSpace();
    if (!this.startsWith('}')) this.fail(afterValue ? "',' or '}'" : "a quoted string or '}'");
    this.pos++;
    // Calico keeps sets sorted and de-duplicated; that is also their canonical printed form.
    return [...new Set(values)].sort(compareCodePoints);
  }
}

function deepFreeze(node: SelectorNode): SelectorNode {
  switch (node.kind) {
    case 'not':
      deepFreeze(node.operand);
      break;
    case 'and':
    case 'or':
      for (const op of node.operands) deepFreeze(op);
      Object.freeze(node.operands);
      break;
    case 'in':
    case 'notIn':
      Object.freeze(node.values);
      break;
    default:
      break;
  }
  return Object.freeze(node);
}

/** Parses selector text into a frozen tree; throws SelectorError. The empty selector is `all()`. */
export function parseSelectorNode(text: string): SelectorNode {
  return deepFreeze(new Parser(text).parseSelector());
}
