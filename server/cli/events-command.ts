/**
 * `nexus events`: tails WatchConnections — one line per connection change of the tenant (created,
 * active, failed, revoked …) until Ctrl-C (exit 0) or until the server ends the stream (exit 1).
 * Each line ends with the event's cursor; `--after CURSOR` resumes right after it. Events carry no
 * secret, so the table and --json print them whole.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type ConnectionEvent, ConnectionEventTypeSchema, WatchConnectionsResponseSchema } from "../../gen/nexus/v1/events_pb.ts";
import { restEnumName } from "../rest/rest-json.ts";
import { createApiClients, describeFailure, SERVER_OPTIONS, serverTarget } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { statusName } from "./connections-command.ts";
import { isoTimestamp, writeJsonLine } from "./output.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of `events`. */
export const EVENTS_USAGE = `usage: nexus events [--tenant T] [--connection ID] [--after CURSOR | --replay] [options]

  events                  print each connection change of the tenant until Ctrl-C; each line ends
                          with the event's cursor (agent keys: their own tenant; admin keys: --tenant)
  --connection ID         only this connection's events
  --after CURSOR          start right after this cursor (resume); default: from now
  --replay                start at the oldest retained event instead of now

options: --json (the API's messages, heartbeats included, one per line), --url URL (default $NEXUS_URL
         or http://127.0.0.1:8080), --api-key KEY (default $NEXUS_API_KEY)
`;

/** Runs `nexus events …` (`argv` starts after the command word); returns the exit code. `signal` ends it quietly. */
export async function runEventsCommand(argv: string[], io: CommandIo, signal?: AbortSignal): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...SERVER_OPTIONS,
      tenant: { type: "string" },
      connection: { type: "string" },
      after: { type: "string" },
      replay: { type: "boolean" },
      json: { type: "boolean" },
    },
    EVENTS_USAGE,
    io,
  );
  if (typeof parsed === "number") return parsed;
  const { positionals, values } = parsed;
  if (positionals.length > 0) return usageError(io, EVENTS_USAGE, "events takes no positional arguments");
  if (values.after !== undefined && values.replay) return usageError(io, EVENTS_USAGE, "--after and --replay exclude each other");
  const target = serverTarget(values, io.env);
  if (typeof target === "string") return usageError(io, EVENTS_USAGE, target);
  const json = values.json ?? false;
  const { connectionEvents } = createApiClients(target);
  const request = {
    tenantId: values.tenant ?? "",
    connectionId: values.connection ?? "",
    afterCursor: values.after ?? "",
    replayRetained: values.replay ?? false,
  };
  try {
    for await (const message of connectionEvents.watchConnections(request, { signal })) {
      if (json) writeJsonLine(io.stdout, WatchConnectionsResponseSchema, message);
      else if (message.event.case === "connectionEvent") io.stdout.write(`${line(message.event.value)}\n`);
    }
    io.stderr.write("nexus: the server ended the stream; resume with --after and the last cursor\n");
    return 1;
  } catch (err) {
    if (signal?.aborted && err instanceof ConnectError && err.code === Code.Canceled) return 0;
    io.stderr.write(`nexus: ${describeFailure(err, target)}\n`);
    return 1;
  }
}

/** "2026-…Z  active  conn_…  github  user=alice  status=active  cursor=…". */
function line(event: ConnectionEvent): string {
  const c = event.connection;
  const typeValue = ConnectionEventTypeSchema.values.find((v) => v.number === event.type);
  const type = typeValue === undefined ? String(event.type) : restEnumName(ConnectionEventTypeSchema, typeValue.name);
  const status = c === undefined ? "" : `${statusName(c.status)}${c.statusReason === "" ? "" : ` (${c.statusReason})`}`;
  return [
    isoTimestamp(event.occurTime),
    type,
    c?.connectionId ?? "",
    c?.providerName ?? "",
    `user=${c?.userId ?? ""}`,
    `status=${status}`,
    `cursor=${event.cursor}`,
  ].join("  ");
}
