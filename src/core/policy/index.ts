// GlobalNetworkPolicy analysis for HostEndpoints: Felix's evaluation model, explanation, lint, policy guard.
export * from './model.ts';
export * from './felix-selector.ts';
export * from './felix.ts';
export * from './failsafe.ts';
export * from './order.ts';
export * from './rules.ts';
export * from './explain.ts';
export * from './lint.ts';
export * from './guard.ts';
export * from './documents.ts';
export * from './packet.ts';
export * from './governance.ts';
