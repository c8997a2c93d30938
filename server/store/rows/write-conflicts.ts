/**
 * Why a compare-and-set write matched no row, told the same way by both dialects: the row is missing
 * (or another tenant's) → NotFoundError, it holds another status or version → ConflictError. The
 * dialect runs the follow-up read; this module only turns what it read into the domain error, and
 * says which errors `runQuery` must pass through as the operation's own. It runs no query.
 */
import { type ConnectionStatus, checkTransition, IllegalTransitionError } from "../../domain/connection-status.ts";
import { AlreadyExistsError, ConflictError, InvalidArgumentError, NotFoundError, StoreUnavailableError } from "../../domain/errors.ts";

/** `updateConnectionStatus`'s `expected` argument as a list (one status or several). */
export function expectedStatusList(expected: ConnectionStatus | readonly ConnectionStatus[]): ConnectionStatus[] {
  return typeof expected === "string" ? [expected] : [...expected];
}

/**
 * The `expected` list of a status compare-and-set once the transition table allowed every
 * expected → `next` move: both dialects call this before writing, so no status write skips the table.
 * @throws IllegalTransitionError when one expected status may not move to `next`.
 */
export function checkedStatusMove(expected: ConnectionStatus | readonly ConnectionStatus[], next: ConnectionStatus): ConnectionStatus[] {
  const list = expectedStatusList(expected);
  checkTransition(list, next);
  return list;
}

/**
 * The error for a status compare-and-set on connection `id` that matched no row, given the row's
 * current status as read after it (`undefined`: no such row in the tenant).
 */
export function connectionStatusConflict(
  id: string,
  current: { status: ConnectionStatus } | undefined,
  expected: readonly ConnectionStatus[],
): NotFoundError | ConflictError {
  if (!current) return new NotFoundError("connection", id);
  return new ConflictError("status", `connection "${id}" is ${current.status}, expected ${expected.join(" or ")}`);
}

/**
 * The error for a credential-version compare-and-set on `connectionId` that matched no row, given
 * the connection's current credential version as read after it (`undefined`: no such connection).
 */
export function credentialVersionConflict(
  connectionId: string,
  current: { version: number } | undefined,
  expectedVersion: number,
): NotFoundError | ConflictError {
  if (!current) return new NotFoundError("connection", connectionId);
  return new ConflictError(
    "version",
    `credential of connection "${connectionId}" is at version ${current.version}, expected ${expectedVersion}`,
  );
}

/**
 * Whether `error` is a domain error a store operation raised itself (for instance a conflict inside
 * a transaction): each dialect's `runQuery` passes those through untranslated.
 */
export function isStoreDomainError(error: unknown): boolean {
  return (
    error instanceof NotFoundError ||
    error instanceof AlreadyExistsError ||
    error instanceof ConflictError ||
    error instanceof InvalidArgumentError ||
    error instanceof IllegalTransitionError ||
    error instanceof StoreUnavailableError
  );
}
