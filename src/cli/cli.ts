import { VERSION } from '../version.ts';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, type CliIo, type Command } from './io.ts';
import { errorMessage } from '../core/error-message.ts';

// Commands load lazily: `match` must not pay for the Kubernetes client that `run` needs.
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  run: {
    summary: "keep this node's HostEndpoints correct (the DaemonSet's process)",
    load: async () => (await import('./commands/run.ts')).run,
  },
  plan: {
    summary: 'print the HostEndpoints this node should have (YAML or JSON)',
    load: async () => (await import('./commands/plan.ts')).plan,
  },
  prune: {
    summary: 'delete managed HostEndpoints whose Node no longer exists',
    load: async () => (await import('./commands/prune.ts')).prune,
  },
  match: {
    summary: 'evaluate a Calico label selector against labels (one pair, or JSON lines with --batch)',
    load: async () => (await import('./commands/match.ts')).match,
  },
  explain: {
    summary: 'show the policies that select each HostEndpoint, in Calico order, and lint them for lockouts',
    load: async () => (await import('./commands/explain.ts')).explain,
  },
};

function usage(): string {
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return (
    `usage: calico-hep-agent <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n` +
    "Run 'calico-hep-agent help <command>' (or '<command> --help') for a command's flags; --version prints the version.\n"
  );
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    io.stdout.write(`calico-hep-agent ${VERSION}\n`);
    return EXIT_OK;
  }
  if (name === 'help' && rest.length > 0) {
    // `help <command>` is `<command> --help`.
    [name, ...rest] = [rest[0]!, '--help'];
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (entry === undefined) {
    io.stderr.write(`calico-hep-agent: unknown command '${name}'\n\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    const command = await entry.load();
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`calico-hep-agent ${name}: ${err.message}\n`);
      return EXIT_USAGE;
    }
    io.stderr.write(`calico-hep-agent ${name}: ${errorMessage(err)}\n`);
    return EXIT_FAILURE;
  }
}
