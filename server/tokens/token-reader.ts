/**
 * Reads a connection's current usage credential for GetToken, RefreshConnection and watch streams:
 * one tenant-scoped connection read, then the refresh engine (which reads and opens the sealed
 * credential, refreshing it first when it expires within the skew), then the provider's strategy.
 * Never serves an expired OAuth access token (the Go version did).
 */

import { isUsable } from "../domain/connection-status.ts";
import { ConnectionNotUsableError } from "../domain/errors.ts";
import type { Strategy } from "../domain/strategy.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import type { FreshCredential, RefreshEngine } from "../refresh/refresh-engine.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import { toUsageCredential, type UsageCredential } from "./usage-credential.ts";

/** Reads usage credentials. */
export interface TokenReader {
  /** The connection's usage credential, fresh; domain errors for unknown or unusable connections. */
  read(tenantId: string, connectionId: string): Promise<UsageCredential>;
  /** A credential newer than the stored one (RefreshConnection): every failure throws. */
  refresh(tenantId: string, connectionId: string): Promise<UsageCredential>;
  /** The usage credential of a connection record already loaded (watch streams). */
  readConnection(connection: ConnectionRecord): Promise<UsageCredential>;
  /** Like `readConnection`, with the provider's strategy already loaded by the caller (the proxy): one read fewer. */
  readConnectionWith(connection: ConnectionRecord, strategy: Strategy): Promise<UsageCredential>;
  /** The connection, if it is active (ConnectionNotUsableError otherwise). */
  activeConnection(tenantId: string, connectionId: string): Promise<ConnectionRecord>;
}

/** Creates the reader. */
export function createTokenReader(deps: { store: Store; engine: Pick<RefreshEngine, "ensureFresh" | "forceRefresh"> }): TokenReader {
  const { store, engine } = deps;
  const activeConnection = async (tenantId: string, connectionId: string) => {
    const connection = await store.getConnection(tenantId, connectionId);
    if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
    return connection;
  };
  const usage = async (connection: ConnectionRecord, fresh: FreshCredential): Promise<UsageCredential> => {
    const provider = await store.getProvider(connection.providerName);
    const profile = provider.profile as unknown as ProviderProfile;
    return toUsageCredential({ connectionId: connection.id, version: fresh.version, strategy: profile.strategy, secret: fresh.secret });
  };
  const readConnection = async (connection: ConnectionRecord) => {
    if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
    return usage(connection, await engine.ensureFresh(connection));
  };
  return {
    activeConnection,
    readConnection,
    async readConnectionWith(connection, strategy) {
      if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
      const fresh = await engine.ensureFresh(connection);
      return toUsageCredential({ connectionId: connection.id, version: fresh.version, strategy, secret: fresh.secret });
    },
    async read(tenantId, connectionId) {
      return readConnection(await activeConnection(tenantId, connectionId));
    },
    async refresh(tenantId, connectionId) {
      const connection = await activeConnection(tenantId, connectionId);
      return usage(connection, await engine.forceRefresh(connection));
    },
  };
}
