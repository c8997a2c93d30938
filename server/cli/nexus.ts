#!/usr/bin/env node
/**
 * The `nexus` command line (node:util parseArgs: Node's own parser, no dependency). One file per
 * command beside this one; this file only dispatches and prints usage.
 */
import { parseArgs } from "node:util";
import { keysGenerate } from "./keys-generate.ts";
import { keysRotate } from "./keys-rotate.ts";
import { API_KEY_COMMANDS, runApiKeysCommand } from "./api-keys-command.ts";
import { runProvidersCommand } from "./providers-command.ts";

const USAGE = `usage: nexus <command>

commands:
  keys generate [--id KID]   print a new encryption key entry for NEXUS_ENCRYPTION_KEYS
  keys rotate                re-encrypt every stored secret under the active key (online)
  keys create --role admin|agent --name NAME [--tenant T] [--expires 30d] [--json]
                             create an API key; its secret is printed once
  keys list [--tenant T] [--json]
                             list API keys (never their secrets)
  keys revoke KEY_ID         revoke an API key
  providers plan|apply -f FILE [--prune] [--url URL] [--api-key KEY]
                             show or apply the drift between a providers file and the server
  help                       show this text
`;

async function run(argv: string[]): Promise<number> {
  // The providers commands parse their own options (file, url, prune, …).
  if (argv[0] === "providers") return runProvidersCommand(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  // The API key commands, likewise (role, name, tenant, expiry …).
  if (argv[0] === "keys" && API_KEY_COMMANDS.includes(argv[1] ?? "")) {
    return runApiKeysCommand(argv.slice(1), { stdout: process.stdout, stderr: process.stderr, env: process.env });
  }
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { id: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  const [group, command] = positionals;
  if (values.help || group === undefined || group === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  if (group === "keys" && command === "generate") {
    if (values.id !== undefined && !/^[A-Za-z0-9_-]{1,32}$/.test(values.id)) {
      process.stderr.write("nexus: --id must be 1-32 characters of [A-Za-z0-9_-]\n");
      return 2;
    }
    keysGenerate({ id: values.id, out: process.stdout });
    return 0;
  }
  if (group === "keys" && command === "rotate") return keysRotate({ env: process.env, out: process.stdout });
  process.stderr.write(`nexus: unknown command "${positionals.join(" ")}"\n\n${USAGE}`);
  return 2;
}

try {
  process.exitCode = await run(process.argv.slice(2));
} catch (err) {
  // parseArgs throws TypeError with a readable message for unknown or malformed options; config
  // and store errors carry their own. None of them contains a secret value.
  const usage = err instanceof TypeError ? `\n${USAGE}` : "";
  process.stderr.write(`nexus: ${err instanceof Error ? err.message : String(err)}\n${usage}`);
  process.exitCode = err instanceof TypeError ? 2 : 1;
}
