/**
 * `nexus connections list|get|revoke`: the ConnectionService through the API. `list` follows page
 * tokens up to --limit; `revoke` answers whether the provider confirmed the revocation (RFC 7009).
 * Exit codes: 0 done, 1 the server refused or could not be reached, 2 usage.
 */
import { type Connection, ConnectionSchema } from "../../gen/nexus/v1/connections_pb.ts";
import { ConnectionStatus, ConnectionStatusSchema } from "../../gen/nexus/v1/status_pb.ts";
import { CONNECTION_STATUSES, isConnectionStatus } from "../domain/connection-status.ts";
import { restEnumName, toRestJson } from "../rest/rest-json.ts";
import { createApiClients, describeFailure, SERVER_OPTIONS, serverTarget } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { isoTimestamp, isoUnixSeconds, writeJsonLine, writeTable } from "./output.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of the connections commands. */
export const CONNECTIONS_USAGE = `usage: nexus connections list|get|revoke [options]

  list [--tenant T] [--user U] [--provider P] [--status S] [--account ID] [--label K=V]… [--limit N]
                          connections, newest first (admin keys must name --tenant);
                          --label may repeat (every one must match)
  get ID                  one connection
  revoke ID               revoke it: the provider is told (RFC 7009) and its secrets are deleted

options: --json (one JSON object per line), --url URL (default $NEXUS_URL or http://127.0.0.1:8080),
         --api-key KEY (default $NEXUS_API_KEY)
`;

/** Runs `nexus connections …` with `argv` after the word "connections"; returns the exit code. */
export async function runConnectionsCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...SERVER_OPTIONS,
      tenant: { type: "string" },
      user: { type: "string" },
      provider: { type: "string" },
      status: { type: "string" },
      account: { type: "string" },
      label: { type: "string", multiple: true },
      limit: { type: "string" },
      json: { type: "boolean" },
    },
    CONNECTIONS_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { positionals, values } = parsed;
  const target = serverTarget(values, io.env);
  if (typeof target === "string") return usage(io, target);
  const [command, ...rest] = positionals;
  const json = values.json ?? false;
  const api = createApiClients(target);
  let run: () => Promise<number>;
  switch (command) {
    case "list": {
      if (rest.length > 0) return usage(io, `unexpected argument "${rest[0]}"`);
      const status = values.status === undefined ? ConnectionStatus.UNSPECIFIED : parseStatus(values.status);
      if (status === undefined) return usage(io, `--status must be one of ${CONNECTION_STATUSES.join(", ")}`);
      const limit = values.limit === undefined ? 1000 : Number(values.limit);
      if (!Number.isInteger(limit) || limit < 1) return usage(io, "--limit must be a positive integer");
      run = async () => {
        const found: Connection[] = [];
        let pageToken = "";
        do {
          const page = await api.connections.listConnections({
            tenantId: values.tenant ?? "",
            userId: values.user ?? "",
            providerName: values.provider ?? "",
            status,
            accountId: values.account ?? "",
            labels: values.label ?? [],
            pageSize: Math.min(500, limit - found.length),
            pageToken,
          });
          found.push(...page.connections);
          pageToken = page.nextPageToken;
        } while (pageToken !== "" && found.length < limit);
        if (json) for (const c of found) writeJsonLine(io.stdout, ConnectionSchema, c);
        else writeTable(io.stdout, [["CONNECTION ID", "TENANT", "USER", "PROVIDER", "STATUS", "UPDATED"], ...found.map(row)]);
        return 0;
      };
      break;
    }
    case "get":
    case "revoke": {
      const [connectionId, ...extra] = rest;
      if (connectionId === undefined || extra.length > 0) return usage(io, `${command} takes exactly one connection ID`);
      run = async () => {
        if (command === "get") {
          const { connection } = await api.connections.getConnection({ connectionId });
          if (connection !== undefined) writeConnection(io, connection, json);
          return 0;
        }
        const { connection, providerRevoked } = await api.connections.revokeConnection({ connectionId });
        if (json) {
          // The connection's REST JSON plus the one fact the revocation adds.
          const value = connection === undefined ? {} : (toRestJson(ConnectionSchema, connection) as object);
          io.stdout.write(`${JSON.stringify({ ...value, provider_revoked: providerRevoked })}\n`);
        } else {
          io.stdout.write(
            `revoked ${connectionId}; provider ${providerRevoked ? "confirmed the revocation" : "not told (no revocation endpoint, or it did not answer)"}; secrets deleted\n`,
          );
        }
        return 0;
      };
      break;
    }
    default:
      return usage(io, `unknown connections command "${positionals.join(" ")}"`);
  }
  try {
    return await run();
  } catch (err) {
    io.stderr.write(`nexus: ${describeFailure(err, target)}\n`);
    return 1;
  }
}

function writeConnection(io: CommandIo, c: Connection, json: boolean): void {
  if (json) {
    writeJsonLine(io.stdout, ConnectionSchema, c);
    return;
  }
  const lines: [string, string][] = [
    ["connection", c.connectionId],
    ["tenant", c.tenantId],
    ["user", c.userId],
    ["provider", c.providerName],
    ["status", statusName(c.status) + (c.statusReason === "" ? "" : ` (${c.statusReason})`)],
    ...(c.reusedConnectionId === "" ? [] : [["use instead", c.reusedConnectionId] as [string, string]]),
    ["account", accountText(c)],
    ["labels", pairs(c.labels)],
    ["metadata", pairs(c.metadata)],
    ["scopes", c.scopes.join(" ")],
    ["params", pairs(c.params)],
    ["created", isoTimestamp(c.createTime)],
    ["updated", isoTimestamp(c.updateTime)],
    ["expires", isoUnixSeconds(c.expiresAt) || "never"],
    ["credential version", String(c.credentialVersion)],
  ];
  for (const [name, value] of lines) io.stdout.write(`${`${name}:`.padEnd(20)}${value}\n`);
}

/** "4242 (octo, octo@example.com)", or "unknown" before the account is learned. */
function accountText(c: Connection): string {
  const a = c.account;
  if (a === undefined || a.id === "") return "unknown";
  const more = [a.displayName, a.email].filter((v) => v !== "");
  return more.length === 0 ? a.id : `${a.id} (${more.join(", ")})`;
}

function pairs(map: Readonly<Record<string, string>>): string {
  return Object.entries(map)
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
}

function row(c: Connection): string[] {
  return [c.connectionId, c.tenantId, c.userId, c.providerName, statusName(c.status), isoTimestamp(c.updateTime)];
}

/** The REST name of a status (e.g. "attention_required"). */
export function statusName(status: ConnectionStatus): string {
  const value = ConnectionStatusSchema.values.find((v) => v.number === status);
  return value === undefined ? String(status) : restEnumName(ConnectionStatusSchema, value.name);
}

function parseStatus(text: string): ConnectionStatus | undefined {
  if (!isConnectionStatus(text)) return undefined;
  return ConnectionStatusSchema.values.find((v) => v.name === `CONNECTION_STATUS_${text.toUpperCase()}`)?.number as ConnectionStatus;
}

function usage(io: CommandIo, message: string): number {
  return usageError(io, CONNECTIONS_USAGE, message);
}
