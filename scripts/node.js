// `node scripts/node.js ARGS...` runs `node ARGS...` under a Node the project supports: this one when
// it is recent enough, else the one `npm ci` installed into the cache (bin/node-runtime.js). The npm
// scripts go through it, so `npm test` works from a shell whose Node is older.
import { runAndExit, suitableNodeOrExit } from '../bin/node-runtime.js';

await runAndExit(suitableNodeOrExit('calico-hep-agent (npm run)'), process.argv.slice(2), 'calico-hep-agent (npm run)');
