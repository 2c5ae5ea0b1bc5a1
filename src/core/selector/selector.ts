// The public face of a parsed selector: parse once, then match cheaply for every (policy, HEP) pair.

import type { Labels } from '../model.ts';
import { nodeLabelKeys, nodeToString, type SelectorNode } from './ast.ts';
import { compile, type Predicate } from './evaluate.ts';
import { parseSelectorNode } from './parser.ts';

export interface Selector {
  /** The parsed tree (frozen). */
  readonly ast: SelectorNode;
  /** True when the labels satisfy the selector. Only own properties of `labels` count as labels. */
  matches(labels: Labels): boolean;
  /** Canonical text, identical to Calico's `String()`; equal selectors text give equal trees. */
  toString(): string;
  /** Every label key the selector reads, sorted, each once. */
  labelKeys(): readonly string[];
  /**
   * True when the selector is literally `all()` (also the empty selector, `(all())`, `!!all()`).
   * A syntactic test: `has(a) || !has(a)` always matches too, but is not reported.
   */
  isAll(): boolean;
}

class ParsedSelector implements Selector {
  readonly ast: SelectorNode;
  readonly #predicate: Predicate;
  #text: string | undefined;
  #keys: readonly string[] | undefined;

  constructor(ast: SelectorNode) {
    this.ast = ast;
    this.#predicate = compile(ast);
  }

  matches(labels: Labels): boolean {
    return this.#predicate(labels);
  }

  toString(): string {
    return (this.#text ??= nodeToString(this.ast));
  }

  labelKeys(): readonly string[] {
    return (this.#keys ??= Object.freeze(nodeLabelKeys(this.ast)));
  }

  isAll(): boolean {
    return this.ast.kind === 'all';
  }
}

/**
 * Parses a Calico selector. Throws SelectorError (with the 0-based `position`) when the text is not a
 * selector Calico would accept. An empty or blank selector is `all()`.
 */
export function parseSelector(text: string): Selector {
  return new ParsedSelector(parseSelectorNode(text));
}
