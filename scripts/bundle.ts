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
// - What the run path does not use of its dependencies is stubbed out (footprintStubs below):
//   client-node's generated APIs and models, undici, js-yaml, pino's thread-stream, prom-client's
//   default metrics; Node built-ins are required, not imported. Kept in this file so that building
//   needs this one script.
import { build, type Metafile, type Plugin } from 'esbuild';
import { builtinModules } from 'node:module';
import { mkdir, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
export const OUTFILE = 'dist/calico-hep-agent.mjs';

export const BANNER = ["import { createRequire as __cha_createRequire } from 'node:module';", 'const require = __cha_createRequire(import.meta.url);'].join(
  '\n',
);

// The footprint stubs (an esbuild plugin): the bundle takes only what `run` uses of its
// dependencies, where they would otherwise drag whole subsystems in at start.
//
// - @kubernetes/client-node: we use its KubeConfig to load credentials (kubeconfig files, in-cluster
//   service accounts, exec plugins) and nothing else; requests go through our HttpApiClient.
//   config.js imports the generated API/model barrel (`./gen/index.js`, 759 model classes, used only
//   by makeApiClient), undici (used only by applySecurityAuthentication's fetch dispatchers) and
//   `./middleware.js` (generated rxjs stubs). All three are replaced by modules that throw if ever
//   called, so a path that needs them fails loudly instead of silently loading them.
//   These paths depend on client-node's file layout: package.json pins the exact version and
//   test/deploy/bundle.test.ts fails when a generated model or undici reaches the bundle.
// - js-yaml (client-node's kubeconfig parser) is served by `yaml`, the parser the agent already
//   uses: one YAML parser in the process. Only `load` is called (KubeConfig.loadFromString).
// - Node built-ins are loaded with require(), not ESM import: importing a built-in as ESM builds its
//   module namespace, which evaluates every export, lazy getters included (node:http's pulls in
//   Node's internal undici and web streams, node:util's more): ~12 MiB for nothing. Each built-in
//   becomes a tiny CommonJS module `module.exports = require('node:x')` inside the ESM bundle.
// - pino's transports (worker threads, via thread-stream) are never used: the agent writes JSON lines
//   to stdout itself (src/logger.ts); thread-stream is replaced by a module that throws.
// - prom-client's default metrics module (and through it @opentelemetry/api) is replaced: the agent
//   registers its own process metrics (src/observability/process-metrics.ts). So are its
//   AggregatorRegistry (it loads node:cluster, ~8 MiB) and Pushgateway, which the agent never uses.

const THROW = (what: string) => `function unavailable() { throw new Error(${JSON.stringify(`${what} is not in this build (scripts/bundle.ts)`)}); }`;

const STUBS: Record<string, string> = {
  'client-node-gen': `${THROW("client-node's generated API clients")}
export const createConfiguration = unavailable;
export class ServerConfiguration { constructor() { unavailable(); } }`,
  'client-node-middleware': `${THROW("client-node's middleware")}
export const setHeaderMiddleware = unavailable;
export const setHeaderOptions = unavailable;`,
  undici: `${THROW('undici')}
export class Agent { constructor() { unavailable(); } }
export class ProxyAgent { constructor() { unavailable(); } }`,
  'js-yaml': `import { parse } from 'yaml';
export function load(text) { return parse(text); }
export default { load };`,
  'thread-stream': `module.exports = class ThreadStream { constructor() { throw new Error('pino transports are not in this build (scripts/bundle.ts)'); } };`,
  'prom-client-cluster': `module.exports = class AggregatorRegistry { constructor() { throw new Error("prom-client's AggregatorRegistry (node:cluster) is not in this build (scripts/bundle.ts)"); } };`,
  'prom-client-pushgateway': `module.exports = class Pushgateway { constructor() { throw new Error("prom-client's Pushgateway is not in this build (scripts/bundle.ts)"); } };`,
  'prom-client-default-metrics': `module.exports = function collectDefaultMetrics() {
  throw new Error("prom-client's default metrics are not in this build: use src/observability/process-metrics.ts");
};
module.exports.metricsList = [];`,
};

/** Generated client-node files that must never be in the bundle (checked by the bundle test). */
export const FORBIDDEN_INPUTS: readonly RegExp[] = [
  /node_modules\/@kubernetes\/client-node\/dist\/gen\//,
  /node_modules\/undici\//,
  /node_modules\/js-yaml\//,
  /node_modules\/@opentelemetry\//,
  /node_modules\/prom-client\/lib\/defaultMetrics/,
  /node_modules\/prom-client\/lib\/(cluster|pushgateway)/,
  /node_modules\/thread-stream\//,
  // zod's classic API (+14 MiB RSS) and its 60 locales: the config schema is on zod/mini, English only.
  /node_modules\/zod\/v4\/classic\//,
  /node_modules\/zod\/v4\/locales\/(?!(en|index)\.js$)/, // index.js: re-exports, shaken to nothing
];

const BUILTINS = new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])));

export function footprintStubs(root: string): Plugin {
  return {
    name: 'footprint-stubs',
    setup(build) {
      const stub = (name: keyof typeof STUBS) => ({ path: name, namespace: 'footprint-stub' });
      const fromClientNode = (importer: string) => importer.includes('/node_modules/@kubernetes/client-node/dist/');
      build.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (a) => (fromClientNode(a.importer) ? stub('client-node-gen') : undefined));
      build.onResolve({ filter: /^\.\/middleware\.js$/ }, (a) => (fromClientNode(a.importer) ? stub('client-node-middleware') : undefined));
      build.onResolve({ filter: /^undici$/ }, (a) => (fromClientNode(a.importer) ? stub('undici') : undefined));
      build.onResolve({ filter: /^js-yaml$/ }, (a) => (fromClientNode(a.importer) ? stub('js-yaml') : undefined));
      build.onResolve({ filter: /^\.\/lib\/defaultMetrics$/ }, (a) =>
        a.importer.includes('/node_modules/prom-client/') ? stub('prom-client-default-metrics') : undefined,
      );
      build.onResolve({ filter: /^\.\/lib\/(cluster|pushgateway)$/ }, (a) =>
        a.importer.includes('/node_modules/prom-client/') ? stub(a.path === './lib/cluster' ? 'prom-client-cluster' : 'prom-client-pushgateway') : undefined,
      );
      build.onResolve({ filter: /^thread-stream$/ }, (a) => (a.importer.includes('/node_modules/pino/') ? stub('thread-stream') : undefined));
      build.onResolve({ filter: /^(node:)?[a-z_/]+$/ }, (a) => {
        if (!BUILTINS.has(a.path)) return undefined;
        // The require() inside the shim itself stays external; every other import goes through the shim.
        if (a.namespace === 'builtin-cjs') return { path: a.path, external: true };
        return { path: a.path.startsWith('node:') ? a.path : `node:${a.path}`, namespace: 'builtin-cjs' };
      });
      build.onLoad({ filter: /.*/, namespace: 'builtin-cjs' }, (a) => ({
        contents: `module.exports = require(${JSON.stringify(a.path)});`,
        loader: 'js',
        resolveDir: root,
      }));
      build.onLoad({ filter: /.*/, namespace: 'footprint-stub' }, (a) => {
        const contents = STUBS[a.path];
        if (contents === undefined) throw new Error(`no footprint stub for ${a.path}`);
        return { contents, loader: 'js', resolveDir: root };
      });
    },
  };
}

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
