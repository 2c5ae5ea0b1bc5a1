// The docs newcomers read stay true: every config key is in the README's reference, with its default.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { validateConfig } from '../src/config/load.ts';

function leafPaths(value: unknown, prefix = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || Object.keys(value).length === 0) return [prefix];
  return Object.entries(value).flatMap(([k, v]) => leafPaths(v, prefix === '' ? k : `${prefix}.${k}`));
}

test('README documents every configuration key and its default', async () => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const defaults = validateConfig({});
  const keys = ['nodeName', ...leafPaths(defaults)];
  for (const key of keys) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    assert.ok(row, `README has no row for ${key}`);
    const value = key.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], defaults);
    if (typeof value === 'number' || typeof value === 'boolean') assert.match(row, new RegExp(`\\| \`${String(value)}\` \\|`), `default of ${key}`);
  }
});
