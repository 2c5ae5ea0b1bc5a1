// npm's `prepare` (run by `npm ci` / `npm install` in a checkout, never where the package is installed
// as a dependency): makes sure a Node that calico-hep-agent supports (>= 22.19) is at hand.
// - This Node is recent enough: nothing to do, nothing printed.
// - In a checkout on an older Node (Node 20 of many distributions): say so, and install the npm
//   registry's node@24 into a cache folder once (bin/node-runtime.js); `npx calico-hep-agent` and
//   the npm scripts use it from then on. npm's EBADENGINE warnings before this are expected.
// - Elsewhere (no sources next to it) on an older Node: say what to do; the install itself goes on.
// Runs on old Nodes: plain JavaScript, no dependencies.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cachedNodePath, explainUnsupported, MINIMUM_TEXT, NODE_PACKAGE, nodeCache, supported, versionOf } from '../bin/node-runtime.js';

if (supported(process.versions.node)) process.exit(0);

const checkout = existsSync(fileURLToPath(new URL('../src/main.ts', import.meta.url)));
if (!checkout) {
  process.stderr.write(`\ncalico-hep-agent: ${explainUnsupported('calico-hep-agent')}\n\n`);
  process.exit(0);
}

const cached = versionOf(cachedNodePath());
const line = '-'.repeat(78);
if (cached !== undefined && supported(cached)) {
  process.stderr.write(
    `\n${line}\ncalico-hep-agent: Node ${process.version} is older than ${MINIMUM_TEXT}; using Node v${cached} from ${nodeCache()}\nfor \`npx calico-hep-agent\` and the npm scripts.\n${line}\n\n`,
  );
  process.exit(0);
}

process.stderr.write(
  `\n${line}\ncalico-hep-agent needs Node.js >= ${MINIMUM_TEXT}; this is Node ${process.version}.\n` +
    `Installing ${NODE_PACKAGE} from the npm registry into ${nodeCache()} (once, ~190 MB);\n` +
    `\`npx calico-hep-agent\` and the npm scripts (npm test, npm run build) will use it.\n` +
    `To use another Node instead, put Node >= ${MINIMUM_TEXT} first on PATH and run npm ci again.\n${line}\n`,
);
mkdirSync(nodeCache(), { recursive: true });
// The npm that runs this script, with the same registry and CA settings the user has.
const npm = process.env.npm_execpath;
const npmArgs = ['install', '--prefix', nodeCache(), '--no-save', '--no-audit', '--no-fund', '--no-package-lock', '--loglevel=error', NODE_PACKAGE];
const r =
  npm !== undefined && npm !== ''
    ? spawnSync(process.execPath, [npm, ...npmArgs], { stdio: ['ignore', 'ignore', 'inherit'] })
    : spawnSync('npm', npmArgs, { stdio: ['ignore', 'ignore', 'inherit'], shell: process.platform === 'win32' });
const installed = versionOf(cachedNodePath());
if (r.status !== 0 || installed === undefined || !supported(installed)) {
  process.stderr.write(
    `\ncalico-hep-agent: installing ${NODE_PACKAGE} failed (npm exited with ${r.status ?? r.signal}).\n${explainUnsupported('calico-hep-agent')}\n\n`,
  );
  process.exit(1);
}
process.stderr.write(`calico-hep-agent: Node v${installed} is ready in ${nodeCache()}.\n${line}\n\n`);
