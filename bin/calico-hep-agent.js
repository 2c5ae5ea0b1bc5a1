#!/usr/bin/env node
// The `calico-hep-agent` command. In a checkout it runs the TypeScript sources directly (Node strips
// the types); in the installed package, which ships no sources, it runs the esbuild bundle
// (dist/calico-hep-agent.mjs, made by `npm pack`'s prepack). On a Node older than the agent needs it
// re-runs itself under a suitable one or says what to do (bin/node-runtime.js).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ensureSuitableNode } from './node-runtime.js';

const self = fileURLToPath(import.meta.url);
await ensureSuitableNode([self, ...process.argv.slice(2)], 'calico-hep-agent');

const source = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const bundle = fileURLToPath(new URL('../dist/calico-hep-agent.mjs', import.meta.url));
await import(pathToFileURL(existsSync(source) ? source : bundle).href);
