// Calico label selectors: parsing, matching, canonical text. Pure: no I/O.
export { parseSelector, type Selector } from './selector.ts';
export { MAX_LABEL_LENGTH, SelectorError } from './parser.ts';
export { nodeLabelKeys, nodeToString, quoteLiteral, type SelectorNode, type SetOp, type ValueOp } from './ast.ts';
