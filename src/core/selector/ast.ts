// The syntax tree of a Calico label selector, and the two things tooling needs from it without evaluating:
// its canonical text and the label keys it reads. Nodes are plain frozen data.

/** Operators that compare one label's value with one literal. */
export type ValueOp = 'eq' | 'ne' | 'contains' | 'startsWith' | 'endsWith';
/** Operators that test one label's value against a set of literals. */
export type SetOp = 'in' | 'notIn';

export type SelectorNode =
  /** `all()`, and what an empty selector means. */
  | { readonly kind: 'all' }
  /** `global()`: true for non-namespaced resources; HostEndpoints are always non-namespaced. */
  | { readonly kind: 'global' }
  /** `has(label)`. */
  | { readonly kind: 'has'; readonly label: string }
  | { readonly kind: ValueOp; readonly label: string; readonly value: string }
  /** `label in {...}` / `label not in {...}`; `values` sorted (by code point) and without duplicates. */
  | { readonly kind: SetOp; readonly label: string; readonly values: readonly string[] }
  | { readonly kind: 'not'; readonly operand: SelectorNode }
  /** At least two operands; the parser never builds one-operand and/or nodes. */
  | { readonly kind: 'and' | 'or'; readonly operands: readonly SelectorNode[] };

const VALUE_OP_TEXT: Readonly<Record<ValueOp, string>> = {
  eq: ' == ',
  ne: ' != ',
  contains: ' contains ',
  startsWith: ' starts with ',
  endsWith: ' ends with ',
};

/**
 * Quotes a literal the way Calico does: double quotes unless the value holds a double quote.
 * Selector literals have no escapes, so a value holding both quote characters cannot be written.
 */
export function quoteLiteral(value: string): string {
  if (!value.includes('"')) return `"${value}"`;
  if (!value.includes("'")) return `'${value}'`;
  throw new RangeError(`a selector literal cannot contain both ' and ": ${value}`);
}

/**
 * The canonical text of a node, byte for byte what Calico's `Selector.String()` prints: single spaces
 * around operators, every and/or group in parentheses, `!` directly before its operand, set members
 * sorted. Parsing the result gives an equivalent selector.
 */
export function nodeToString(node: SelectorNode): string {
  switch (node.kind) {
    case 'all':
      return 'all()';
    case 'global':
      return 'global()';
    case 'has':
      return `has(${node.label})`;
    case 'eq':
    case 'ne':
    case 'contains':
    case 'startsWith':
    case 'endsWith':
      return node.label + VALUE_OP_TEXT[node.kind] + quoteLiteral(node.value);
    case 'in':
    case 'notIn':
      return `${node.label} ${node.kind === 'in' ? 'in' : 'not in'} {${node.values.map(quoteLiteral).join(', ')}}`;
    case 'not':
      return '!' + nodeToString(node.operand);
    case 'and':
    case 'or':
      return `(${node.operands.map(nodeToString).join(node.kind === 'and' ? ' && ' : ' || ')})`;
  }
}

/** Every label key the node reads, sorted by code point, each once. */
export function nodeLabelKeys(node: SelectorNode): string[] {
  const keys = new Set<string>();
  const visit = (n: SelectorNode): void => {
    switch (n.kind) {
      case 'all':
      case 'global':
        return;
      case 'not':
        visit(n.operand);
        return;
      case 'and':
      case 'or':
        for (const op of n.operands) visit(op);
        return;
      default:
        keys.add(n.label);
    }
  };
  visit(node);
  return [...keys].sort(compareCodePoints);
}

/**
 * Orders strings by Unicode code point, which is the byte order of their UTF-8 form: the order Go's
 * string comparison (and so Calico's set canonicalisation) uses. JavaScript's `<` compares UTF-16 code
 * units and disagrees for characters above U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca === cb) continue;
    // Surrogates (U+D800..U+DFFF) encode code points above U+FFFF, so they sort after U+E000..U+FFFF.
    const sa = ca >= 0xd800 && ca <= 0xdfff;
    const sb = cb >= 0xd800 && cb <= 0xdfff;
    if (sa !== sb) return sa ? 1 : -1;
    return ca - cb;
  }
  return a.length - b.length;
}
