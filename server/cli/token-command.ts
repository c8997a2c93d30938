/**
 * `nexus token ID` and `nexus watch ID`: the TokenService through the API. `token` prints the
 * connection's current credential (its usage secrets included: that is what it is asked for; the
 * read is audited like any GetToken). `watch` prints each event of WatchCredentials until Ctrl-C
 * (exit 0) or until the server ends the stream (revoked, attention required, shutdown: exit 1);
 * its table output names versions and expiries but never prints a secret.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Credential, CredentialSchema, StrategyTypeSchema } from "../../gen/nexus/v1/credential_pb.ts";
import { WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import { restEnumName, toRestJson } from "../rest/rest-json.ts";
import { createApiClients, describeFailure, SERVER_OPTIONS, serverTarget } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { statusName } from "./connections-command.ts";
import { isoSeconds, isoUnixSeconds, writeJsonLine } from "./output.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of `token` and `watch`. */
export const TOKEN_USAGE = `usage: nexus token ID [options]
       nexus watch ID [--after-version N] [options]

  token ID                print the connection's current credential (strategy, usage secrets, expiry)
  watch ID                print every new credential and status change until Ctrl-C
                          (the table never shows secrets; --json prints the API's events as they come)

options: --json (one JSON object per line), --url URL (default $NEXUS_URL or http://127.0.0.1:8080),
         --api-key KEY (default $NEXUS_API_KEY)
`;

/**
 * Runs `nexus token|watch …` (`argv` starts with the command word); returns the exit code.
 * `signal` ends a watch quietly (the CLI aborts it on SIGINT / SIGTERM).
 */
export async function runTokenCommand(argv: string[], io: CommandIo, signal?: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    { ...SERVER_OPTIONS, "after-version": { type: "string" }, json: { type: "boolean" } },
    TOKEN_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { positionals, values } = parsed;
  const [command, connectionId, ...extra] = positionals;
  if (connectionId === undefined || extra.length > 0) return usage(io, `${command} takes exactly one connection ID`);
  const target = serverTarget(values, io.env);
  if (typeof target === "string") return usage(io, target);
  const json = values.json ?? false;
  const { tokens } = createApiClients(target);
  try {
    if (command === "token") {
      if (values["after-version"] !== undefined) return usage(io, "--after-version is for watch only");
      const { credential } = await tokens.getToken({ connectionId });
      if (credential !== undefined) writeCredential(io, credential, json);
      return 0;
    }
    const afterText = values["after-version"] ?? "0";
    if (!/^\d{1,18}$/.test(afterText)) return usage(io, "--after-version must be a non-negative integer");
    for await (const event of tokens.watchCredentials({ connectionId, afterVersion: BigInt(afterText) }, { signal })) {
      // Heartbeats only prove liveness; the client library uses them, a person does not need them.
      if (event.event.case === "heartbeat" || event.event.case === undefined) continue;
      if (json) writeJsonLine(io.stdout, WatchCredentialsResponseSchema, event);
      else if (event.event.case === "credential") io.stdout.write(`${isoSeconds(Date.now())}  ${summary(event.event.value)}\n`);
      else {
        const { status, reason } = event.event.value;
        io.stdout.write(`${isoSeconds(Date.now())}  status ${statusName(status)}${reason === "" ? "" : ` (${reason})`}\n`);
      }
    }
    return 0;
  } catch (err) {
    if (signal?.aborted && err instanceof ConnectError && err.code === Code.Canceled) return 0;
    io.stderr.write(`nexus: ${describeFailure(err, target)}\n`);
    return 1;
  }
}

/** "credential version 3 (oauth2, expires …)": what changed, without the secret. */
function summary(credential: Credential): string {
  const expires = isoUnixSeconds(credential.expiresAt);
  return `credential version ${credential.version} (${strategyName(credential)}, ${expires === "" ? "does not expire" : `expires ${expires}`})`;
}

function strategyName(credential: Credential): string {
  const value = StrategyTypeSchema.values.find((v) => v.number === credential.strategy?.type);
  return value === undefined ? "unknown strategy" : restEnumName(StrategyTypeSchema, value.name);
}

function writeCredential(io: CommandIo, credential: Credential, json: boolean): void {
  if (json) {
    writeJsonLine(io.stdout, CredentialSchema, credential);
    return;
  }
  const rest = toRestJson(CredentialSchema, credential) as JsonObject;
  const lines: [string, string][] = [
    ["connection", credential.connectionId],
    ["strategy", JSON.stringify(rest.strategy ?? {})],
    ["expires", isoUnixSeconds(credential.expiresAt) || "never"],
    ["version", String(credential.version)],
  ];
  for (const [name, value] of lines) io.stdout.write(`${`${name}:`.padEnd(13)}${value}\n`);
  io.stdout.write("credentials:\n");
  const fields = (rest.credentials ?? {}) as JsonObject;
  for (const [name, value] of Object.entries(fields))
    io.stdout.write(`  ${name}: ${typeof value === "string" ? value : JSON.stringify(value)}\n`);
}

function usage(io: CommandIo, message: string): number {
  return usageError(io, TOKEN_USAGE, message);
}
