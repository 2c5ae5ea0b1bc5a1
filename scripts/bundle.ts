// `npm run build`: bundles src/main.ts and its dependencies into one ESM file for the container
// image, dist/calico-hep-agent.mjs, so the runtime image needs Node and nothing from npm.
//
// Choices:
// - platform node, target node22 (the oldest Node we support; the image runs 24).
// - Syntax and whitespace minification, but identifiers are kept (`keepNames` too): stack traces and
//   pino's error serialisation keep real function and class names, which is what an operator reads
//   in a log. Mangling identifiers would save ~25% more and make every trace useless without the
//   source map. A linked source map is written next to the bundle (`--enable-source-maps` maps
//   lines back to src/ when wanted; it is not on by default because it costs memory on first use).
// - Some CommonJS dependencies (prom-client, pino's helpers, client-node's transitive ones) call
//   `require` for Node built-ins; in an ESM bundle that needs a real `require`, hence the banner.
// - What the run path does not use of its dependencies is stubbed out (scripts/bundle-stubs.ts):
//   client-node's generated APIs and models, undici, js-yaml, prom-client's default metrics.
import { build, type Metafile } from 'esbuild';
import { mkdir, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { footprintStubs } from './bundle-stubs.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
export const OUTFILE = 'dist/calico-hep-agent.mjs';

const BANNER = [
  "import { createRequire as __cha_createRequire } from 'node:module';",
  'const require = __cha_createRequire(import.meta.url);',
].join('\n');

export async function bundle(opts: { outfile?: string; quiet?: boolean } = {}): Promise<{ outfile: string; bytes: number; metafile: Metafile }> {
  const outfile = opts.outfile ?? `${root}/${OUTFILE}`;
  await rm(outfile, { force: true });
  await rm(`${outfile}.map`, { force: true });
  await mkdir(new URL('.', `file://${outfile}`), { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: ['src/main.ts'],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minifySyntax: true,
    minifyWhitespace: true,
    minifyIdentifiers: false,
    keepNames: true,
    sourcemap: 'linked',
    sourcesContent: false,
    legalComments: 'none',
    banner: { js: BANNER },
    metafile: true,
    plugins: [footprintStubs(root)],
    logLevel: opts.quiet === true ? 'error' : 'warning',
  });
  const { size } = await stat(outfile);
  return { outfile, bytes: size, metafile: result.metafile };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const started = performance.now();
  const { outfile, bytes } = await bundle();
  const ms = Math.round(performance.now() - started);
  process.stdout.write(`${outfile.replace(`${root}/`, '')}: ${(bytes / 1024 / 1024).toFixed(2)} MiB in ${ms} ms\n`);
}
