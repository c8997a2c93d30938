/**
 * The one mapping from domain errors to ConnectError (style.md §2.3). Handlers never build a
 * ConnectError for a domain case; the error interceptor calls `toConnectError` on whatever escapes.
 * Unknown errors become Internal with a generic message: their text may hold anything.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import type { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import {
  AlreadyExistsError,
  ConflictError,
  ConnectionNotUsableError,
  type DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  NotImplementedError,
  PermissionDeniedError,
  ProviderUnavailableError,
  ReturnUrlNotAllowedError,
  StoreUnavailableError,
  WebhookTargetNotAllowedError,
} from "../domain/errors.ts";
import { connectionStatusToProto } from "../proto-mapping/connection-status-proto.ts";

/** Result of mapping: the ConnectError to send, and whether the original must be logged as a fault. */
export interface MappedError {
  error: ConnectError;
  /** True for Internal: a bug or an unexpected failure whose cause must be logged once. */
  isFault: boolean;
}

/** Maps any thrown value to the ConnectError the caller receives. */
export function toConnectError(err: unknown): MappedError {
  if (err instanceof ConnectError) return { error: withReason(err), isFault: err.code === Code.Internal };
  if (isDomainError(err)) return { error: fromDomainError(err), isFault: false };
  return { error: new ConnectError("internal error", Code.Internal, undefined, [info(ErrorReason.INTERNAL)], err), isFault: true };
}

/**
 * A ConnectError carrying an ErrorInfo with `reason` (and `field`, when the request field at fault
 * is known): for refusals decided outside the domain (auth, limits, wire checks, HTTP routing).
 */
export function errorWithReason(
  message: string,
  code: Code,
  reason: ErrorReason,
  options: { field?: string; metadata?: Record<string, string>; cause?: unknown } = {},
): ConnectError {
  const detail = info(reason, options.field === undefined ? {} : { field: options.field });
  return new ConnectError(message, code, options.metadata, [detail], options.cause);
}

/**
 * Returns `err` with an ErrorInfo detail: unchanged when it has one, else with the reason its code
 * implies (so errors raised by connect-es or a library inside the interceptors carry one too).
 */
export function withReason(err: ConnectError): ConnectError {
  const hasInfo = err.details.some((d) => ("desc" in d ? d.desc.typeName : d.type) === ErrorInfoSchema.typeName);
  // connect-es says "protocol error: …" for framing it cannot accept (an extra or missing message):
  // the client's malformed request, whatever code the protocol asks for.
  const reason = err.rawMessage.startsWith("protocol error") ? ErrorReason.MALFORMED_REQUEST : reasonForCode(err.code);
  if (!hasInfo) err.details.push(info(reason));
  return err;
}

/** The reason an error of `code` gets when nothing more specific is known. */
export function reasonForCode(code: Code): ErrorReason {
  switch (code) {
    case Code.Canceled:
      return ErrorReason.CANCELED;
    case Code.InvalidArgument:
    case Code.OutOfRange:
      return ErrorReason.MALFORMED_REQUEST;
    case Code.DeadlineExceeded:
      return ErrorReason.DEADLINE_EXCEEDED;
    case Code.NotFound:
      return ErrorReason.ROUTE_NOT_FOUND;
    case Code.AlreadyExists:
      return ErrorReason.ALREADY_EXISTS;
    case Code.PermissionDenied:
      return ErrorReason.ROLE_NOT_ALLOWED;
    case Code.ResourceExhausted:
      return ErrorReason.TOO_LARGE;
    case Code.FailedPrecondition:
      return ErrorReason.FAILED_PRECONDITION;
    case Code.Aborted:
      return ErrorReason.CONFLICT;
    case Code.Unimplemented:
      return ErrorReason.NOT_IMPLEMENTED;
    case Code.Unavailable:
      return ErrorReason.UNAVAILABLE;
    case Code.Unauthenticated:
      return ErrorReason.API_KEY_INVALID;
    case Code.Unknown:
    case Code.Internal:
    case Code.DataLoss:
      return ErrorReason.INTERNAL;
    default: {
      const unreachable: never = code;
      return unreachable;
    }
  }
}

function info(reason: ErrorReason, fields: { field?: string } = {}) {
  return { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, ...fields }) };
}

function isDomainError(err: unknown): err is DomainError {
  return (
    err instanceof NotFoundError ||
    err instanceof InvalidArgumentError ||
    err instanceof ConnectionNotUsableError ||
    err instanceof AlreadyExistsError ||
    err instanceof ConflictError ||
    err instanceof NotImplementedError ||
    err instanceof ReturnUrlNotAllowedError ||
    err instanceof FailedPreconditionError ||
    err instanceof ProviderUnavailableError ||
    err instanceof StoreUnavailableError ||
    err instanceof PermissionDeniedError ||
    err instanceof WebhookTargetNotAllowedError
  );
}

