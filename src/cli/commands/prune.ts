// `prune`: delete managed HostEndpoints whose Node is gone (one-off, from anywhere with a kubeconfig).
import { chooseCalicoApi, servedGroupVersions } from '../../adapters/kube/calico-api.ts';
import { HostEndpointApi } from '../../adapters/kube/hostendpoints.ts';
import { apiClientFor, requireKubeConfig } from '../../adapters/kube/kubeconfig.ts';
import { NO_OBSERVER } from '../../adapters/kube/observer.ts';
import { prune as pruneOrphans } from '../../agent/prune.ts';
import { createLogger } from '../../logger.ts';
import { commandConfig, parseFlags } from '../flags.ts';
import { EXIT_OK, type CliIo } from '../io.ts';

const HELP = `usage: calico-hep-agent prune [flags]

Deletes HostEndpoints managed by calico-hep-agent whose Node no longer exists.

  --config FILE       YAML config file (for apiGroup)
  --kubeconfig FILE   kubeconfig (default: $KUBECONFIG, in-cluster, ~/.kube/config)
  --dry-run           list what would be deleted
`;

export async function prune(argv: readonly string[], io: CliIo): Promise<number> {
  const { values } = parseFlags(argv, {
    config: { type: 'string' },
    kubeconfig: { type: 'string' },
    'dry-run': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    io.stdout.write(HELP);
    return EXIT_OK;
  }
  const config = await commandConfig({ file: values.config, env: io.env });
  const api = apiClientFor(await requireKubeConfig({ file: values.kubeconfig, env: io.env }), NO_OBSERVER);
  const calico = chooseCalicoApi(await servedGroupVersions(api), config.apiGroup);
  const logger = createLogger(config.logLevel, io.stderr);
  const result = await pruneOrphans(api, new HostEndpointApi(api, calico), {
    logger,
    dryRun: values['dry-run'] === true,
  });
  const names = values['dry-run'] === true ? result.orphans : result.deleted;
  for (const name of names) io.stdout.write(`${values['dry-run'] === true ? 'would delete' : 'deleted'} hostendpoint/${name}\n`);
  if (names.length === 0) io.stdout.write('no orphaned HostEndpoints\n');
  return EXIT_OK;
}
