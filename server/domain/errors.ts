/**
 * Domain errors: the only errors that handlers, domain code and the store throw on purpose.
 * Each carries its facts as typed fields and never a token, code, state or secret value.
 * `server/rpc/errors.ts` maps them to ConnectError in one exhaustive function.
 */
import type { ConnectionStatus } from "./connection-status.ts";

/** Fields every domain error accepts. */
interface DomainErrorOptions {
  cause?: unknown;
}

/** A thing that does not exist, or that the caller may not know exists (another tenant's row). */
export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
  readonly kind: "connection" | "provider" | "api_key" | "tenant" | "route" | "webhook_endpoint" | "webhook_delivery";
  readonly id: string;
  constructor(kind: NotFoundError["kind"], id: string, options?: DomainErrorOptions) {
    super(`${kind.replaceAll("_", " ")} "${truncateId(id)}" not found`, options);
    this.kind = kind;
    this.id = id;
  }
}

/** A request field that is missing or malformed; `field` is the proto field path. */
export class InvalidArgumentError extends Error {
  override readonly name = "InvalidArgumentError";
  readonly field: string;
  readonly reason: string;
  constructor(field: string, reason: string, options?: DomainErrorOptions) {
    super(field ? `${field}: ${reason}` : reason, options);
    this.field = field;
    this.reason = reason;
  }
}

/** A connection that exists but cannot serve the request in its current state. */
export class ConnectionNotUsableError extends Error {
  override readonly name = "ConnectionNotUsableError";
  readonly connectionId: string;
  readonly status: ConnectionStatus;
  constructor(connectionId: string, status: ConnectionStatus, options?: DomainErrorOptions) {
    super(`connection "${truncateId(connectionId)}" is ${status}`, options);
    this.connectionId = connectionId;
    this.status = status;
  }
}

/** A create that collides with an existing row (e.g. a provider name). */
export class AlreadyExistsError extends Error {
  override readonly name = "AlreadyExistsError";
  readonly kind: "provider" | "api_key" | "tenant" | "connection";
  readonly id: string;
  constructor(kind: AlreadyExistsError["kind"], id: string, options?: DomainErrorOptions) {
    super(`${kind.replace("_", " ")} "${truncateId(id)}" already exists`, options);
    this.kind = kind;
    this.id = id;
  }
}

/**
 * A compare-and-set write that lost to a concurrent writer, or an expired lease. `kind`: "version"
 * (the credential version moved), "status" (the connection's status is not the one expected),
 * "lease" (another replica holds or took the refresh lease). All map to Aborted CONFLICT.
 */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
  readonly kind: "version" | "status" | "lease";
  constructor(kind: ConflictError["kind"], message: string, options?: DomainErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

/** A part of Nexus that is designed in the API but not built yet; `feature` names it. */
export class NotImplementedError extends Error {
  override readonly name = "NotImplementedError";
  readonly feature: string;
  constructor(feature: string, options?: DomainErrorOptions) {
    super(`${feature} is not implemented yet`, options);
    this.feature = feature;
  }
}

/** A return_url whose origin is not on the allowlist; checked before anything is created. */
export class ReturnUrlNotAllowedError extends Error {
  override readonly name = "ReturnUrlNotAllowedError";
  /** The origin that was refused (never the path or query, which may carry tokens). */
  readonly origin: string;
  constructor(origin: string, options?: DomainErrorOptions) {
    super(`return_url origin "${origin.slice(0, 200)}" is not allowed (configure NEXUS_RETURN_URL_ORIGINS)`, options);
    this.origin = origin;
  }
}

/**
 * A valid request refused in the current state of things, e.g. deleting a provider that connections
 * use, or consent with a provider whose configuration can't work (no client_id, token endpoint
 * answering invalid_client).
 */
export class FailedPreconditionError extends Error {
  override readonly name = "FailedPreconditionError";
  readonly kind:
    | "provider_in_use"
    | "provider_misconfigured"
    | "event_cursor_expired"
    | "event_cursor_unknown"
    | "webhook_endpoint_disabled"
    | "webhook_endpoint_limit";
  readonly id: string;
  constructor(kind: FailedPreconditionError["kind"], id: string, reason: string, options?: DomainErrorOptions) {
    super(`${kind.replaceAll("_", " ")}: "${truncateId(id)}": ${reason}`, options);
    this.kind = kind;
    this.id = id;
  }
}

/** A provider that could not be reached or failed temporarily (network, 5xx, 429); retry later. */
export class ProviderUnavailableError extends Error {
  override readonly name = "ProviderUnavailableError";
  readonly providerName: string;
  constructor(providerName: string, options?: DomainErrorOptions) {
    super(`provider "${truncateId(providerName)}" is unavailable, retry later`, options);
    this.providerName = providerName;
  }
}

/**
 * The store cannot answer: the database is unreachable, restarting or refusing connections, or a
 * credential's audit row has nowhere to go (the audit buffer is full). Transient; retry later.
 * `reason` is a short fact for logs ("connection refused", "audit buffer full"), never query text.
 */
export class StoreUnavailableError extends Error {
  override readonly name = "StoreUnavailableError";
  readonly reason: string;
  constructor(reason: string, options?: DomainErrorOptions) {
    super(`storage is unavailable (${reason.slice(0, 120)}), retry later`, options);
    this.reason = reason;
  }
}

/**
 * An authenticated caller asking for something its key does not cover, e.g. an agent naming another
 * tenant. Not used for another tenant's rows found by id: those are NotFoundError (existence hidden).
 */
export class PermissionDeniedError extends Error {
  override readonly name = "PermissionDeniedError";
  /**
   * What was refused: "tenant" (another tenant named), "role", "token_access" (a proxy-only key
   * asked for a credential), "proxy" (the key's proxy rules do not allow the call).
   */
  readonly kind: "tenant" | "role" | "token_access" | "proxy";
  constructor(kind: PermissionDeniedError["kind"], message: string, options?: DomainErrorOptions) {
    super(message, options);
    this.kind = kind;
  }
}

/**
 * A webhook URL the target rules refuse: not https (unless the operator allows http), credentials
 * in it, or a host that is or resolves to an address outside the allowed ranges (loopback, private,
 * link-local, metadata …). `rule` says which rule; the message never echoes the path or query.
 */
export class WebhookTargetNotAllowedError extends Error {
  override readonly name = "WebhookTargetNotAllowedError";
  readonly rule: "scheme" | "format" | "address";
  constructor(rule: WebhookTargetNotAllowedError["rule"], message: string, options?: DomainErrorOptions) {
    super(`url: ${message}`, options);
    this.rule = rule;
  }
}

/** Every error class above, for exhaustive mapping. */
export type DomainError =
  | NotFoundError
  | InvalidArgumentError
  | ConnectionNotUsableError
  | AlreadyExistsError
  | ConflictError
  | NotImplementedError
  | ReturnUrlNotAllowedError
  | FailedPreconditionError
  | ProviderUnavailableError
  | StoreUnavailableError
  | PermissionDeniedError
  | WebhookTargetNotAllowedError;

/** Ids come from callers: keep what we echo short so an error can't carry a pasted secret whole. */
function truncateId(id: string): string {
  return id.length > 64 ? `${id.slice(0, 64)}…` : id;
}
