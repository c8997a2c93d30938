/**
 * `nexus keys create|list|revoke`: API key administration straight against the configured database
 * (like `keys rotate`), for bootstrapping and break-glass use without a running server. Parses the
 * arguments, opens the store, runs one of keys-create.ts / keys-list.ts / keys-revoke.ts and maps
 * failures to exit codes: 2 for usage and invalid values, 1 for a missing key or a store failure.
 */
import { parseArgs } from "node:util";
import { createApiKeyManager } from "../auth/api-key-manager.ts";
import { loadConfig } from "../config/config.ts";
import { InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import { openStore } from "../store/open-store.ts";
import { keysCreate, parseExpiry } from "./keys-create.ts";
import { keysList } from "./keys-list.ts";
import { keysRevoke } from "./keys-revoke.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of the API key commands. */
export const API_KEYS_USAGE = `usage: nexus keys create|list|revoke [options]

  create --role admin|agent --name NAME [--tenant TENANT] [--expires 30d|12h|DATE] [--json]
                          create an API key and print its secret once (agent keys need --tenant;
                          a new tenant is created)
  list [--tenant TENANT] [--json]
                          list API keys (never their secrets)
  revoke KEY_ID           revoke a key (running servers notice within NEXUS_API_KEY_CACHE_MS)

Works on the database of NEXUS_DATA_DIR / DATABASE_URL, like the server.
`;

/** The API key subcommands `nexus.ts` routes here. */
export const API_KEY_COMMANDS: readonly string[] = ["create", "list", "revoke"];

/** Runs `nexus keys <create|list|revoke> …` with `argv` after the word "keys"; returns the exit code. */
export async function runApiKeysCommand(argv: string[], io: CommandIo, now: () => number = Date.now): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        role: { type: "string" },
        name: { type: "string" },
        tenant: { type: "string" },
        expires: { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    return usage(io, err instanceof Error ? err.message : String(err));
  }
  const { positionals, values } = parsed;
  if (values.help) {
    io.stdout.write(API_KEYS_USAGE);
    return 0;
  }
  const [command, ...rest] = positionals;
  const json = values.json ?? false;
  let run: (keys: ReturnType<typeof createApiKeyManager>) => Promise<number>;
  switch (command) {
    case "create": {
      if (rest.length > 0) return usage(io, `unexpected argument "${rest[0]}"`);
      if (values.role !== "admin" && values.role !== "agent") return usage(io, "--role admin|agent is required");
      if (values.name === undefined) return usage(io, "--name NAME is required");
      const expiresAtMs = values.expires === undefined ? undefined : parseExpiry(values.expires, now());
      if (values.expires !== undefined && expiresAtMs === undefined) {
        return usage(io, "--expires must be a duration like 30d, 12h, 45m or an ISO date such as 2027-01-31");
      }
      const options = { role: values.role as "admin" | "agent", name: values.name, tenantId: values.tenant, expiresAtMs, json };
      run = (keys) => keysCreate(keys, options, io);
      break;
    }
    case "list":
      if (rest.length > 0) return usage(io, `unexpected argument "${rest[0]}"`);
      run = (keys) => keysList(keys, { tenantId: values.tenant, json }, io);
      break;
    case "revoke": {
      const [keyId, ...extra] = rest;
      if (keyId === undefined || extra.length > 0) return usage(io, "revoke takes exactly one KEY_ID");
      run = (keys) => keysRevoke(keys, keyId, io);
      break;
    }
    default:
      return usage(io, `unknown keys command "${positionals.join(" ")}"`);
  }

  const config = loadConfig(io.env);
  const store = await openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    return await run(createApiKeyManager({ store, now }));
  } catch (err) {
    if (err instanceof InvalidArgumentError) return usage(io, err.message);
    if (err instanceof NotFoundError) {
      io.stderr.write(`nexus: ${err.message}\n`);
      return 1;
    }
    throw err;
  } finally {
    await store.close();
  }
}

function usage(io: CommandIo, message: string): number {
  io.stderr.write(`nexus: ${message}\n\n${API_KEYS_USAGE}`);
  return 2;
}
