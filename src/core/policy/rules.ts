// Rules in short, for people and tools: "Allow tcp from nets 10.0.0.0/8 to ports 80,443".
import type { EntityRule, Rule } from './model.ts';

function nonEmpty(v: readonly unknown[] | undefined): boolean {
  return v !== undefined && v.length > 0;
}

function entityEmpty(e: EntityRule | undefined): boolean {
  if (e === undefined) return true;
  return (
    !nonEmpty(e.nets) &&
    !nonEmpty(e.notNets) &&
    !nonEmpty(e.ports) &&
    !nonEmpty(e.notPorts) &&
    (e.selector ?? '').trim() === '' &&
    (e.notSelector ?? '').trim() === '' &&
    (e.namespaceSelector ?? '').trim() === '' &&
    e.serviceAccounts === undefined &&
    e.services === undefined
  );
}

/** True when the rule has no match criteria: it decides every packet that reaches it. */
export function isCatchAll(rule: Rule): boolean {
  return (
    rule.protocol === undefined &&
    rule.notProtocol === undefined &&
    rule.ipVersion === undefined &&
    rule.icmp === undefined &&
    rule.notICMP === undefined &&
    rule.http === undefined &&
    entityEmpty(rule.source) &&
    entityEmpty(rule.destination)
  );
}

function proto(p: string | number): string {
  return typeof p === 'number' ? String(p) : p.toLowerCase();
}

function entityText(e: EntityRule | undefined): string[] {
  if (e === undefined) return [];
  const parts: string[] = [];
  if (nonEmpty(e.nets)) parts.push(`nets ${e.nets!.join(',')}`);
  if (nonEmpty(e.notNets)) parts.push(`not nets ${e.notNets!.join(',')}`);
  if ((e.selector ?? '').trim() !== '') parts.push(`selector ${e.selector!.trim()}`);
  if ((e.notSelector ?? '').trim() !== '') parts.push(`not selector ${e.notSelector!.trim()}`);
  if ((e.namespaceSelector ?? '').trim() !== '') parts.push(`namespaceSelector ${e.namespaceSelector!.trim()}`);
  if (e.serviceAccounts !== undefined) parts.push(`serviceAccounts ${JSON.stringify(e.serviceAccounts)}`);
  if (e.services !== undefined) parts.push(`service ${e.services.namespace ?? ''}/${e.services.name ?? ''}`);
  if (nonEmpty(e.ports)) parts.push(`ports ${e.ports!.join(',')}`);
  if (nonEmpty(e.notPorts)) parts.push(`not ports ${e.notPorts!.join(',')}`);
  return parts;
}

export function summarizeRule(rule: Rule): string {
  const parts: string[] = [rule.action];
  if (rule.ipVersion !== undefined) parts.push(`ipv${rule.ipVersion}`);
  if (rule.protocol !== undefined) parts.push(proto(rule.protocol));
  if (rule.notProtocol !== undefined) parts.push(`not ${proto(rule.notProtocol)}`);
  if (rule.icmp !== undefined) parts.push(`icmp ${JSON.stringify(rule.icmp)}`);
  if (rule.notICMP !== undefined) parts.push(`not icmp ${JSON.stringify(rule.notICMP)}`);
  const src = entityText(rule.source);
  const dst = entityText(rule.destination);
  if (src.length > 0) parts.push(`from ${src.join(' ')}`);
  if (dst.length > 0) parts.push(`to ${dst.join(' ')}`);
  if (rule.http !== undefined) parts.push(`http ${JSON.stringify(rule.http)}`);
  if (isCatchAll(rule)) parts.push('(everything)');
  return parts.join(' ');
}

/** The rule in a stable JSON form for tools. */
export interface RuleSummary {
  readonly action: string;
  readonly text: string;
  readonly catchAll: boolean;
  readonly protocol?: string;
  readonly source?: EntityRule;
  readonly destination?: EntityRule;
}

export function ruleSummary(rule: Rule): RuleSummary {
  return {
    action: rule.action,
    text: summarizeRule(rule),
    catchAll: isCatchAll(rule),
    ...(rule.protocol !== undefined ? { protocol: proto(rule.protocol) } : {}),
    ...(rule.source !== undefined && !entityEmpty(rule.source) ? { source: rule.source } : {}),
    ...(rule.destination !== undefined && !entityEmpty(rule.destination) ? { destination: rule.destination } : {}),
  };
}
