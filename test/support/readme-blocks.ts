/**
 * Reads the README's shell blocks for the tests that run them: each ```sh fence with the marker
 * comment on the line above it, if any (`<!-- readme-test: skip (why) -->`, `stream`, `python`),
 * and a throwaway "checkout" directory where they can run as written (`npm run nexus`, `npx buf`,
 * relative proto/ paths) without writing into the repository.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** The repository root. */
export const REPO = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** One ```sh block of the README. */
export interface ReadmeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** The marker word (skip, stream, python), or undefined when unmarked. */
  marker: string | undefined;
  script: string;
}

/** Every ```sh block of README.md, in document order. */
export function readmeShellBlocks(): ReadmeBlock[] {
  const lines = readFileSync(join(REPO, "README.md"), "utf8").split("\n");
  const blocks: ReadmeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const end = lines.indexOf("```", i + 1);
    const marker = /^<!-- readme-test: (\w+)/.exec(lines[i - 1] ?? "")?.[1];
    blocks.push({ line: i + 1, marker, script: lines.slice(i + 1, end).join("\n") });
    i = end;
  }
  return blocks;
}

/** Replaces the README's placeholders with values from the run. */
export function fillPlaceholders(script: string, values: { baseUrl: string; apiKey: string; connectionId: string }): string {
  return script
    .replaceAll("http://127.0.0.1:8080", values.baseUrl)
    .replaceAll("nxk_…", values.apiKey)
    .replaceAll("conn_…", values.connectionId);
}

/** A temporary directory that looks like a checkout (symlinks to the repository's parts). */
export function createScratchCheckout(): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "nexus-readme-"));
  for (const entry of ["package.json", "node_modules", "server", "gen", "proto", "examples"]) {
    symlinkSync(join(REPO, entry), join(dir, entry));
  }
  return { path: dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
