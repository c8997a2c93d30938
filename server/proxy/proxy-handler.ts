/**
 * The credential-injecting proxy: `/v1/proxy/{connection_id}/{path…}` (any method) on the API port.
 * The caller authenticates with its Nexus key exactly as for REST; an agent key reaches only its own
 * tenant's connections (another tenant's looks missing). The target is the provider's
 * `api_base_url` (URL parameters filled as for the other endpoints) plus the checked path and query
 * (proxy-target.ts); the key's proxy rules (ProxyAccess) decide before any credential is opened. The
 * credential is read like GetToken (refreshed on read when due) and applied here; the agent never
 * sees it. The caller's Authorization and x-api-key (its Nexus key), cookies, forwarding and
 * hop-by-hop headers are never forwarded; Set-Cookie and hop-by-hop headers never come back.
 *
 * Bodies stream both ways with back-pressure and no buffering, except when a strategy
 * signs the body (hmac_payload, aws_sigv4: held up to a limit to sign it) or the body is small
 * enough to replay: a 401 from the provider then gets one forced refresh and one retry. Nothing else
 * is retried; 429 and 5xx pass through with their Retry-After. Outbound HTTP is undici (Node's own
 * HTTP client, already a dependency): connection pooling, and connect / headers / body timeouts that
 * map one to one onto the profile's connect / first-byte / idle timeouts; the total timeout is an
 * AbortSignal. Every call ends in one audit row ("proxy.call": ids, provider, method, the matched
 * rule, status, bytes, duration; never the path's values, the query, bodies or headers) and in the
 * proxy metrics.
 */
import { randomUUID } from "node:crypto";
import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, type ConnectError } from "@connectrpc/connect";
import { codeToHttpStatus } from "@connectrpc/connect/protocol-connect";
import type { Agent, Dispatcher } from "undici";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { AUDIT_ACTIONS } from "../audit/audit-actions.ts";
import type { AuditWriter } from "../audit/audit-writer.ts";
import type { ProxyAccess } from "../auth/proxy-access.ts";
import { DEFAULT_PROXY_REPLAY_BUFFER_BYTES, DEFAULT_PROXY_TIMEOUTS, PROXY_FRESH_401_MEMORY } from "../config/defaults.ts";
import { NotFoundError } from "../domain/errors.ts";
import { ClientClosedError } from "../http/read-limited-body.ts";
import type { Logger } from "../logging/logger.ts";
import type { ProxyMetrics } from "../metrics/server-metrics.ts";
import type { ProviderProfile, ProxyTimeouts } from "../providers/profile.ts";
import { fillUrlTemplate, templateParamNames, urlParamValues } from "../providers/url-template.ts";
import type { Principal } from "../request/principal.ts";
import { errorWithReason, toConnectError } from "../rpc/errors.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { TokenReader } from "../tokens/token-reader.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import { applyUsageCredential, StrategyError, signsBody } from "./apply-credential.ts";
import { knownReason, ProxyRefusal, reasonName, reasonOf, streamEndReason, tooLarge, upstreamError } from "./proxy-errors.ts";
import { forwardedHeaders, headerValue, overrideHeader, PROXY_REFUSAL_HEADER, passResponseHeaders } from "./proxy-headers.ts";
import { isProxyTarget, ProxyPathError, parseProxyTarget, targetUrl } from "./proxy-target.ts";
import { ResponseClosed, ResponseTooLarge, relayBody } from "./relay-body.ts";
import { isBodilessMethod, type OutgoingBody, requestBody } from "./request-body.ts";
import {
  appliedHeaderSecrets,
  CredentialInBody,
  identifierFields,
  SecretScreen,
  secretValues,
  UNSECRET_APPLIED_HEADERS,
} from "./secret-screen.ts";

export { PROXY_REFUSAL_HEADER } from "./proxy-headers.ts";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

