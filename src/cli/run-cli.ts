/**
 * The `sly-nn` dispatcher: `sly-nn --help`, `sly-nn <command> --help`, `sly-nn <command> ...`. Exit codes: 0 ok,
 * 1 the command failed (message on stderr), 2 bad usage.
 */

import { errorMessage } from '../errors';
import type { CliCommand, CliIo } from './command';
import { UsageError } from './command';
import { COMMANDS } from './commands';

export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

const HELP_FLAGS = ['--help', '-h'];

export function overview(commands: readonly CliCommand[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: sly-nn <command> [arguments]   (sly-nn <command> --help for details)',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
  ].join('\n');
}

export function commandHelp(command: CliCommand): string {
  return `Usage: ${command.usage}\n\n${command.summary}.\n\n${command.help}`;
}

export async function runCli(
  argv: readonly string[],
  io: CliIo,
  commands: readonly CliCommand[] = COMMANDS,
): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    io.err(overview(commands));
    return EXIT_USAGE;
  }
  if (HELP_FLAGS.includes(name)) {
    io.out(overview(commands));
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (command === undefined) {
    io.err(`sly-nn: unknown command "${name}"\n\n${overview(commands)}`);
    return EXIT_USAGE;
  }
  if (rest.some((a) => HELP_FLAGS.includes(a))) {
    io.out(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`sly-nn ${command.name}: ${e.message}\nUsage: ${command.usage}`);
      return EXIT_USAGE;
    }
    io.err(`sly-nn ${command.name}: error: ${errorMessage(e)}`);
    return EXIT_FAILED;
  }
}
