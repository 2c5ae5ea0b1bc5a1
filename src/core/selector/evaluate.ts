// Turns a selector tree into a closure once, so matching a selector against many label sets does no
// tree dispatch: each node becomes a small function specialised to its operator and constants.

import type { Labels } from '../model.ts';
import type { SelectorNode } from './ast.ts';

export type Predicate = (labels: Labels) => boolean;

const always: Predicate = () => true;

/** The label's value, or undefined when absent. Own properties only: `constructor` is not a label. */
function get(labels: Labels, key: string): string | undefined {
  return Object.hasOwn(labels, key) ? labels[key] : undefined;
}

export function compile(node: SelectorNode): Predicate {
  switch (node.kind) {
    // Calico evaluates global() as true; the namespace restriction it implies never excludes a
    // HostEndpoint, which is not namespaced.
    case 'all':
    case 'global':
      return always;
    case 'has': {
      const { label } = node;
      return (l) => Object.hasOwn(l, label);
    }
    case 'eq': {
      const { label, value } = node;
      return (l) => get(l, label) === value;
    }
    case 'ne': {
      // True when the label is absent, as in Calico.
      const { label, value } = node;
      return (l) => get(l, label) !== value;
    }
    case 'contains': {
      const { label, value } = node;
      return (l) => get(l, label)?.includes(value) ?? false;
    }
    case 'startsWith': {
      const { label, value } = node;
      return (l) => get(l, label)?.startsWith(value) ?? false;
    }
    case 'endsWith': {
      const { label, value } = node;
      return (l) => get(l, label)?.endsWith(value) ?? false;
    }
    case 'in': {
      const { label } = node;
      const set = new Set(node.values);
      return (l) => {
        const v = get(l, label);
        return v !== undefined && set.has(v);
      };
    }
    case 'notIn': {
      // True when the label is absent, as in Calico.
      const { label } = node;
      const set = new Set(node.values);
      return (l) => {
        const v = get(l, label);
        return v === undefined || !set.has(v);
      };
    }
    case 'not': {
      const inner = compile(node.operand);
      return (l) => !inner(l);
    }
    case 'and': {
      const ops = node.operands.map(compile);
      if (ops.length === 2) {
        const [a, b] = ops as [Predicate, Predicate];
        return (l) => a(l) && b(l);
      }
      return (l) => {
        for (const op of ops) if (!op(l)) return false;
        return true;
      };
    }
    case 'or': {
      const ops = node.operands.map(compile);
      if (ops.length === 2) {
        const [a, b] = ops as [Predicate, Predicate];
        return (l) => a(l) || b(l);
      }
      return (l) => {
        for (const op of ops) if (op(l)) return true;
        return false;
      };
    }
  }
}