/** Byte limits of proxied bodies. */
export interface ProxyLimits {
  maxRequestBytes: number;
  maxResponseBytes: number;
  /** Largest body a signing strategy may sign (held in memory). */
  maxSignedBodyBytes: number;
  /** A body of at most this many bytes (with Content-Length) is held so a 401 can be retried. Default DEFAULT_PROXY_REPLAY_BUFFER_BYTES. */
  replayBufferBytes?: number;
}

/** What the proxy needs. */
export interface ProxyHandlerDeps {
  /** Verifies the caller's key (as the RPC auth interceptor does); throws a ConnectError when refused. */
  authenticate(req: NodeRequest, facts: { requestId: string; clientAddress: string }): Promise<Principal>;
  access: ProxyAccess;
  store: Pick<Store, "findConnectionById" | "getProvider">;
  tokens: Pick<TokenReader, "proxyTarget" | "readConnectionWith" | "refresh">;
  audit: Pick<AuditWriter, "record">;
  metrics?: ProxyMetrics;
  /** Renders an error in Nexus's REST error shape. */
  errorJson(err: ConnectError): unknown;
  clientAddress(req: NodeRequest): string;
  /** Epoch ms (SigV4 signing dates). */
  now: () => number;
  limits: ProxyLimits;
  logger?: Pick<Logger, "warn" | "debug">;
  /** The outbound dispatcher for a connect timeout (default: one pooled undici Agent per timeout); tests may observe calls. */
  dispatcher?: (connectTimeoutMs: number) => Dispatcher;
}

/** The proxy route. */
export interface ProxyHandler {
  /** Serves the request when it is a proxy call (resolves true), else leaves it alone (false). */
  handle(req: NodeRequest, res: NodeResponse): Promise<boolean>;
  /** Closes the outbound connection pools. */
  close(): Promise<void>;
}

/** Methods never proxied: TRACE (and TRACK) echo the request as received, with the applied credential; CONNECT opens a tunnel. */
const REFUSED_METHODS = new Set(["TRACE", "TRACK", "CONNECT"]);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** What one call learnt, for its audit row and metrics. */
interface CallFacts {
  requestId: string;
  clientAddress: string;
  method: string;
  principal?: Principal;
  tenantId?: string;
  connectionId?: string;
  provider?: string;
  rule?: string;
  status?: number;
  reason?: string;
  bytesIn: number;
  bytesOut: number;
  retried: boolean;
  aborted: boolean;
}

