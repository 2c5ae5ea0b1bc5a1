// How the agent marks the HEPs it owns. Deliberately not Calico's own `projectcalico.org/created-by`
// label nor the `-auto-hep` name suffix: kube-controllers deletes auto HEPs it did not expect.

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'calico-hep-agent';
/** Our label prefix: the node and interface a HEP belongs to, so the agent can watch only its own. */
export const LABEL_PREFIX = 'calico-hep-agent.io/';
export const NODE_LABEL = `${LABEL_PREFIX}node`;
export const INTERFACE_LABEL = `${LABEL_PREFIX}interface`;

/** Label keys the agent never writes, whatever the Node or the config says. */
export const FORBIDDEN_LABEL_KEYS: readonly string[] = ['projectcalico.org/created-by'];

/** True for keys that only the agent itself may set. */
export function isReservedLabelKey(key: string): boolean {
  return key === MANAGED_BY_LABEL || key.startsWith(LABEL_PREFIX) || FORBIDDEN_LABEL_KEYS.includes(key);
}

export function isManaged(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels?.[MANAGED_BY_LABEL] === MANAGED_BY_VALUE;
}

/** Calico's kube-controllers auto host endpoints: never ours to touch. */
export function isCalicoAutoHostEndpoint(name: string, labels: Readonly<Record<string, string>> | undefined): boolean {
  return name.endsWith('-auto-hep') || labels?.['projectcalico.org/created-by'] === 'calico-kube-controllers';
}
