#!/usr/bin/env node
/**
 * The `nexus` command line (node:util parseArgs: Node's own parser, no dependency). One file per
 * command beside this one; this file only dispatches and prints usage. Commands that read or change
 * server state call the running server's API; only `keys … --direct` and `keys rotate` open the
 * database, for bootstrap and recovery.
 */
import { parseArgs } from "node:util";
import { API_KEY_COMMANDS, runApiKeysCommand } from "./api-keys-command.ts";
import { runAuditCommand } from "./audit-command.ts";
import { runConnectionsCommand } from "./connections-command.ts";
import { runEventsCommand } from "./events-command.ts";
import { keysGenerate } from "./keys-generate.ts";
import { runProvidersCommand } from "./providers-command.ts";
import { runTokenCommand } from "./token-command.ts";
import { runWebhooksCommand } from "./webhooks-command.ts";

const USAGE = `usage: nexus <command> [options]

server commands (talk to the running server: --url URL or $NEXUS_URL, default http://127.0.0.1:8080;
--api-key KEY or $NEXUS_API_KEY; --json prints one JSON object per line):
  connections list [--tenant T] [--user U] [--provider P] [--status S]
                             list connections
  connections get ID         show one connection
  connections revoke ID      revoke a connection (provider told, secrets deleted)
  token ID                   print a connection's current credential
  watch ID                   print each new credential and status change until Ctrl-C
  events [--tenant T] [--connection ID] [--after CURSOR | --replay]
                             print each connection change of the tenant until Ctrl-C (resumable)
  audit [--connection ID] [--key KEY_ID] [--action A] [--since 1h] [--tenant T]
                             recent audit events (admin key)
  webhooks create|list|rotate|delete|deliveries|replay --tenant T
                             webhook endpoints and their failure list (admin key)
  keys create --role admin|agent --name NAME [--tenant T] [--expires 30d]
                             create an API key; its secret is printed once (admin key)
  keys list [--tenant T]     list API keys (never their secrets)
  keys revoke KEY_ID         revoke an API key
  providers plan|apply -f FILE [--prune]
                             show or apply the drift between a providers file and the server

database commands (NEXUS_DATA_DIR / DATABASE_URL, like the server; for bootstrap and recovery):
  keys create|list|revoke --direct [--init]
                             the keys commands on the database itself; a SQLite database that
                             does not exist is refused unless --init
  keys rotate                re-encrypt every stored secret under the active key (online)

offline:
  keys generate [--id KID]   print a new encryption key entry for NEXUS_ENCRYPTION_KEYS
  help                       show this text ("nexus <command> --help" shows a command's options)
`;

async function run(argv: string[], signal: AbortSignal): Promise<number> {
  const io = { stdout: process.stdout, stderr: process.stderr, env: process.env };
  // Each command group parses its own options.
  switch (argv[0]) {
    case "providers":
      return runProvidersCommand(argv.slice(1), io);
    case "connections":
      return runConnectionsCommand(argv.slice(1), io);
    case "token":
    case "watch":
      return runTokenCommand(argv, io, signal);
    case "audit":
      return runAuditCommand(argv.slice(1), io);
    case "events":
      return runEventsCommand(argv.slice(1), io, signal);
    case "webhooks":
      return runWebhooksCommand(argv.slice(1), io);
  }
  if (argv[0] === "keys" && API_KEY_COMMANDS.includes(argv[1] ?? "")) return runApiKeysCommand(argv.slice(1), io);
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
  if (group === "keys" && command === "rotate") {
    const { keysRotate } = await import("./keys-rotate.ts");
    return keysRotate({ env: process.env, out: process.stdout });
  }
  process.stderr.write(`nexus: unknown command "${positionals.join(" ")}"\n\n${USAGE}`);
  return 2;
}

// Ctrl-C (or SIGTERM) ends a running `watch` or `events` quietly (exit 0); other commands keep Node's default.
const abort = new AbortController();
if (process.argv[2] === "watch" || process.argv[2] === "events") {
  for (const name of ["SIGINT", "SIGTERM"] as const) {
    process.once(name, () => {
      abort.abort();
      // A second signal while the first is handled exits at once.
      process.once(name, () => process.exit(130));
    });
  }
}

try {
  process.exitCode = await run(process.argv.slice(2), abort.signal);
} catch (err) {
  // parseArgs throws TypeError with a readable message for unknown or malformed options; config
  // and store errors carry their own. None of them contains a secret value.
  const usage = err instanceof TypeError ? `\n${USAGE}` : "";
  process.stderr.write(`nexus: ${err instanceof Error ? err.message : String(err)}\n${usage}`);
  process.exitCode = err instanceof TypeError ? 2 : 1;
}