/** Creates the proxy route. */
export function createProxyHandler(deps: ProxyHandlerDeps): ProxyHandler {
  const agents = new Map<number, Agent>();
  // undici loads on the first proxied request, not at start-up (cold start).
  let undici: Promise<typeof import("undici")> | undefined;
  const dispatcherFor = (connectTimeoutMs: number): Dispatcher | Promise<Dispatcher> => {
    if (deps.dispatcher) return deps.dispatcher(connectTimeoutMs);
    // The pooled agent of this connect timeout, without a turn through a promise once it exists.
    return agents.get(connectTimeoutMs) ?? newAgent(connectTimeoutMs);
  };
  const newAgent = async (connectTimeoutMs: number): Promise<Dispatcher> => {
    undici ??= import("undici");
    const { Agent: UndiciAgent } = await undici;
    let agent = agents.get(connectTimeoutMs);
    if (agent === undefined) {
      // Keep-alive sockets, one request at a time on each (no pipelining), as many as calls in flight.
      agent = new UndiciAgent({ connect: { timeout: connectTimeoutMs }, keepAliveTimeout: 4_000 });
      agents.set(connectTimeoutMs, agent);
    }
    return agent;
  };
  /** Filled api_base_urls of profiles without placeholders (the same for each of their connections). */
  const fixedBases = new WeakMap<ProviderProfile, string>();
  const bodyLimits = {
    maxRequestBytes: deps.limits.maxRequestBytes,
    maxSignedBodyBytes: deps.limits.maxSignedBodyBytes,
    replayBufferBytes: deps.limits.replayBufferBytes ?? DEFAULT_PROXY_REPLAY_BUFFER_BYTES,
  };
  /** Calls (connection, credential version, method, path) answered 401 right after a forced refresh. */
  const fresh401 = new Set<string>();

  async function serve(req: NodeRequest, res: NodeResponse, facts: CallFacts, abort: AbortController): Promise<void> {
    const principal = await deps.authenticate(req, facts);
    facts.principal = principal;
    const target = parseProxyTarget(req.url ?? "");
    facts.connectionId = target.connectionId;
    const override = overrideHeader(req);
    if (override !== undefined) {
      facts.reason = "override_header";
      // Google APIs, Rails, Symfony, IIS… honour these: GET + "X-HTTP-Method-Override: DELETE" or
      // "X-Original-URL: /admin" would run a call the key's rules never checked.
      throw new ProxyRefusal(
        403,
        Code.PermissionDenied,
        ErrorReason.PROXY_NOT_ALLOWED,
        `the proxy does not forward ${override}: the key's rules decide on the request's own method and path`,
      );
    }
    if (REFUSED_METHODS.has(facts.method)) {
      facts.reason = "method_not_proxied";
      // TRACE makes the provider echo the request it received, credential included.
      throw new ProxyRefusal(405, Code.PermissionDenied, ErrorReason.PROXY_NOT_ALLOWED, `${facts.method} is never proxied`);
    }

    const tenantId = principal.tenantId ?? (await tenantOfConnection(target.connectionId));
    facts.tenantId = tenantId;
    // One statement: the connection, its sealed credential (opened only after the rules allow the
    // call) and the provider's profile (parsed once per profile text; see TokenReader.proxyTarget).
    const { connection, credential, profile } = await deps.tokens.proxyTarget(tenantId, target.connectionId);
    facts.provider = connection.providerName;
    const base = apiBase(profile, connection);
    const url = targetUrl(base, target);

    const decision = deps.access.decide(principal, { provider: profile.name, method: facts.method, path: target.path });
    if (!decision.allowed) {
      facts.reason = decision.reason.toLowerCase();
      throw new ProxyRefusal(
        403,
        Code.PermissionDenied,
        knownReason(decision.reason) ?? ErrorReason.PROXY_NOT_ALLOWED,
        `this API key may not call ${facts.method} ${target.path} on provider "${profile.name}" through the proxy (${decision.reason})`,
      );
    }
    facts.rule = decision.matched;

    const timeouts = timeoutsOf(profile);
    const total = setTimeout(
      () =>
        abort.abort(
          new ProxyRefusal(
            504,
            Code.DeadlineExceeded,
            ErrorReason.PROXY_UPSTREAM_TIMEOUT,
            "the provider did not finish within the proxy's total timeout",
          ),
        ),
      timeouts.totalMs,
    );
    total.unref();
    try {
      const body = await requestBody(req, bodyLimits, signsBody(profile.strategy), facts, abort.signal);
      const headers = forwardedHeaders(req);
      // An uncompressed answer can be screened for the credential (SecretScreen).
      headers.set("accept-encoding", "identity");
      if ("bytes" in body) {
        if (body.bytes.length > 0 || !isBodilessMethod(facts.method)) headers.set("content-length", String(body.bytes.length));
      } else if (body.length !== undefined) headers.set("content-length", String(body.length));
      let usage = await deps.tokens.readConnectionWith(connection, profile.strategy, credential);
      const sentSecrets: string[] = [];
      let response = await send(usage, { url, headers, body, timeouts, signal: abort.signal, facts, sentSecrets });
      const mayRefresh = profile.authType === "oauth2" || profile.authType === "oauth2_client_credentials";
      const callKey = (version: number) => `${connection.id}\n${version}\n${facts.method} ${target.path}`;
      if (response.statusCode === 401 && mayRefresh && body.replayable && !fresh401.has(callKey(usage.version))) {
        // One forced refresh and one retry: the token may have been revoked or rotated early.
        await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        usage = await deps.tokens.refresh(tenantId, connection.id);
        facts.retried = true;
        response = await send(usage, { url, headers, body, timeouts, signal: abort.signal, facts, sentSecrets });
        // Refused even with a fresh token: the 401 is about the call (a scope, an endpoint), not the
        // token. The same call with this token gets its 401 straight away next time.
        if (response.statusCode === 401) {
          if (fresh401.size >= PROXY_FRESH_401_MEMORY) fresh401.clear();
          fresh401.add(callKey(usage.version));
        }
      }
      await respond(
        response,
        res,
        facts,
        { idleMs: timeouts.idleMs, signal: abort.signal },
        [...secretValues(usage), ...sentSecrets],
        [...secretValues(usage, identifierFields(profile.strategy, usage)), ...sentSecrets],
      );
    } finally {
      clearTimeout(total);
    }
  }

  async function tenantOfConnection(connectionId: string): Promise<string> {
    const record = await deps.store.findConnectionById(connectionId);
    if (record === null) throw new NotFoundError("connection", connectionId);
    return record.tenantId;
  }

  function apiBase(profile: ProviderProfile, connection: ConnectionRecord): string {
    if (profile.apiBaseUrl === undefined || profile.apiBaseUrl === "") {
      throw new ProxyRefusal(
        400,
        Code.FailedPrecondition,
        ErrorReason.PROXY_NOT_CONFIGURED,
        `provider "${profile.name}" has no api_base_url`,
      );
    }
    const known = fixedBases.get(profile);
    if (known !== undefined) return known;
    try {
      const base = fillUrlTemplate(profile.apiBaseUrl, urlParamValues(profile, connection.params));
      // Without placeholders the filled URL is the template itself, the same for every connection.
      if (templateParamNames(profile.apiBaseUrl).length === 0) fixedBases.set(profile, base);
      return base;
    } catch {
      throw new ProxyRefusal(
        400,
        Code.FailedPrecondition,
        ErrorReason.PROXY_NOT_CONFIGURED,
        `provider "${profile.name}": api_base_url cannot be filled from its parameters`,
      );
    }
  }

  interface SendOptions {
    url: URL;
    headers: Headers;
    body: OutgoingBody;
    timeouts: Required<ProxyTimeouts>;
    signal: AbortSignal;
    facts: CallFacts;
    /** Filled with the credential-bearing header values the strategy set (as sent, e.g. basic_auth's base64). */
    sentSecrets: string[];
  }

  async function send(usage: UsageCredential, options: SendOptions): Promise<Dispatcher.ResponseData> {
    // `headers` is the caller's, filtered, with content-length: the strategy applies to a copy.
    const { url, headers, body, timeouts, facts } = options;
    let applied: Awaited<ReturnType<typeof applyUsageCredential>>;
    try {
      applied = await applyUsageCredential(
        usage,
        { method: facts.method, url, headers, body: "bytes" in body ? body.bytes : undefined },
        deps.now,
      );
    } catch (err) {
      if (err instanceof StrategyError) {
        facts.reason = "strategy";
        throw new ProxyRefusal(
          400,
          Code.FailedPrecondition,
          ErrorReason.PROXY_CREDENTIAL_NOT_APPLICABLE,
          `the connection's credential cannot be applied (${err.message})`,
        );
      }
      throw err;
    }
    // The strategy may have replaced the URL's query (query_param) but never its origin or path.
    if (applied.url.origin !== url.origin || applied.url.pathname !== url.pathname) throw new Error("strategy moved the proxied URL");
    const outHeaders: Record<string, string> = {};
    applied.headers.forEach((value, name) => {
      outHeaders[name] = value;
      if (headers.get(name) !== value && !UNSECRET_APPLIED_HEADERS.has(name)) options.sentSecrets.push(...appliedHeaderSecrets(value));
    });
    let requestBody: Dispatcher.DispatchOptions["body"];
    if ("bytes" in body) requestBody = body.bytes.length > 0 ? body.bytes : null;
    else {
      requestBody = body.stream.pipe(body.counter);
      body.stream.on("error", (err) => body.counter.destroy(err));
    }
    try {
      const pending = dispatcherFor(timeouts.connectMs);
      const dispatcher = pending instanceof Promise ? await pending : pending;
      return await dispatcher.request({
        origin: applied.url.origin,
        path: `${applied.url.pathname}${applied.url.search}`,
        method: facts.method as Dispatcher.HttpMethod,
        headers: outHeaders,
        body: requestBody,
        headersTimeout: timeouts.firstByteMs,
        bodyTimeout: timeouts.idleMs,
        signal: options.signal,
      });
    } catch (err) {
      if (!("bytes" in body) && body.counter.exceeded) throw tooLarge(413, "the request body", deps.limits.maxRequestBytes);
      throw upstreamError(err, options.signal);
    }
  }

  async function respond(
    response: Dispatcher.ResponseData,
    res: NodeResponse,
    facts: CallFacts,
    stream: { idleMs: number; signal: AbortSignal },
    secrets: readonly string[],
    bodySecrets: readonly string[],
  ): Promise<void> {
    const { maxResponseBytes } = deps.limits;
    const declared = Number(headerValue(response.headers["content-length"]) ?? Number.NaN);
    if (Number.isFinite(declared) && declared > maxResponseBytes) {
      response.body.destroy();
      throw tooLarge(502, "the provider's response body", maxResponseBytes);
    }
    if (passResponseHeaders(response.headers, res, secrets)) facts.reason ??= "credential_in_response_header";
    res.setHeader("x-request-id", facts.requestId);
    res.statusCode = response.statusCode;
    facts.status = response.statusCode;
    const encoding = (headerValue(response.headers["content-encoding"]) ?? "identity").trim().toLowerCase();
    // An encoded body (a provider that compressed although asked for identity) cannot be screened.
    const screen = encoding === "identity" || encoding === "" ? new SecretScreen(bodySecrets) : undefined;
    // The status and headers leave with the body's first bytes, or at once when it has none yet (relayBody).
    (res as http.ServerResponse).writeHead(response.statusCode);
    try {
      await relayBody(response.body, res, maxResponseBytes, facts, stream.signal, screen);
    } catch (err) {
      facts.aborted = true;
      response.body.destroy();
      facts.reason =
        err instanceof ResponseTooLarge
          ? "response_too_large"
          : err instanceof CredentialInBody
            ? "credential_in_response_body"
            : err instanceof ResponseClosed
              ? "client_closed"
              : (streamEndReason(err, stream.signal) ?? "stream_failed");
      deps.logger?.debug(
        { err: { name: (err as Error)?.name, code: (err as { code?: string })?.code }, idleMs: stream.idleMs },
        "proxied response stream ended early",
      );
      res.destroy();
    }
  }

  function fail(res: NodeResponse, facts: CallFacts, err: unknown): void {
    let status: number;
    let error: ConnectError;
    if (err instanceof ProxyRefusal) {
      status = err.status;
      error = err.error;
    } else if (err instanceof ProxyPathError) {
      status = 400;
      error = errorWithReason(err.message, Code.InvalidArgument, ErrorReason.PROXY_PATH_INVALID);
    } else if (err instanceof ClientClosedError) {
      status = 499;
      error = errorWithReason("the client closed the request", Code.Canceled, ErrorReason.CANCELED);
    } else {
      const mapped = toConnectError(err);
      if (mapped.isFault) deps.logger?.warn({ err }, "proxy call failed");
      error = mapped.error;
      status = codeToHttpStatus(error.code);
    }
    facts.status = status;
    facts.reason ??= reasonName(reasonOf(error));
    if (res.headersSent) {
      facts.aborted = true;
      res.destroy();
      return;
    }
    error.metadata.forEach((value, name) => {
      res.setHeader(name, value);
    });
    res.setHeader("content-type", "application/json");
    res.setHeader("x-request-id", facts.requestId);
    res.setHeader(PROXY_REFUSAL_HEADER, "1");
    res.statusCode = status;
    res.end(JSON.stringify(deps.errorJson(error)));
  }

  function finish(facts: CallFacts, startedMs: number): void {
    const durationMs = performance.now() - startedMs;
    const statusClass = facts.status === undefined || facts.aborted ? "error" : `${Math.floor(facts.status / 100)}xx`;
    const provider = facts.provider ?? "unknown";
    deps.metrics?.requests.inc({ provider, status_class: statusClass });
    deps.metrics?.duration.observe({ provider, status_class: statusClass }, durationMs / 1000);
    deps.metrics?.bytes.inc({ provider, direction: "in" }, facts.bytesIn);
    deps.metrics?.bytes.inc({ provider, direction: "out" }, facts.bytesOut);
    // Refusals of the key itself are audited by `authenticate` (request.denied).
    if (facts.principal === undefined) return;
    const details: Record<string, string> = {
      method: facts.method,
      status: String(facts.status ?? 0),
      bytes_in: String(facts.bytesIn),
      bytes_out: String(facts.bytesOut),
      duration_ms: String(Math.round(durationMs)),
    };
    if (facts.provider !== undefined) details.provider = facts.provider;
    if (facts.rule !== undefined) details.rule = facts.rule;
    if (facts.reason !== undefined) details.reason = facts.reason;
    if (facts.retried) details.retried_after_refresh = "true";
    if (facts.aborted) details.aborted = "true";
    deps.audit.record({
      action: AUDIT_ACTIONS.proxyCall,
      result: facts.status === undefined ? "error" : String(facts.status),
      keyId: facts.principal.keyId,
      tenantId: facts.tenantId ?? facts.principal.tenantId,
      connectionId: facts.connectionId,
      requestId: facts.requestId,
      clientAddress: facts.clientAddress,
      details,
    });
  }

  return {
    async handle(req, res) {
      if (!isProxyTarget(req.url)) return false;
      const startedMs = performance.now();
      const given = headerValue(req.headers["x-request-id"]);
      const facts: CallFacts = {
        requestId: given !== undefined && REQUEST_ID.test(given) ? given : randomUUID(),
        clientAddress: deps.clientAddress(req),
        method: (req.method ?? "GET").toUpperCase(),
        bytesIn: 0,
        bytesOut: 0,
        retried: false,
        aborted: false,
      };
      const abort = new AbortController();
      // The caller went away: stop the upstream call too.
      const onClose = () => {
        if (!res.writableFinished) abort.abort(new ClientClosedError());
      };
      res.once("close", onClose);
      try {
        await serve(req, res, facts, abort);
      } catch (err) {
        fail(res, facts, err);
      } finally {
        res.off("close", onClose);
        finish(facts, startedMs);
      }
      return true;
    },
    async close() {
      await Promise.all([...agents.values()].map((agent) => agent.close()));
      agents.clear();
    },
  };
}

function definedTimeouts(timeouts: ProxyTimeouts | undefined): ProxyTimeouts {
  return Object.fromEntries(Object.entries(timeouts ?? {}).filter(([, v]) => typeof v === "number" && v > 0));
}

/** A profile's proxy timeouts over the defaults, worked out once per profile object (profiles are parsed once per text). */
const profileTimeouts = new WeakMap<ProviderProfile, Required<ProxyTimeouts>>();

function timeoutsOf(profile: ProviderProfile): Required<ProxyTimeouts> {
  let timeouts = profileTimeouts.get(profile);
  if (timeouts === undefined) {
    timeouts = Object.freeze({ ...DEFAULT_PROXY_TIMEOUTS, ...definedTimeouts(profile.proxyTimeouts) });
    profileTimeouts.set(profile, timeouts);
  }
  return timeouts;
}
