/**
 * A Store that announces its writes: every saved credential version and every status change is
 * published as a watch event after it commits. Deriving events from the writes themselves means
 * consent, key capture, revocation and the refresh engine all reach watchers without each having
 * to remember to tell them.
 */
import type { Store } from "../store/store.ts";
import type { ConnectionEvent } from "./watch-hub.ts";

/** Wraps `store` so its credential and status writes are published with `publish`. */
export function createPublishingStore(store: Store, publish: (event: ConnectionEvent) => void): Store {
  return {
    ...store,
    async saveCredential(connectionId, expectedVersion, input) {
      const saved = await store.saveCredential(connectionId, expectedVersion, input);
      publish({ connectionId, type: "credential", version: saved.version });
      return saved;
    },
    async updateConnectionStatus(tenantId, id, expected, next, statusReason, changes) {
      const updated = await store.updateConnectionStatus(tenantId, id, expected, next, statusReason, changes);
      publish({ connectionId: updated.id, type: "status", status: updated.status, reason: updated.statusReason });
      return updated;
    },
  };
}
