/**
 * Reads a connection's current usage credential for GetToken, RefreshConnection and watch streams:
 * the connection, then the refresh engine (which opens the sealed credential, refreshing it first
 * when it expires within the skew), then the provider's strategy. GetToken reads the connection,
 * its credential and its provider's profile text in one statement; the parsed strategy is reused
 * while that text is unchanged (a provider update on any replica changes it), so the provider row
 * is never parsed per call and never served stale.
 * Never serves an expired OAuth access token (the Go version did).
 */

import { isUsable } from "../domain/connection-status.ts";
import { ConnectionNotUsableError } from "../domain/errors.ts";
import type { Strategy } from "../domain/strategy.ts";
import type { ProviderProfile } from "../providers/profile.ts";
import type { FreshCredential, RefreshEngine } from "../refresh/refresh-engine.ts";
import type { ConnectionRecord, CredentialRecord, Store } from "../store/store.ts";
import { toUsageCredential, type UsageCredential } from "./usage-credential.ts";

/** Reads usage credentials. */
export interface TokenReader {
  /** The connection's usage credential, fresh; domain errors for unknown or unusable connections. */
  read(tenantId: string, connectionId: string): Promise<UsageCredential>;
  /** A credential newer than the stored one (RefreshConnection): every failure throws. */
  refresh(tenantId: string, connectionId: string): Promise<UsageCredential>;
  /** The usage credential of a connection record already loaded (watch streams). */
  readConnection(connection: ConnectionRecord): Promise<UsageCredential>;
  /**
   * Like `readConnection`, with the provider's strategy already loaded by the caller (the proxy): one
   * read fewer; `stored` (the sealed credential read with the connection by `proxyTarget`) saves another.
   */
  readConnectionWith(connection: ConnectionRecord, strategy: Strategy, stored?: CredentialRecord | null): Promise<UsageCredential>;
  /**
   * The proxy's read, in one statement: the active connection, its sealed credential (not opened) and
   * its provider's profile, parsed once per profile text (a provider update on any replica changes the
   * text, so a cached parse is never served stale). Domain errors as `activeConnection` / getProvider.
   */
  proxyTarget(tenantId: string, connectionId: string): Promise<ProxyTarget>;
  /**
   * Watch streams' re-read, in one statement as `read`: the connection and, when it is usable, its
   * usage credential (kept fresh as `readConnection` keeps it); no credential for an unusable one.
   */
  readWatched(tenantId: string, connectionId: string): Promise<{ connection: ConnectionRecord; credential: UsageCredential | undefined }>;
  /** The connection, if it is active (ConnectionNotUsableError otherwise). */
  activeConnection(tenantId: string, connectionId: string): Promise<ConnectionRecord>;
}

/** What `proxyTarget` reads. */
export interface ProxyTarget {
  connection: ConnectionRecord;
  /** The sealed credential record as read (pass it to `readConnectionWith`). */
  credential: CredentialRecord | null;
  profile: ProviderProfile;
}

/** Providers whose parsed profile is kept (a deployment has a handful). */
const MAX_CACHED_PROVIDERS = 1_000;

/** Creates the reader. */
export function createTokenReader(deps: { store: Store; engine: Pick<RefreshEngine, "ensureFresh" | "forceRefresh"> }): TokenReader {
  const { store, engine } = deps;
  /** Provider name → the profile text last seen and its parse (treat as read-only). */
  const profiles = new Map<string, { json: string; profile: ProviderProfile }>();
  const profileOf = async (providerName: string, json: string | null): Promise<ProviderProfile> => {
    const cached = profiles.get(providerName);
    if (json !== null && cached?.json === json) return cached.profile;
    // Missing provider: getProvider throws the NotFoundError the other paths throw.
    if (json === null) return (await store.getProvider(providerName)).profile as unknown as ProviderProfile;
    const profile = JSON.parse(json) as ProviderProfile;
    if (profiles.size >= MAX_CACHED_PROVIDERS && cached === undefined) profiles.delete(profiles.keys().next().value as string);
    profiles.set(providerName, { json, profile });
    return profile;
  };
  /** The parsed profile of an unchanged text at once (no promise): GetToken's usual case. */
  const cachedProfile = (providerName: string, json: string | null): ProviderProfile | undefined => {
    const cached = profiles.get(providerName);
    return json !== null && cached?.json === json ? cached.profile : undefined;
  };
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
    async readConnectionWith(connection, strategy, stored) {
      if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
      const fresh = await engine.ensureFresh(connection, stored);
      return toUsageCredential({ connectionId: connection.id, version: fresh.version, strategy, secret: fresh.secret });
    },
    async proxyTarget(tenantId, connectionId) {
      const { connection, credential, providerProfileJson } = await store.getConnectionForToken(tenantId, connectionId);
      if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
      return { connection, credential, profile: await profileOf(connection.providerName, providerProfileJson) };
    },
    async read(tenantId, connectionId) {
      const { connection, credential, providerProfileJson } = await store.getConnectionForToken(tenantId, connectionId);
      if (!isUsable(connection.status)) throw new ConnectionNotUsableError(connection.id, connection.status);
      const fresh = await engine.ensureFresh(connection, credential);
      const profile =
        cachedProfile(connection.providerName, providerProfileJson) ?? (await profileOf(connection.providerName, providerProfileJson));
      const { strategy } = profile;
      return toUsageCredential({ connectionId: connection.id, version: fresh.version, strategy, secret: fresh.secret });
    },
    async readWatched(tenantId, connectionId) {
      const { connection, credential, providerProfileJson } = await store.getConnectionForToken(tenantId, connectionId);
      if (!isUsable(connection.status)) return { connection, credential: undefined };
      const fresh = await engine.ensureFresh(connection, credential);
      const profile =
        cachedProfile(connection.providerName, providerProfileJson) ?? (await profileOf(connection.providerName, providerProfileJson));
      const usage = toUsageCredential({
        connectionId: connection.id,
        version: fresh.version,
        strategy: profile.strategy,
        secret: fresh.secret,
      });
      return { connection, credential: usage };
    },
    async refresh(tenantId, connectionId) {
      const connection = await activeConnection(tenantId, connectionId);
      return usage(connection, await engine.forceRefresh(connection));
    },
  };
}
