/**
 * A Store that announces its writes: every saved credential version and every status change is
 * published as a watch event after it commits, and every write that appended a connection event
 * (create, status change) wakes the tenant's WatchConnections streams. Deriving events from the
 * writes themselves means consent, key capture, revocation and the refresh engine all reach
 * watchers without each having to remember to tell them. A new store method that changes a
 * connection (and so appends an event) must be wrapped here too; until it is, its events still
 * reach streams on their next heartbeat.
 */
import { StoreUnavailableError } from "../domain/errors.ts";
import type { Store } from "../store/store.ts";
import type { ConnectionEvent } from "./watch-hub.ts";

/** Wraps `store` so its credential and status writes are published with `publish`, and event appends with `announceEvents`. */
export function createPublishingStore(
  store: Store,
  publish: (event: ConnectionEvent) => void,
  announceEvents: (tenantId: string) => void = () => {},
): Store {
  /**
   * Runs a write that appends an event. When the store cannot say whether it committed
   * (StoreUnavailableError: e.g. the connection dropped after COMMIT was sent), the tenant's streams
   * are woken anyway: a wake-up only makes them re-read the log, and otherwise an event that did
   * commit would wait for the next heartbeat (or, with heartbeats off, the tenant's next change).
   */
  async function announcingIfUnknown<T>(tenantId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof StoreUnavailableError) announceEvents(tenantId);
      throw error;
    }
  }
  return {
    ...store,
    async createConnection(input) {
      const created = await announcingIfUnknown(input.tenantId, () => store.createConnection(input));
      announceEvents(created.tenantId);
      return created;
    },
    async saveCredential(connectionId, expectedVersion, input) {
      const saved = await store.saveCredential(connectionId, expectedVersion, input);
      publish({ connectionId, type: "credential", version: saved.version });
      return saved;
    },
    async updateConnectionStatus(tenantId, id, expected, next, statusReason, changes) {
      const updated = await announcingIfUnknown(tenantId, () =>
        store.updateConnectionStatus(tenantId, id, expected, next, statusReason, changes),
      );
      publish({ connectionId: updated.id, type: "status", status: updated.status, reason: updated.statusReason });
      announceEvents(updated.tenantId);
      return updated;
    },
  };
}
