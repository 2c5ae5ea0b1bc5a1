// Process wiring only: hand argv and the standard streams to the CLI, turn its result into the exit code.
import { runCli } from './cli/cli.ts';

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
