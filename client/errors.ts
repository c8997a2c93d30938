/**
 * The client's errors, in one place: the typed errors the long-running helpers end with
 * (attention_required, revoked, unavailable, permanent WebSocket close, unusable strategy), the
 * helpers that read Nexus's ErrorInfo detail (never message text), and the one function that maps
 * a ConnectError to a typed error. Error messages name ids and fields, never credential values.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { type ErrorInfo, ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";

/**
 * The connection needs a person to consent again (the provider refused the grant for good, e.g.
 * `invalid_grant`). Retrying cannot help; the client stops and surfaces this.
 *
 * @example
 * try { await cache.getCredential(id); } catch (err) {
 *   if (err instanceof AttentionRequiredError) notifyUser(err.connectionId);
 * }
 */
export class AttentionRequiredError extends Error {
  override readonly name = "AttentionRequiredError";
  /** The connection concerned. */
  readonly connectionId: string;
  /** Machine-readable cause when the server gave one (e.g. "invalid_grant"), else "". */
  readonly reason: string;

  constructor(connectionId: string, reason = "", options?: ErrorOptions) {
    super(`connection ${connectionId} needs attention: a person must consent again${reason ? ` (${reason})` : ""}`, options);
    this.connectionId = connectionId;
    this.reason = reason;
  }
}

/**
 * The connection was revoked (by an administrator, the user or the provider). Final.
 *
 * @example
 * if (err instanceof ConnectionRevokedError) forget(err.connectionId);
 */
export class ConnectionRevokedError extends Error {
  override readonly name = "ConnectionRevokedError";
  /** The connection concerned. */
  readonly connectionId: string;
  /** Machine-readable cause when the server gave one, else "". */
  readonly reason: string;

  constructor(connectionId: string, reason = "", options?: ErrorOptions) {
    super(`connection ${connectionId} was revoked${reason ? ` (${reason})` : ""}`, options);
    this.connectionId = connectionId;
    this.reason = reason;
  }
}

/**
 * Nexus could not be reached (or answered Unavailable / DeadlineExceeded) and no usable cached
 * credential was left. Transient: retrying later may succeed. The ConnectError is the `cause`.
 *
 * @example
 * if (err instanceof NexusUnavailableError) scheduleRetry();
 */
export class NexusUnavailableError extends Error {
  override readonly name = "NexusUnavailableError";
  /** The connection whose credential was wanted. */
  readonly connectionId: string;

  constructor(connectionId: string, options?: ErrorOptions) {
    super(`nexus unavailable while getting the credential of connection ${connectionId}`, options);
    this.connectionId = connectionId;
  }
}

/**
 * A maintained WebSocket was closed by the peer with a close code configured as permanent (by
 * default 1008 policy violation and 4001-4099): the bridge does not reconnect.
 *
 * @example
 * handle.done.catch((err) => { if (err instanceof PermanentCloseError) log(err.code); });
 */
export class PermanentCloseError extends Error {
  override readonly name = "PermanentCloseError";
  /** The WebSocket close code (RFC 6455 §7.4). */
  readonly code: number;
  /** The close reason the peer sent (may be empty). */
  readonly reason: string;

  constructor(code: number, reason: string) {
    super(`websocket closed with permanent code ${code}${reason ? ` (${reason})` : ""}`);
    this.code = code;
    this.reason = reason;
  }
}

/**
 * A credential cannot be applied: unknown strategy, missing configuration or credential field,
 * or a strategy the target cannot carry (a query parameter on gRPC metadata). Names the field,
 * never its value.
 *
 * @example
 * if (err instanceof StrategyError) console.error(err.strategy, err.field);
 */
export class StrategyError extends Error {
  override readonly name = "StrategyError";
  /** The strategy, e.g. "hmac_payload". */
  readonly strategy: string;
  /** The credential field or configuration key at fault, when one is. */
  readonly field: string | undefined;

  constructor(strategy: string, message: string, field?: string) {
    super(`${strategy}: ${message}`);
    this.strategy = strategy;
    this.field = field;
  }
}

/**
 * The ErrorInfo detail Nexus attaches to errors with a known cause, or undefined.
 *
 * @example
 * const info = errorInfo(err); if (info?.reason === ErrorReason.CONNECTION_PENDING) wait();
 */
