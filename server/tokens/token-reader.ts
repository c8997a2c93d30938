/**
 * Reads a connection's current usage credential: one tenant-scoped connection read, one credential
 * read, one decrypt. Refuses connections that are not active and never serves an expired OAuth
 * access token (the Go version did); refreshing one belongs to the refresh engine.
 */
import { ConnectionNotUsableError, NotImplementedError } from "../domain/errors.ts";
import { credentialAad, decodeStoredSecret } from "../domain/stored-secret.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";
import { toUsageCredential, type UsageCredential } from "./usage-credential.ts";

/** Reads usage credentials. */
export interface TokenReader {
  /** The connection's usage credential; domain errors for unknown, inactive or expired ones. */
  read(tenantId: string, connectionId: string): Promise<UsageCredential>;
  /** The connection, if it is active (ConnectionNotUsableError otherwise). */
  activeConnection(tenantId: string, connectionId: string): Promise<ConnectionRecord>;
}

/** Creates the reader. `now` returns epoch milliseconds. */
export function createTokenReader(deps: { store: Store; vault: Vault; now: () => number }): TokenReader {
  const { store, vault } = deps;
  const activeConnection = async (tenantId: string, connectionId: string) => {
    const connection = await store.getConnection(tenantId, connectionId);
    if (connection.status !== "active") throw new ConnectionNotUsableError(connection.id, connection.status);
    return connection;
  };
  return {
    activeConnection,
    async read(tenantId, connectionId) {
      const connection = await activeConnection(tenantId, connectionId);
      const [credential, provider] = await Promise.all([
        store.getCredential(connection.id),
        store.getProvider(connection.providerName),
      ]);
      if (!credential) throw new Error(`active connection ${connection.id} has no stored credential`);
      const secret = decodeStoredSecret(vault.open(credential.secret, credentialAad(connection.id, credential.version)));
      if (secret.kind === "oauth2" && secret.expiresAtSeconds !== undefined && secret.expiresAtSeconds * 1000 <= deps.now()) {
        throw new NotImplementedError("refreshing an expired access token (refresh engine)");
      }
      const profile = provider.profile as unknown as ProviderProfile;
      return toUsageCredential({ connectionId: connection.id, version: credential.version, strategy: profile.strategy, secret });
    },
  };
}
