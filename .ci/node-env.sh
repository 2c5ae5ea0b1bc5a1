# Sourced by .ci/run (and usable by people): puts a Node >= 22.19 first on PATH. The same cache
# folder is used by bin/node-runtime.js (npm ci on an older Node fills it; npx and npm scripts use it).
# The machine image ships Node 20; @kubernetes/client-node 2.x and our TypeScript-by-type-stripping
# need >= 22.19, so we install the npm registry's `node@24` package into a cache folder once.
node_ok() {
  command -v node >/dev/null 2>&1 || return 1
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>22||(a===22&&b>=19)?0:1)'
}
if ! node_ok; then
  NODE_CACHE="${NODE_CACHE:-$HOME/.cache/calico-hep-agent/node24}"
  if [ ! -x "$NODE_CACHE/node_modules/node/bin/node" ]; then
    echo "installing node@24 from the npm registry into $NODE_CACHE" >&2
    mkdir -p "$NODE_CACHE"
    npm install --prefix "$NODE_CACHE" --no-save --no-audit --no-fund node@24 >&2
  fi
  export PATH="$NODE_CACHE/node_modules/node/bin:$NODE_CACHE/node_modules/.bin:$PATH"
  node_ok || { echo "node >= 22.19 is still not on PATH" >&2; exit 1; }
fi
