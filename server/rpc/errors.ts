/**
 * The one mapping from domain errors to ConnectError (style.md §2.3). Handlers never build a
 * ConnectError for a domain case; the error interceptor calls `toConnectError` on whatever escapes.
 * Unknown errors become Internal with a generic message: their text may hold anything.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
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
} from "../domain/errors.ts";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import type { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { connectionStatusToProto } from "../services/convert.ts";

/** Result of mapping: the ConnectError to send, and whether the original must be logged as a fault. */
export interface MappedError {
  error: ConnectError;
  /** True for Internal: a bug or an unexpected failure whose cause must be logged once. */
  isFault: boolean;
}

/** Maps any thrown value to the ConnectError the caller receives. */
export function toConnectError(err: unknown): MappedError {
  if (err instanceof ConnectError) return { error: err, isFault: err.code === Code.Internal };
  if (isDomainError(err)) return { error: fromDomainError(err), isFault: false };
  return { error: new ConnectError("internal error", Code.Internal, undefined, undefined, err), isFault: true };
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
    err instanceof PermissionDeniedError
  );
}

function fromDomainError(err: DomainError): ConnectError {
  switch (err.name) {
    case "NotFoundError":
      return withInfo(err, Code.NotFound, {
        reason:
          err.kind === "connection"
            ? ErrorReason.CONNECTION_NOT_FOUND
            : err.kind === "provider"
              ? ErrorReason.PROVIDER_NOT_FOUND
              : ErrorReason.UNSPECIFIED,
        connectionId: err.kind === "connection" ? err.id : "",
      });
    case "InvalidArgumentError":
      return withInfo(err, Code.InvalidArgument, { reason: ErrorReason.INVALID_FIELD, field: err.field });
    case "ConnectionNotUsableError":
      return withInfo(err, Code.FailedPrecondition, {
        reason: reasonForStatus(err.status),
        connectionId: err.connectionId,
        status: connectionStatusToProto(err.status),
      });
    case "AlreadyExistsError":
      return withInfo(err, Code.AlreadyExists, {});
    case "ConflictError":
      return withInfo(err, Code.Aborted, {});
    case "NotImplementedError":
      return withInfo(err, Code.Unimplemented, { reason: ErrorReason.NOT_IMPLEMENTED });
    case "ReturnUrlNotAllowedError":
      return withInfo(err, Code.InvalidArgument, { reason: ErrorReason.RETURN_URL_NOT_ALLOWED, field: "return_url" });
    case "FailedPreconditionError":
      return withInfo(err, Code.FailedPrecondition, {
        reason: err.kind === "provider_misconfigured" ? ErrorReason.PROVIDER_MISCONFIGURED : ErrorReason.PROVIDER_IN_USE,
      });
    case "ProviderUnavailableError":
      return withInfo(err, Code.Unavailable, { reason: ErrorReason.PROVIDER_UNAVAILABLE });
    case "StoreUnavailableError":
      return withInfo(err, Code.Unavailable, { reason: ErrorReason.STORE_UNAVAILABLE });
    case "PermissionDeniedError":
      return withInfo(err, Code.PermissionDenied, {});
    default: {
      const unreachable: never = err;
      return unreachable;
    }
  }
}

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
