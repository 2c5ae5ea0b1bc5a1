// Which Node runs calico-hep-agent. Plain JavaScript that any Node from 14 on parses, so that an
// older Node reaches the point of saying what is wrong instead of failing on syntax or on `.ts`.
//
// The agent needs Node >= 22.19 (type stripping of src/*.ts, and the undici that
// @kubernetes/client-node 2.x uses). When the Node on PATH is older:
// - in a checkout, `npm ci` runs scripts/setup-node.js (`prepare`), which installs the npm
//   registry's `node@24` package into a cache folder once (the same folder .ci/node-env.sh uses);
// - `npx calico-hep-agent` (bin/calico-hep-agent.js) and the npm scripts (scripts/node.js) then
//   re-run themselves under that Node;
// - without one, they say what to do and exit 1.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';

export const MINIMUM = [22, 19];
export const MINIMUM_TEXT = `${MINIMUM[0]}.${MINIMUM[1]}`;
/** What scripts/setup-node.js installs. */
export const NODE_PACKAGE = 'node@24';

/** True when `version` ("22.19.0", "v24.1.0") is at least MINIMUM. */
export function supported(version) {
  const [major, minor] = String(version).replace(/^v/, '').split('.').map(Number);
  return major > MINIMUM[0] || (major === MINIMUM[0] && minor >= MINIMUM[1]);
}

/** The cache folder for node@24: $NODE_CACHE, else ~/.cache/calico-hep-agent/node24 (as .ci/node-env.sh). */
export function nodeCache(env = process.env) {
  return env.NODE_CACHE || join(homedir(), '.cache', 'calico-hep-agent', 'node24');
}

export function cachedNodePath(env = process.env) {
  return join(nodeCache(env), 'node_modules', 'node', 'bin', 'node');
}

/** The version a node binary reports, or undefined when it does not run. */
export function versionOf(nodePath) {
  if (!existsSync(nodePath)) return undefined;
  const r = spawnSync(nodePath, ['-p', 'process.versions.node'], { encoding: 'utf8', timeout: 20000 });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** A Node >= MINIMUM to run under: this one, else the cached one; undefined when there is none. */
export function suitableNode(env = process.env) {
  if (supported(process.versions.node)) return process.execPath;
  const cached = cachedNodePath(env);
  const version = versionOf(cached);
  return version !== undefined && supported(version) ? cached : undefined;
}

export function explainUnsupported(what) {
  return [
    `${what} needs Node.js >= ${MINIMUM_TEXT}; this is Node ${process.version} (${process.execPath}).`,
    'Either put Node.js 24 LTS first on PATH (https://nodejs.org, your package manager, nvm, ...),',
    `or, in a checkout of calico-hep-agent, run \`npm ci\`: on an older Node it installs the npm registry's`,
    `${NODE_PACKAGE} into ${nodeCache()} once, and \`npx calico-hep-agent\` and \`npm test\` use it from then on.`,
  ].join('\n');
}

/** A suitable Node, or exit 1 with the explanation. */
export function suitableNodeOrExit(what) {
  const node = suitableNode();
  if (node === undefined) {
    process.stderr.write(`${explainUnsupported(what)}\n`);
    process.exit(1);
  }
  return node;
}

/**
 * Runs `node args` as a child with this process's standard streams, its directory first on PATH (so
 * that its own children find the same Node), signals forwarded, and exits with its exit code or
 * signal. The returned promise never settles: the caller must not go on.
 */
export function runAndExit(node, args, what) {
  const env = { ...process.env, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}` };
  const child = spawn(node, args, { stdio: 'inherit', env });
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const forward = (signal) => child.kill(signal);
  for (const signal of signals) process.on(signal, forward);
  child.on('error', (err) => {
    process.stderr.write(`${what}: cannot run ${node}: ${err.message}\n`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const s of signals) process.off(s, forward);
    if (signal !== null) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
  return new Promise(() => {});
}

/**
 * Returns when this Node is suitable. Otherwise re-runs `args` under the cached Node and never
 * returns, or exits 1 with an explanation when there is none.
 */
export function ensureSuitableNode(args, what) {
  if (supported(process.versions.node)) return undefined;
  return runAndExit(suitableNodeOrExit(what), args, what);
}
