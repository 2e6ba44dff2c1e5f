/**
 * A command of the `sly-nn` tool. Each command is one file in ./commands, listed once in ./commands/index.ts.
 * Commands print through `io` (never console directly), so tests can run them in-process.
 */

import { parseArgs, type ParseArgsConfig } from 'util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export interface CliIo {
  /** Normal output (stdout), one call per line or block. */
  out(text: string): void;
  /** Errors and diagnostics (stderr). */
  err(text: string): void;
}

export interface CliCommand {
  /** What the user types after `sly-nn`. */
  name: string;
  /** One line for `sly-nn --help`. */
  summary: string;
  /** e.g. "sly-nn pack <dir> <file.tar>". */
  usage: string;
  /** The rest of `sly-nn <name> --help`: arguments, options, an example. */
  help: string;
  /** Returns the exit code. Throw UsageError for bad arguments; any other error is reported by the runner. */
  run(args: readonly string[], io: CliIo): Promise<number>;
}

/** Bad arguments: the runner prints the message and the command's usage, and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ParsedArgs {
  positionals: string[];
  flags: Record<string, boolean>;
}

/**
 * Positional arguments and boolean `--flags`, strictly: an unknown option or a wrong number of positionals is a
 * UsageError.
 */
export function parseCommandArgs(
  args: readonly string[],
  spec: { positionals: readonly string[]; flags?: readonly string[] },
): ParsedArgs {
  const options: Record<string, { type: 'boolean' }> = {};
  for (const flag of spec.flags ?? []) options[flag] = { type: 'boolean' };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
  if (parsed.positionals.length !== spec.positionals.length) {
    const expected = spec.positionals.map((p) => `<${p}>`).join(' ');
    throw new UsageError(
      `expected ${spec.positionals.length} argument(s) ${expected}, got ${parsed.positionals.length}`,
    );
  }
  const flags: Record<string, boolean> = {};
  for (const flag of spec.flags ?? []) flags[flag] = parsed.values[flag] === true;
  return { positionals: parsed.positionals, flags };
}

/** `util.parseArgs`, strict, with its errors turned into UsageErrors (exit 2 with the usage). */
export function parseOptions<T extends OptionsConfig>(
  args: readonly string[],
  options: T,
  allowPositionals = false,
): ReturnType<typeof parseArgs<{ args: string[]; options: T; allowPositionals: boolean; strict: true }>> {
  try {
    return parseArgs({ args: [...args], options, allowPositionals, strict: true });
  } catch (e) {
    throw new UsageError(e instanceof Error ? e.message : String(e));
  }
}
