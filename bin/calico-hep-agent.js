#!/usr/bin/env node
// Runs the TypeScript sources directly: Node >= 22.18 strips types natively, so no build step is
// needed in a checkout. The container image runs the esbuild bundle instead (see Dockerfile).
import '../src/main.ts';
