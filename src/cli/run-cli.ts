/**
 * The `sly-nn` dispatcher: `sly-nn --help`, `sly-nn <command> --help`, `sly-nn <command> ...`. Exit codes are the
 * entry points' table (protocol/exit-codes.ts): 0 ok; 2 bad usage or a wrong config (the message names the
 * field); 3 wrong data (an image, an annotation, a project); 4 a model that does not fit or is damaged; 5 out
 * of disk, memory or file handles; 143 / 130 stopped by SIGTERM / SIGINT; 1 anything else. The message is on
 * stderr.
 */

import { errorMessage } from '../errors';
import { EXIT_CODES, exitCodeOf } from '../protocol/exit-codes';
import type { CliCommand, CliIo } from './command';
import { UsageError } from './command';
import { COMMANDS } from './commands';

/** Bad usage is the config's code: the command line is the CLI's config. */
export const EXIT_USAGE = EXIT_CODES.config;

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
    return exitCodeOf(e);
  }
}
