/**
 * How the CLI reaches a running server: typed Connect clients for every Nexus service, built from
 * --url / NEXUS_URL and --api-key / NEXUS_API_KEY, and the one place that turns a failed call into
 * an operator-readable line. The key is sent as a bearer token and never printed.
 */
import { type Client, Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { ErrorInfoSchema, ErrorReason, ErrorReasonSchema } from "../../gen/nexus/v1/errors_pb.ts";
import { ConnectionEventService } from "../../gen/nexus/v1/events_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { WebhookService } from "../../gen/nexus/v1/webhooks_pb.ts";

/** Server URL used when neither --url nor NEXUS_URL is given (the server's own default). */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Option definitions (node:util parseArgs) shared by every command that calls the API. */
export const SERVER_OPTIONS = {
  url: { type: "string" },
  "api-key": { type: "string" },
} as const;

/** Where the server is and which key to send. */
export interface ServerTarget {
  baseUrl: string;
  apiKey: string | undefined;
}

/**
 * Resolves the target from parsed options and the environment: --url, then NEXUS_URL, then
 * {@link DEFAULT_URL}; --api-key, then NEXUS_API_KEY. Returns an error message for a bad URL.
 */
export function serverTarget(values: { url?: string; "api-key"?: string }, env: NodeJS.ProcessEnv): ServerTarget | string {
  const baseUrl = values.url ?? (env.NEXUS_URL || DEFAULT_URL);
  if (!/^https?:\/\/[^/]/.test(baseUrl)) return "--url (or NEXUS_URL) must be an http(s) URL";
  const apiKey = values["api-key"] ?? (env.NEXUS_API_KEY || undefined);
  return { baseUrl: baseUrl.replace(/\/+$/, ""), apiKey };
}

/** Typed clients of the services the CLI calls. */
export interface ApiClients {
  connections: Client<typeof ConnectionService>;
  tokens: Client<typeof TokenService>;
  apiKeys: Client<typeof ApiKeyService>;
  audit: Client<typeof AuditService>;
  connectionEvents: Client<typeof ConnectionEventService>;
  webhooks: Client<typeof WebhookService>;
}

/**
 * Creates the clients: the Connect protocol over HTTP/1.1, which every deployment (proxies
 * included) carries, and which streams WatchCredentials as well.
 */
export function createApiClients(target: ServerTarget): ApiClients {
  const interceptors: Interceptor[] = [];
  const { apiKey } = target;
  if (apiKey !== undefined) {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    });
  }
  const transport = createConnectTransport({ baseUrl: target.baseUrl, httpVersion: "1.1", interceptors });
  return {
    connections: createClient(ConnectionService, transport),
    tokens: createClient(TokenService, transport),
    apiKeys: createClient(ApiKeyService, transport),
    audit: createClient(AuditService, transport),
    connectionEvents: createClient(ConnectionEventService, transport),
    webhooks: createClient(WebhookService, transport),
  };
}

/** One line saying why a call failed, for stderr; names the ErrorInfo reason when there is one. */
export function describeFailure(err: unknown, target: ServerTarget): string {
  if (!(err instanceof ConnectError)) return err instanceof Error ? err.message : String(err);
  if (err.code === Code.Unavailable || (err.code === Code.Unknown && err.findDetails(ErrorInfoSchema).length === 0)) {
    return `cannot reach the server at ${target.baseUrl}: ${err.rawMessage} (set --url or NEXUS_URL)`;
  }
  if (err.code === Code.Unauthenticated) {
    return `the server refused the API key (${err.rawMessage}): set --api-key or NEXUS_API_KEY`;
  }
  const [info] = err.findDetails(ErrorInfoSchema);
  const reasonName = ErrorReasonSchema.values.find((v) => v.number === info?.reason)?.name.replace(/^ERROR_REASON_/, "");
  const reason = info === undefined || info.reason === ErrorReason.UNSPECIFIED || reasonName === undefined ? "" : ` [${reasonName}]`;
  return `${codeName(err.code)}: ${err.rawMessage}${reason}`;
}

/** The Connect code name, e.g. "not_found". */
export function codeName(code: Code): string {
  return (Code[code] ?? "unknown").replace(/[A-Z]/g, (c, i: number) => (i === 0 ? c.toLowerCase() : `_${c.toLowerCase()}`));
}
