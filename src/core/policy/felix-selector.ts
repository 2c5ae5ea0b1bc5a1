// The selector Felix evaluates for a GlobalNetworkPolicy. Calico (libcalico-go, read at v3.31.6 and
// v3.32.1: libcalico-go/lib/backend/syncersv1/updateprocessors/globalnetworkpolicyprocessor.go,
// ConvertGlobalNetworkPolicyV3ToV1Value, and selectors.go prefixAndAppendSelector) folds a GNP's
// `namespaceSelector` and `serviceAccountSelector` into its `selector` before Felix sees it:
//   1. the namespaceSelector's label names get the prefix `pcns.` (the PrefixVisitor in
//      libcalico-go/lib/selector/parser/ast.go renames every label a has/==/!=/in/not in/contains/
//      starts with/ends with node reads); it is appended as `(<selector>) && <prefixed>`, or stands
//      alone when `selector` is empty; then EVERY `all()` in the combined text (the user's selector
//      included) is replaced by `has(projectcalico.org/namespace)`;
//   2. the same for serviceAccountSelector with `pcsa.` and `has(projectcalico.org/serviceaccount)`.
// A namespaceSelector that does not parse is not appended (the `all()` rewrite still happens).
// Workload endpoints carry `projectcalico.org/namespace` and `pcns.*` labels; a HostEndpoint has none,
// so `namespaceSelector: all()` (or `has(x)`, `x == "v"`) means the GNP never selects a HEP; a
// namespaceSelector true on absent labels (`!has(x)`, `x != "v"`, `x not in {...}`) still can.
import { nodeToString, parseSelector, type SelectorNode } from '../selector/index.ts';

/** libcalico-go/lib/backend/k8s/conversion/constants.go NamespaceLabelPrefix. */
export const NAMESPACE_LABEL_PREFIX = 'pcns.';
/** libcalico-go/lib/backend/k8s/conversion/constants.go ServiceAccountLabelPrefix. */
export const SERVICE_ACCOUNT_LABEL_PREFIX = 'pcsa.';
export const NAMESPACE_LABEL = 'projectcalico.org/namespace';
export const SERVICE_ACCOUNT_LABEL = 'projectcalico.org/serviceaccount';

function prefixNode(node: SelectorNode, prefix: string): SelectorNode {
  switch (node.kind) {
    case 'all':
    case 'global':
      return node;
    case 'not':
      return { kind: 'not', operand: prefixNode(node.operand, prefix) };
    case 'and':
    case 'or':
      return { kind: node.kind, operands: node.operands.map((o) => prefixNode(o, prefix)) };
    default:
      return { ...node, label: prefix + node.label };
  }
}

/** The prefixed text of `text`, or '' when it does not parse (selectors.go parseSelectorAttachPrefix). */
function attachPrefix(text: string, prefix: string): string {
  try {
    return nodeToString(prefixNode(parseSelector(text).ast, prefix));
  } catch {
    return '';
  }
}

function prefixAndAppend(current: string, added: string, prefix: string): string {
  if (added === '') return current;
  const prefixed = attachPrefix(added, prefix);
  if (prefixed === '') return current;
  return current !== '' ? `(${current}) && ${prefixed}` : prefixed;
}

/** The selector text Felix evaluates for a GNP with these three fields (see the file comment). */
export function felixSelectorText(selector: string, namespaceSelector: string, serviceAccountSelector: string): string {
  let out = selector;
  if (namespaceSelector !== '') {
    out = prefixAndAppend(out, namespaceSelector, NAMESPACE_LABEL_PREFIX);
    out = out.replaceAll('all()', `has(${NAMESPACE_LABEL})`);
  }
  if (serviceAccountSelector !== '') {
    out = prefixAndAppend(out, serviceAccountSelector, SERVICE_ACCOUNT_LABEL_PREFIX);
    out = out.replaceAll('all()', `has(${SERVICE_ACCOUNT_LABEL})`);
  }
  return out;
}
