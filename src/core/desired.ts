// The heart of the pure core: from what the node is to the HostEndpoints it should have.
import { expectedIps } from './ip.ts';
import { interfaceRuleLabels, nodeDerivedLabels, type InterfaceRuleConfig, type LabelRulesConfig, ownershipLabels, sortedLabels } from './labels.ts';
import { CALICO_V3_API_VERSION, type HostEndpoint, type Labels, type NetInterface, type OwnerReference } from './model.ts';
import { hostEndpointName } from './naming.ts';
import { interfaceSelector, type InterfaceSelectionConfig } from './select.ts';

export interface NodeFacts {
  readonly name: string;
  readonly labels: Labels;
  /** The Node's uid when known (from the cluster): HEPs then name the Node as their owner. */
  readonly uid?: string | undefined;
}

/**
 * What the core needs to build desired HEPs: its own shape, not the config file's. The config layer
 * (src/config) validates the file and its schema's output is assignable to this; the core never
 * imports src/config.
 */
export interface DesiredConfig {
  readonly interfaces: InterfaceSelectionConfig;
  readonly hostEndpoint: { readonly profiles: readonly string[] };
  readonly labels: LabelRulesConfig;
  readonly interfaceRules: readonly InterfaceRuleConfig[];
}

export interface DesiredState {
  /** Sorted by name. */
  readonly hostEndpoints: HostEndpoint[];
  /** Interfaces seen and selected, for metrics. */
  readonly interfacesSeen: number;
  readonly interfacesSelected: number;
  readonly warnings: string[];
}

/**
 * Compiles the config once and returns the pure function the agent calls on every change.
 * Same inputs, same output: names, labels and IP lists are all in a stable order.
 */
export function desiredStateBuilder(config: DesiredConfig): (node: NodeFacts, interfaces: readonly NetInterface[]) => DesiredState {
  const select = interfaceSelector(config.interfaces);
  const ruleLabels = interfaceRuleLabels(config.interfaceRules);
  const profiles = [...config.hostEndpoint.profiles];
  return (node, interfaces) => {
    const { selected, warnings } = select(interfaces);
    const shared = nodeDerivedLabels(node.labels, config.labels);
    const owner: OwnerReference[] | undefined = node.uid === undefined ? undefined : [{ apiVersion: 'v1', kind: 'Node', name: node.name, uid: node.uid }];
    const hostEndpoints = selected.map((iface): HostEndpoint => {
      const ips = expectedIps(iface.addresses);
      return {
        apiVersion: CALICO_V3_API_VERSION,
        kind: 'HostEndpoint',
        metadata: {
          name: hostEndpointName(node.name, iface.name),
          labels: sortedLabels({ ...shared, ...ruleLabels(iface), ...ownershipLabels(node.name, iface.name) }),
          ...(owner !== undefined ? { ownerReferences: owner } : {}),
        },
        spec: {
          node: node.name,
          interfaceName: iface.name,
          // Omitted when empty, as the API server stores it; the HEP still covers the interface by name.
          ...(ips.length > 0 ? { expectedIPs: ips } : {}),
          profiles: [...profiles],
        },
      };
    });
    hostEndpoints.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    return { hostEndpoints, interfacesSeen: interfaces.length, interfacesSelected: selected.length, warnings };
  };
}
