/**
 * The argument parsing every `nexus` subcommand shares (node:util parseArgs, strict): `--help`/`-h`
 * prints the command's usage (exit 0), and a malformed or unknown option prints the error and the
 * usage (exit 2). Commands then read typed values and positionals.
 */
import { type ParseArgsOptionsConfig, parseArgs } from "node:util";
import type { CommandIo } from "./providers-plan.ts";

const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/** What {@link parseCommandArgs} returns for a command's option definitions `T`. */
export type ParsedCommand<T extends ParseArgsOptionsConfig> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T & typeof HELP_OPTION; allowPositionals: true; strict: true }>
>;

/** Prints `message` and the command's usage to stderr; returns exit code 2 (a usage error). */
export function usageError(io: CommandIo, usage: string, message: string): number {
  io.stderr.write(`nexus: ${message}\n\n${usage}`);
  return 2;
}

/**
 * Parses a subcommand's arguments against `options` (plus `--help`), or returns the exit code when
 * there is nothing more to do: 0 after printing the usage for `--help`, 2 after a parse error.
 */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(
  argv: string[],
  options: T,
  usage: string,
  io: CommandIo,
  { allowPositionals = true }: { allowPositionals?: boolean } = {},
): ParsedCommand<T> | number {
  let parsed: ParsedCommand<T>;
  try {
    parsed = parseArgs({ args: argv, allowPositionals, strict: true, options: { ...options, ...HELP_OPTION } }) as ParsedCommand<T>;
  } catch (err) {
    return usageError(io, usage, err instanceof Error ? err.message : String(err));
  }
  if ((parsed.values as { help?: boolean }).help === true) {
    io.stdout.write(usage);
    return 0;
  }
  return parsed;
}
