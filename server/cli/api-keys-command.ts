/**
 * `nexus keys create|list|revoke`: API key administration. By default through the running server's
 * ApiKeyService (--url / NEXUS_URL, an admin key in --api-key / NEXUS_API_KEY), so the server sees
 * the change at once and audits it. `--direct` works on the database instead (NEXUS_DATA_DIR /
 * DATABASE_URL, like the server) for bootstrap and recovery; it refuses a SQLite database that does
 * not exist unless `--init`. Exit codes: 2 for usage and invalid values, 1 for a refusal, a missing
 * key or database, or an unreachable server.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { createApiKeyManager } from "../auth/api-key-manager.ts";
import { systemNow } from "../config/defaults.ts";
import { InvalidArgumentError, NotFoundError } from "../domain/errors.ts";
import { type ProxyRule, parseProxyRule } from "../domain/proxy-rule.ts";
import { createApiClients, describeFailure, SERVER_OPTIONS, serverTarget } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { createDirectKeyAdmin, createRemoteKeyAdmin, type KeyAdmin } from "./key-admin.ts";
import { keysCreate, parseExpiry } from "./keys-create.ts";
import { keysList } from "./keys-list.ts";
import { keysRevoke } from "./keys-revoke.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of the API key commands. */
export const API_KEYS_USAGE = `usage: nexus keys create|list|revoke [options]

  create --role admin|agent --name NAME [--tenant TENANT] [--expires 30d|12h|DATE]
         [--proxy-rule PROVIDER:METHODS:/PATH ...] [--proxy-only]
                          create an API key and print its secret once (agent keys need --tenant;
                          a new tenant is created). Agent keys only:
                          --proxy-rule (repeatable) allows calls through the credential proxy,
                            e.g. 'github:GET,HEAD:/repos/**' (METHODS: GET,HEAD,POST,PUT,PATCH,
                            DELETE,OPTIONS or *; PATH: * one segment, ** any number)
                          --proxy-only: the key never receives a credential (no token, refresh
                            or watch), it reaches providers only through the proxy
  list [--tenant TENANT]  list API keys (never their secrets)
  revoke KEY_ID           revoke a key

options:
  --json                  one JSON object per line
  --url URL               server (default $NEXUS_URL or http://127.0.0.1:8080)
  --api-key KEY           an admin key (default $NEXUS_API_KEY)
  --direct                work on the database (NEXUS_DATA_DIR / DATABASE_URL) instead of the server:
                          for the first admin key or a lost one. Running servers notice a direct
                          revocation within NEXUS_API_KEY_CACHE_MS.
  --init                  with --direct: create the SQLite database if it does not exist
`;

/** The API key subcommands `nexus.ts` routes here. */
export const API_KEY_COMMANDS: readonly string[] = ["create", "list", "revoke"];

/** Runs `nexus keys <create|list|revoke> …` with `argv` after the word "keys"; returns the exit code. */
export async function runApiKeysCommand(argv: string[], io: CommandIo, now: () => number = systemNow): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...SERVER_OPTIONS,
      role: { type: "string" },
      name: { type: "string" },
      tenant: { type: "string" },
      expires: { type: "string" },
      "proxy-rule": { type: "string", multiple: true },
      "proxy-only": { type: "boolean" },
      json: { type: "boolean" },
      direct: { type: "boolean" },
      init: { type: "boolean" },
    },
    API_KEYS_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { positionals, values } = parsed;
  const [command, ...rest] = positionals;
  const json = values.json ?? false;
  let run: (keys: KeyAdmin) => Promise<number>;
  switch (command) {
    case "create": {
      if (rest.length > 0) return usage(io, `unexpected argument "${rest[0]}"`);
      if (values.role !== "admin" && values.role !== "agent") return usage(io, "--role admin|agent is required");
      if (values.name === undefined) return usage(io, "--name NAME is required");
      const expiresAtMs = values.expires === undefined ? undefined : parseExpiry(values.expires, now());
      if (values.expires !== undefined && expiresAtMs === undefined) {
        return usage(io, "--expires must be a duration like 30d, 12h, 45m or an ISO date such as 2027-01-31");
      }
      const proxyRules: ProxyRule[] = [];
      for (const text of values["proxy-rule"] ?? []) {
        const rule = parseProxyRule(text);
        if (typeof rule === "string") return usage(io, `--proxy-rule "${text.slice(0, 80)}": ${rule}`);
        proxyRules.push(rule);
      }
      const options = {
        role: values.role as "admin" | "agent",
        name: values.name,
        tenantId: values.tenant,
        expiresAtMs,
        proxyRules,
        proxyOnly: values["proxy-only"] ?? false,
        json,
      };
      run = (keys) => keysCreate(keys, options, io);
      break;
    }
    case "list":
      if (rest.length > 0) return usage(io, `unexpected argument "${rest[0]}"`);
      run = (keys) => keysList(keys, { tenantId: values.tenant, json, nowMs: now() }, io);
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
  if (values.init && !values.direct) return usage(io, "--init only goes with --direct");
  if (values.direct && (values.url !== undefined || values["api-key"] !== undefined)) {
    return usage(io, "--direct works on the database: --url and --api-key do not apply");
  }
  return values.direct ? runDirect(run, io, now, values.init ?? false) : runRemote(run, io, values);
}

async function runRemote(
  run: (keys: KeyAdmin) => Promise<number>,
  io: CommandIo,
  values: { url?: string; "api-key"?: string },
): Promise<number> {
  const target = serverTarget(values, io.env);
  if (typeof target === "string") return usage(io, target);
  try {
    return await run(createRemoteKeyAdmin(createApiClients(target).apiKeys));
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.InvalidArgument) return usage(io, describeFailure(err, target));
    io.stderr.write(`nexus: ${describeFailure(err, target)}\n`);
    return 1;
  }
}

async function runDirect(run: (keys: KeyAdmin) => Promise<number>, io: CommandIo, now: () => number, init: boolean): Promise<number> {
  // Loaded only here: the database drivers cost about a second of start-up.
  const { MissingDatabaseError, openDirectStore } = await import("./direct-store.ts");
  let store;
  try {
    store = await openDirectStore(io.env, { init });
  } catch (err) {
    if (!(err instanceof MissingDatabaseError)) throw err;
    io.stderr.write(`nexus: ${err.message}\n`);
    return 1;
  }
  try {
    return await run(createDirectKeyAdmin(createApiKeyManager({ store, now })));
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
  return usageError(io, API_KEYS_USAGE, message);
}