export function errorInfo(err: unknown): ErrorInfo | undefined {
  if (!(err instanceof ConnectError)) return undefined;
  return err.findDetails(ErrorInfoSchema)[0];
}

/**
 * Whether `err` says the connection needs a person to consent again: an AttentionRequiredError, or
 * a ConnectError whose ErrorInfo has reason CONNECTION_NEEDS_ATTENTION.
 *
 * @example
 * try { await client.tokens.getToken({ connectionId }); } catch (err) { if (isAttentionRequired(err)) reconsent(); }
 */
export function isAttentionRequired(err: unknown): boolean {
  if (err instanceof AttentionRequiredError) return true;
  const info = errorInfo(err);
  return info?.reason === ErrorReason.CONNECTION_NEEDS_ATTENTION || info?.status === ConnectionStatus.ATTENTION_REQUIRED;
}

/**
 * Whether `err` says the connection was revoked: a ConnectionRevokedError, or a ConnectError whose
 * ErrorInfo has reason CONNECTION_REVOKED.
 *
 * @example
 * if (isRevoked(err)) await db.forgetConnection(connectionId);
 */
export function isRevoked(err: unknown): boolean {
  if (err instanceof ConnectionRevokedError) return true;
  const info = errorInfo(err);
  return info?.reason === ErrorReason.CONNECTION_REVOKED || info?.status === ConnectionStatus.REVOKED;
}

/**
 * Whether `err` is a NotFound answer (unknown connection, provider, key...). Another tenant's
 * connection reads as not found too: Nexus does not reveal it exists.
 *
 * @example
 * if (isNotFound(err)) return null;
 */
export function isNotFound(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return false;
  const reason = errorInfo(err)?.reason;
  return err.code === Code.NotFound || reason === ErrorReason.CONNECTION_NOT_FOUND || reason === ErrorReason.PROVIDER_NOT_FOUND;
}

/**
 * Whether a failed call to Nexus is worth retrying after a backoff: the server was unreachable,
 * restarting, overloaded or cut the stream. Everything else (bad key, not found, invalid argument,
 * unimplemented, attention_required, revoked) would fail the same way again.
 *
 * @example
 * catch (err) { if (!isTransient(err)) throw err; await abortableSleep(backoff.nextDelayMs(), signal); }
 */
export function isTransient(err: unknown): boolean {
  if (err instanceof NexusUnavailableError) return true;
  if (isAttentionRequired(err) || isRevoked(err)) return false;
  // ResourceExhausted is a rate or stream limit that passes, except a message too large to send.
  if (errorInfo(err)?.reason === ErrorReason.TOO_LARGE) return false;
  const code = err instanceof ConnectError ? err.code : ConnectError.from(err).code;
  switch (code) {
    case Code.Unavailable:
    case Code.DeadlineExceeded:
    case Code.ResourceExhausted:
    case Code.Aborted:
    case Code.Internal: // a reset HTTP/2 stream or a server killed mid-response surfaces as Internal
    case Code.Unknown:
    case Code.Canceled: // the server cancels open streams when it shuts down
      return true;
    default:
      return false;
  }
}

/**
 * Maps an error from a Nexus call about `connectionId` to the typed error the client surfaces:
 * AttentionRequiredError, ConnectionRevokedError, NexusUnavailableError for Unavailable and
 * DeadlineExceeded, else the ConnectError itself. The original is kept as `cause`.
 *
 * @example
 * try { await client.tokens.getToken({ connectionId }); } catch (err) { throw toClientError(err, connectionId); }
 */
export function toClientError(err: unknown, connectionId: string): Error {
  if (err instanceof AttentionRequiredError || err instanceof ConnectionRevokedError || err instanceof NexusUnavailableError) {
    return err;
  }
  const connectError = ConnectError.from(err);
  if (isAttentionRequired(connectError)) return new AttentionRequiredError(connectionId, "", { cause: connectError });
  if (isRevoked(connectError)) return new ConnectionRevokedError(connectionId, "", { cause: connectError });
  if (connectError.code === Code.Unavailable || connectError.code === Code.DeadlineExceeded) {
    return new NexusUnavailableError(connectionId, { cause: connectError });
  }
  return connectError;
}
