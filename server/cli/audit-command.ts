/**
 * `nexus audit`: recent audit events through the API (ListAuditEvents, admin keys), newest first,
 * filtered by tenant, connection, key, action and time. Audit rows never hold a secret, so both
 * outputs print them whole. Exit codes: 0 done, 1 refused or unreachable, 2 usage.
 */
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type AuditEvent, AuditEventSchema } from "../../gen/nexus/v1/audit_pb.ts";
import { systemNow } from "../config/defaults.ts";
import { createApiClients, describeFailure, SERVER_OPTIONS, serverTarget } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { isoTimestamp, writeJsonLine, writeTable } from "./output.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of `audit`. */
export const AUDIT_USAGE = `usage: nexus audit [filters] [options]

  recent audit events, newest first (needs an admin key)

filters:
  --tenant T              events of this tenant
  --connection ID         events about this connection
  --key KEY_ID            events of requests made with this API key
  --action A              e.g. token.read, connection.revoke, request.denied
  --since 1h|30m|2d|DATE  events at or after this time (a duration counts back from now)
  --until DATE            events before this time
  --limit N               at most N events (default 50)

options: --json (one JSON object per line), --url URL (default $NEXUS_URL or http://127.0.0.1:8080),
         --api-key KEY (default $NEXUS_API_KEY)
`;

/** Runs `nexus audit …` with `argv` after the word "audit"; returns the exit code. */
export async function runAuditCommand(argv: string[], io: CommandIo, now: () => number = systemNow): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...SERVER_OPTIONS,
      tenant: { type: "string" },
      connection: { type: "string" },
      key: { type: "string" },
      action: { type: "string" },
      since: { type: "string" },
      until: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    },
    AUDIT_USAGE,
    io,
    { allowPositionals: false },
  );
  if (typeof parsed === "number") return parsed;
  const { values } = parsed;
  const target = serverTarget(values, io.env);
  if (typeof target === "string") return usage(io, target);
  const sinceMs = values.since === undefined ? undefined : parseTime(values.since, now());
  if (sinceMs === null) return usage(io, "--since must be a duration like 1h, 30m, 2d or an ISO date such as 2027-01-31");
  const untilMs = values.until === undefined ? undefined : parseTime(values.until, now());
  if (untilMs === null) return usage(io, "--until must be an ISO date such as 2027-01-31T12:00:00Z");
  const limit = values.limit === undefined ? 50 : Number(values.limit);
  if (!Number.isInteger(limit) || limit < 1) return usage(io, "--limit must be a positive integer");

  const { audit } = createApiClients(target);
  try {
    const events: AuditEvent[] = [];
    let pageToken = "";
    do {
      const page = await audit.listAuditEvents({
        tenantId: values.tenant ?? "",
        connectionId: values.connection ?? "",
        keyId: values.key ?? "",
        action: values.action ?? "",
        startTime: sinceMs === undefined ? undefined : timestampFromMs(sinceMs),
        endTime: untilMs === undefined ? undefined : timestampFromMs(untilMs),
        pageSize: Math.min(1000, limit - events.length),
        pageToken,
      });
      events.push(...page.events);
      pageToken = page.nextPageToken;
    } while (pageToken !== "" && events.length < limit);
    if (values.json) for (const e of events) writeJsonLine(io.stdout, AuditEventSchema, e);
    else {
      writeTable(io.stdout, [
        ["TIME", "ACTION", "RESULT", "KEY", "TENANT", "CONNECTION", "DETAILS"],
        ...events.map((e) => [
          isoTimestamp(e.time),
          e.action,
          e.result,
          e.keyId,
          e.tenantId,
          e.connectionId,
          Object.entries(e.details)
            .map(([k, v]) => `${k}=${v}`)
            .join(" "),
        ]),
      ]);
    }
    return 0;
  } catch (err) {
    io.stderr.write(`nexus: ${describeFailure(err, target)}\n`);
    return 1;
  }
}

/** A duration back from now (`90m`, `12h`, `7d`) or an ISO 8601 date(-time); null when neither. */
export function parseTime(text: string, nowMs: number): number | null {
  const relative = /^(\d{1,6})([smhd])$/.exec(text);
  if (relative !== null) {
    const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "s" | "m" | "h" | "d"];
    return nowMs - Number(relative[1]) * unitMs;
  }
  const absolute = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2}))?$/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isNaN(absolute) ? null : absolute;
}

function usage(io: CommandIo, message: string): number {
  return usageError(io, AUDIT_USAGE, message);
}
