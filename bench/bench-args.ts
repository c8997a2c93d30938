/**
 * Command-line flags of `npm run bench`: `--quick` (a smoke run of a few seconds per figure),
 * `--only a,b` (a subset, by benchmark name), `--out FILE` (where results go). Unknown flags and
 * names are errors, so a typo never silently runs everything or nothing.
 */

/** Parsed flags. */
export interface BenchArgs {
  quick: boolean;
  /** Names to run, in the runner's order; undefined runs all. */
  only: ReadonlySet<string> | undefined;
  /** results.json path (default bench/results.json). */
  out: string | undefined;
  help: boolean;
}

/** Thrown for bad flags; the message is meant for the terminal. */
export class BenchArgsError extends Error {
  override readonly name = "BenchArgsError";
}

/** Parses argv (without node and the script); `names` are the valid `--only` values. */
export function parseBenchArgs(argv: readonly string[], names: readonly string[]): BenchArgs {
  const args: BenchArgs = { quick: false, only: undefined, out: undefined, help: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? "";
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const value = () => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === "") throw new BenchArgsError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--quick":
        args.quick = true;
        break;
      case "--only": {
        const selected = value()
          .split(",")
          .map((s) => s.trim())
          .filter((s) => s !== "");
        const unknown = selected.filter((s) => !names.includes(s));
        if (unknown.length > 0) throw new BenchArgsError(`unknown benchmark(s): ${unknown.join(", ")} (known: ${names.join(", ")})`);
        args.only = new Set(selected);
        break;
      }
      case "--out":
        args.out = value();
        break;
      case "-h":
      case "--help":
        args.help = true;
        break;
      default:
        throw new BenchArgsError(`unknown argument: ${arg}`);
    }
  }
  return args;
}