function fromDomainError(err: DomainError): ConnectError {
  switch (err.name) {
    case "NotFoundError":
      return withInfo(err, Code.NotFound, {
        reason: NOT_FOUND_REASONS[err.kind],
        connectionId: err.kind === "connection" ? err.id : "",
      });
    case "InvalidArgumentError":
      // No field: the request as a whole does not parse (bad JSON, bytes that are not UTF-8).
      return withInfo(err, Code.InvalidArgument, {
        reason: err.field === "" ? ErrorReason.MALFORMED_REQUEST : ErrorReason.INVALID_FIELD,
        field: err.field,
      });
    case "ConnectionNotUsableError":
      return withInfo(err, Code.FailedPrecondition, {
        reason: reasonForStatus(err.status),
        connectionId: err.connectionId,
        status: connectionStatusToProto(err.status),
      });
    case "AlreadyExistsError":
      return withInfo(err, Code.AlreadyExists, { reason: ErrorReason.ALREADY_EXISTS });
    case "ConflictError":
      return withInfo(err, Code.Aborted, { reason: ErrorReason.CONFLICT });
    case "NotImplementedError":
      return withInfo(err, Code.Unimplemented, { reason: ErrorReason.NOT_IMPLEMENTED });
    case "ReturnUrlNotAllowedError":
      return withInfo(err, Code.InvalidArgument, { reason: ErrorReason.RETURN_URL_NOT_ALLOWED, field: "return_url" });
    case "FailedPreconditionError":
      return withInfo(err, Code.FailedPrecondition, { reason: FAILED_PRECONDITION_REASONS[err.kind] });
    case "ProviderUnavailableError":
      return withInfo(err, Code.Unavailable, { reason: ErrorReason.PROVIDER_UNAVAILABLE });
    case "StoreUnavailableError":
      return withInfo(err, Code.Unavailable, { reason: ErrorReason.STORE_UNAVAILABLE });
    case "PermissionDeniedError":
      return withInfo(err, Code.PermissionDenied, {
        reason: PERMISSION_DENIED_REASONS[err.kind],
      });
    case "WebhookTargetNotAllowedError":
      return withInfo(err, Code.InvalidArgument, { reason: ErrorReason.WEBHOOK_TARGET_NOT_ALLOWED, field: "url" });
    default: {
      const unreachable: never = err;
      return unreachable;
    }
  }
}

const PERMISSION_DENIED_REASONS: Record<PermissionDeniedError["kind"], ErrorReason> = {
  tenant: ErrorReason.TENANT_NOT_ALLOWED,
  role: ErrorReason.ROLE_NOT_ALLOWED,
  token_access: ErrorReason.TOKEN_ACCESS_DISABLED,
  proxy: ErrorReason.PROXY_NOT_ALLOWED,
};

const FAILED_PRECONDITION_REASONS: Record<FailedPreconditionError["kind"], ErrorReason> = {
  provider_in_use: ErrorReason.PROVIDER_IN_USE,
  provider_misconfigured: ErrorReason.PROVIDER_MISCONFIGURED,
  event_cursor_expired: ErrorReason.EVENT_CURSOR_EXPIRED,
  event_cursor_unknown: ErrorReason.EVENT_CURSOR_UNKNOWN,
  webhook_endpoint_disabled: ErrorReason.FAILED_PRECONDITION,
  webhook_endpoint_limit: ErrorReason.FAILED_PRECONDITION,
};

const NOT_FOUND_REASONS: Record<NotFoundError["kind"], ErrorReason> = {
  connection: ErrorReason.CONNECTION_NOT_FOUND,
  provider: ErrorReason.PROVIDER_NOT_FOUND,
  api_key: ErrorReason.API_KEY_NOT_FOUND,
  tenant: ErrorReason.TENANT_NOT_FOUND,
  route: ErrorReason.ROUTE_NOT_FOUND,
  webhook_endpoint: ErrorReason.WEBHOOK_ENDPOINT_NOT_FOUND,
  webhook_delivery: ErrorReason.WEBHOOK_DELIVERY_NOT_FOUND,
};

function reasonForStatus(status: ConnectionNotUsableError["status"]): ErrorReason {
  switch (status) {
    case "pending":
      return ErrorReason.CONNECTION_PENDING;
    case "attention_required":
      return ErrorReason.CONNECTION_NEEDS_ATTENTION;
    case "revoked":
      return ErrorReason.CONNECTION_REVOKED;
    case "expired":
      return ErrorReason.CONNECTION_EXPIRED;
    case "failed":
      return ErrorReason.CONNECTION_FAILED;
    case "active":
      return ErrorReason.UNSPECIFIED;
    default: {
      const unreachable: never = status;
      return unreachable;
    }
  }
}

function withInfo(
  err: DomainError,
  code: Code,
  info: { reason?: ErrorReason; connectionId?: string; status?: ConnectionStatus; field?: string },
): ConnectError {
  const detail = create(ErrorInfoSchema, info);
  // The domain message is safe by construction (no secrets); keep the original as `cause` for logs.
  return new ConnectError(err.message, code, undefined, [{ desc: ErrorInfoSchema, value: detail }], err);
}

/**
 * The Unauthenticated error that ends a stream whose API key was revoked or expired after it
 * opened, with its ErrorInfo reason (ERROR_REASON_API_KEY_REVOKED / _EXPIRED).
 */
export function apiKeyNoLongerValidError(reason: "revoked" | "expired"): ConnectError {
  const detail = create(ErrorInfoSchema, {
    reason: reason === "revoked" ? ErrorReason.API_KEY_REVOKED : ErrorReason.API_KEY_EXPIRED,
  });
  return new ConnectError(`API key ${reason}`, Code.Unauthenticated, { "www-authenticate": 'Bearer realm="nexus"' }, [
    { desc: ErrorInfoSchema, value: detail },
  ]);
}
