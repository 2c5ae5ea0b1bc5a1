// Builders for NetInterface values in pure-core tests.
import type { InterfaceAddress, NetInterface } from '../../src/core/model.ts';

export function addr(text: string): InterfaceAddress {
  const [address = '', prefix] = text.split('/');
  const family = address.includes(':') ? 6 : 4;
  const scope = /^fe80:/i.test(address) || address.startsWith('169.254.') ? 'link' : address === '::1' || address.startsWith('127.') ? 'host' : 'global';
  return { address, prefixLength: Number(prefix ?? (family === 4 ? 32 : 128)), family, scope };
}

let nextIndex = 1;

export function iface(name: string, addresses: string[] = [], extra: Partial<NetInterface> = {}): NetInterface {
  return {
    name,
    index: nextIndex++,
    operState: 'UP',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    addresses: addresses.map(addr),
    hasDefaultRoute: false,
    ...extra,
  };
}
