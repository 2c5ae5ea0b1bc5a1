// Layers point down only (issue 13): the pure core owns its config shapes and Calico's default
// excludes; nothing under src/core imports from src/config (or from adapters, agent, cli).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative, resolve, dirname } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('src/core imports nothing from the layers above it', async () => {
  const core = join(root, 'src/core');
  const files = await tsFiles(core);
  assert.ok(files.length > 5, 'found the core');
  const bad: string[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      const spec = m[1] as string;
      if (!spec.startsWith('.')) continue;
      const target = relative(root, resolve(dirname(file), spec));
      if (!target.startsWith('src/core/')) bad.push(`${relative(root, file)} imports ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});
