/**
 * One WatchCredentials stream, in domain terms: subscribe first (so nothing published meanwhile is
 * missed), then send the current credential or status, then one event per new version or status
 * change, plus heartbeats. Resume: a client that already has `afterVersion` gets only newer
 * versions. Hub events carry no secrets; each credential is re-read (and kept fresh) on demand.
 * Ends after a revoked or attention_required status, by throwing ConnectionNotUsableError.
 */

import { type ConnectionStatus, endsWatch, isUsable } from "../domain/connection-status.ts";
import { ConnectionNotUsableError } from "../domain/errors.ts";
import type { RefreshEngine } from "../refresh/refresh-engine.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import type { WatchHub } from "./watch-hub.ts";

/** What the stream sends, before translation to proto. */
export type CredentialWatchEvent =
  | { type: "credential"; credential: UsageCredential }
  | { type: "status"; status: ConnectionStatus; reason: string | null }
  | { type: "heartbeat"; serverTimeMs: number };

/** Opens watch streams. */
export interface CredentialWatch {
  /** Streams `connection` (already tenant-checked by the caller) until `signal` aborts. */
  watch(connection: ConnectionRecord, afterVersion: number, signal: AbortSignal): AsyncGenerator<CredentialWatchEvent>;
  /**
   * The connection and (when usable) its credential, read once for every caller asking at the same
   * time: `minVersion` > 0 reuses a read in flight that already has that version; 0 reads afresh.
   */
  read(tenantId: string, id: string, minVersion: number): Promise<SharedRead>;
}

/** One read of a connection shared by its watchers. */
export interface SharedRead {
  connection: ConnectionRecord;
  credential: UsageCredential | undefined;
}

/** Creates the watch-stream factory. */
export function createCredentialWatch(deps: {
  store: Store;
  hub: WatchHub;
  engine: Pick<RefreshEngine, "keepFresh">;
  /** Reads the current usage credential of an active connection (refreshing it when due). */
  readCredential: (connection: ConnectionRecord) => Promise<UsageCredential>;
  /**
   * The connection and, when usable, its credential in one store read (TokenReader.readWatched);
   * absent: getConnection, then `readCredential`.
   */
  readWatched?: (tenantId: string, id: string) => Promise<SharedRead>;
}): CredentialWatch {
  const { store, hub } = deps;
  // One read per connection shared by every watcher woken by the same event: 10k watchers of one
  // connection cost one getConnection + one decrypt, not 10k.
  const reads = new Map<string, Promise<SharedRead>>();
  const sharedRead = (tenantId: string, id: string, minVersion: number): Promise<SharedRead> => {
    const existing = minVersion > 0 ? reads.get(id) : undefined;
    const start = () => {
      const read = (async () => {
        if (deps.readWatched !== undefined) return deps.readWatched(tenantId, id);
        const connection = await store.getConnection(tenantId, id);
        const credential = isUsable(connection.status) ? await deps.readCredential(connection) : undefined;
        return { connection, credential };
      })();
      reads.set(id, read);
      read.finally(() => reads.get(id) === read && reads.delete(id)).catch(() => undefined);
      return read;
    };
    if (!existing) return start();
    // A read begun before the event may predate the version it announces: then read again.
    return existing.then((r) => (r.connection.credentialVersion >= minVersion ? r : start()));
  };
  return {
    read: sharedRead,
    async *watch(first, afterVersion, signal) {
      const events = hub.subscribe(first.id, signal);
      let lastVersion = afterVersion;
      let lastStatus: ConnectionStatus | undefined;

      // Re-reads the connection and yields what the client has not seen: status, then credential.
      async function* sync(minVersion = 0): AsyncGenerator<CredentialWatchEvent> {
        const shared = minVersion > 0 ? await sharedRead(first.tenantId, first.id, minVersion) : undefined;
        const connection = shared?.connection ?? (await store.getConnection(first.tenantId, first.id));
        if (connection.status !== lastStatus) {
          // The first message of an active connection is its credential; every later change, and a
          // connection that is not active at the start, is reported as a status event.
          const isStart = lastStatus === undefined;
          lastStatus = connection.status;
          if (!isStart || !isUsable(connection.status)) {
            yield { type: "status", status: connection.status, reason: connection.statusReason };
          }
        }
        if (endsWatch(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
        if (!isUsable(connection.status) || connection.credentialVersion <= lastVersion) return;
        const credential = shared?.credential ?? (await deps.readCredential(connection));
        if (credential.version > lastVersion) {
          lastVersion = credential.version;
          yield { type: "credential", credential };
        }
        await deps.engine.keepFresh(connection);
      }

      try {
        yield* sync();
        for await (const event of events) {
          if (event.type === "heartbeat") yield { type: "heartbeat", serverTimeMs: event.serverTimeMs };
          else if (event.type === "credential" && event.version <= lastVersion) continue;
          else yield* sync(event.type === "credential" ? event.version : 0);
        }
      } finally {
        await events.return?.();
      }
    },
  };
}
