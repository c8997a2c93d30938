/**
 * The one path by which a connection gets or changes its status. A new connection starts in the
 * table's initial state; every later move is asked of the transition table (domain/connection-status)
 * with the `from` taken from the connection as the caller read it, never written out by hand, and
 * then written as the store's compare-and-set, so a concurrent writer makes it a ConflictError.
 * It decides nothing else: what a refused or lost move means is the caller's business.
 */
import { allowedFrom, type ConnectionStatus, checkTransition, INITIAL_STATUS, type StatusReason } from "../domain/connection-status.ts";
import type { ConnectionChanges, ConnectionInput, ConnectionRecord, Store } from "../store/store.ts";

/** The connection a move starts from: its id, tenant and the status the caller read. */
export type ConnectionSnapshot = Pick<ConnectionRecord, "tenantId" | "id" | "status">;

/**
 * Creates a connection in the initial state (pending, no reason).
 * @throws NotFoundError("tenant") when the tenant is missing; AlreadyExistsError on a taken id.
 */
export async function openConnection(
  store: Pick<Store, "createConnection">,
  input: Omit<ConnectionInput, "status" | "statusReason">,
): Promise<ConnectionRecord> {
  return store.createConnection({ ...input, status: INITIAL_STATUS, statusReason: null });
}

/**
 * Moves `connection` from the status it was read in to `to`, recording `reason` and `changes`.
 * @throws IllegalTransitionError (before any write) when the table forbids that move;
 *   ConflictError("status") when the connection's status changed since it was read;
 *   NotFoundError when it is gone (or another tenant's).
 */
export async function transition(
  store: Pick<Store, "updateConnectionStatus">,
  connection: ConnectionSnapshot,
  to: ConnectionStatus,
  reason: StatusReason | null,
  changes?: ConnectionChanges,
): Promise<ConnectionRecord> {
  const from = connection.status;
  checkTransition(from, to);
  return store.updateConnectionStatus(connection.tenantId, connection.id, from, to, reason, changes);
}

/**
 * Moves the connection to `to` from whichever state it is in, when the table allows that state to
 * reach `to` (allowedFrom): for a move that must win over concurrent ones, such as a revocation.
 * @throws ConflictError("status") when its current state may not reach `to`; NotFoundError when gone.
 */
export async function transitionFromAnyAllowed(
  store: Pick<Store, "updateConnectionStatus">,
  connection: Pick<ConnectionRecord, "tenantId" | "id">,
  to: ConnectionStatus,
  reason: StatusReason | null,
  changes?: ConnectionChanges,
): Promise<ConnectionRecord> {
  return store.updateConnectionStatus(connection.tenantId, connection.id, allowedFrom(to), to, reason, changes);
}
