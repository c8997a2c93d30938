/**
 * Revokes a connection (RevokeConnection): the status becomes revoked first, so nothing is served
 * from that moment; then the provider is asked to revoke the grant (RFC 7009) when it has a
 * revocation endpoint; then the sealed secrets are deleted. A provider that fails or has no endpoint
 * does not stop the revocation: the answer says whether the provider confirmed.
 */
import { canTransition, type StatusReason } from "../domain/connection-status.ts";
import { credentialAad, decodeStoredSecret } from "../domain/stored-secret.ts";
import { transitionFromAnyAllowed } from "../lifecycle/connection-transition.ts";
import type { Logger } from "../logging/logger.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import { hasRevocationEndpoint } from "../oauth/revoke-token.ts";
import type { StoredProvider } from "../providers/profile.ts";
import type { ConnectionRecord, Store } from "../store/store.ts";
import type { Vault } from "../vault/vault.ts";

/** What a revocation did. */
export interface RevokeResult {
  connection: ConnectionRecord;
  /** Whether the provider's revocation endpoint accepted the revocation. */
  providerRevoked: boolean;
}

/** Revokes connections. */
export interface ConnectionRevoker {
  /** Revokes the tenant's connection; revoking a revoked connection changes nothing. */
  revoke(tenantId: string, connectionId: string, reason?: StatusReason): Promise<RevokeResult>;
}

/** Creates the revoker. */
export function createConnectionRevoker(deps: {
  store: Store;
  vault: Vault;
  providers: { getWithSecret(name: string): Promise<{ provider: StoredProvider; clientSecret: string | undefined }> };
  oauth: OAuthClient;
  logger: Logger;
}): ConnectionRevoker {
  const { store, vault, logger } = deps;

  async function revokeAtProvider(connection: ConnectionRecord): Promise<boolean> {
    const credential = await store.getCredential(connection.id);
    if (credential === null) return false;
    const secret = decodeStoredSecret(vault.open(credential.secret, credentialAad(connection.id, credential.version)));
    if (secret.kind !== "oauth2") return false;
    try {
      const { provider, clientSecret } = await deps.providers.getWithSecret(connection.providerName);
      if (provider.profile.oauth === undefined) return false;
      const resolved = await deps.oauth.resolve(provider.profile, clientSecret, connection.params);
      if (!hasRevocationEndpoint(resolved)) return false;
      // Revoking the refresh token ends the whole grant at most providers (RFC 7009 §2.1).
      if (secret.refreshToken !== undefined) await deps.oauth.revoke(resolved, secret.refreshToken, "refresh_token");
      else await deps.oauth.revoke(resolved, secret.accessToken, "access_token");
      return true;
    } catch (err) {
      logger.warn(
        { connectionId: connection.id, provider: connection.providerName, err: { name: (err as Error).name } },
        "provider revocation failed; secrets are deleted anyway",
      );
      return false;
    }
  }

  return {
    async revoke(tenantId, connectionId, reason = "revoked_by_api") {
      const current = await store.getConnection(tenantId, connectionId);
      // Already revoked (the table lets nothing move to revoked from there): nothing left to do.
      if (!canTransition(current.status, "revoked")) return { connection: current, providerRevoked: false };
      // From any state the table lets reach revoked, so a concurrent move (say pending → active)
      // does not make the revocation fail.
      const revoked = await transitionFromAnyAllowed(store, current, "revoked", reason, { nextRefreshAtMs: null });
      const providerRevoked = await revokeAtProvider(revoked);
      await store.deleteCredential(connectionId);
      logger.info({ connectionId, provider: revoked.providerName, providerRevoked }, "connection revoked");
      return { connection: revoked, providerRevoked };
    },
  };
}
