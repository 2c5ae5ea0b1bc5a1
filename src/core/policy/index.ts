// GlobalNetworkPolicy analysis for HostEndpoints: evaluation order, explanation, lint, lockout guard.
export * from './model.ts';
export * from './failsafe.ts';
export * from './order.ts';
export * from './rules.ts';
export * from './explain.ts';
export * from './lint.ts';
export * from './guard.ts';
export * from './documents.ts';
