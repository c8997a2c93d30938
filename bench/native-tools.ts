/**
 * Finds the native load generators the benchmarks drive (a Node client on the same two cores would
 * measure itself, not the server). It only looks them up on PATH and says how to install the
 * missing ones; it never installs anything.
 */
import { spawnSync } from "node:child_process";

/** A load generator and the Debian package that ships it. */
const TOOLS = {
  h2load: { pkg: "nghttp2-client", args: ["--version"] },
  wrk: { pkg: "wrk", args: ["-v"] },
} as const;

/** A native tool's name. */
export type NativeTool = keyof typeof TOOLS;

/** Thrown when a needed tool is missing; the message says how to install it. */
export class MissingToolError extends Error {
  override readonly name = "MissingToolError";
}

/**
 * Checks that each tool runs; throws MissingToolError naming the packages to install otherwise.
 * @example requireNativeTools(["h2load", "wrk"])
 */
export function requireNativeTools(tools: readonly NativeTool[]): void {
  const missing = tools.filter((tool) => {
    const result = spawnSync(tool, TOOLS[tool].args, { stdio: "ignore" });
    return result.error !== undefined;
  });
  if (missing.length === 0) return;
  const packages = [...new Set(missing.map((tool) => TOOLS[tool].pkg))].join(" ");
  throw new MissingToolError(
    `missing load generator(s): ${missing.join(", ")}.\n` +
      `  Debian/Ubuntu: sudo apt-get install -y ${packages}\n` +
      `  macOS (Homebrew): brew install ${missing.map((t) => (t === "h2load" ? "nghttp2" : t)).join(" ")}\n` +
      "  or run only the figures that need none: npm run bench -- --only fanout,stampede,scheduler,cold-start",
  );
}
