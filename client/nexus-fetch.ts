/**
 * nexusFetch: a `fetch` that authenticates every request with a connection's credential. On a
 * provider 401 it forces one refresh, re-applies and retries once; the body is buffered up front
 * so the retry (and body signatures: hmac_payload, aws_sigv4) see the exact same bytes. It never
 * loops: at most one refresh and one retry per call.
 */

import { applyCredential } from "./apply-credential.ts";
import { type Clock, systemClock } from "./clock.ts";
import type { CredentialCache } from "./credential-cache.ts";
import { AttentionRequiredError, ConnectionRevokedError } from "./errors.ts";
import { errorFields, type Logger, silentLogger } from "./logger.ts";

/** Options of {@link nexusFetch}. */
export interface NexusFetchOptions {
  /** Where credentials come from (`NexusClient.credentials`). */
  credentials: CredentialCache;
  /** The fetch that reaches the provider. Default: the global fetch. */
  fetch?: typeof globalThis.fetch;
  /** Whether a provider response means "credential rejected". Default: status 401. */
  isAuthFailure?: (response: Response) => boolean;
  /** Time source for SigV4 signing dates. Default: the system clock. */
  clock?: Clock;
  /** Default: silent. */
  logger?: Logger;
}

/**
 * Returns a fetch bound to one connection. Rejects with AttentionRequiredError or
 * ConnectionRevokedError when the connection is no longer usable; when the forced refresh fails
 * otherwise, or yields the same credential version, the provider's 401 response is returned.
 *
 * @example
 * const github = nexusFetch(connectionId, { credentials: client.credentials });
 * const response = await github("https://api.github.com/user");
 */
export function nexusFetch(connectionId: string, options: NexusFetchOptions): typeof globalThis.fetch {
  const { credentials } = options;
  const doFetch = options.fetch ?? globalThis.fetch;
  const isAuthFailure = options.isAuthFailure ?? ((response: Response) => response.status === 401);
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;

  return async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const original = new Request(input, init);
    const body = original.body ? new Uint8Array(await original.arrayBuffer()) : null;
    const build = () =>
      new Request(original.url, {
        method: original.method,
        headers: original.headers,
        body,
        signal: original.signal,
        redirect: original.redirect,
        keepalive: original.keepalive,
      });
    const signal = original.signal;

    const used = await credentials.getCredential(connectionId, { signal });
    const response = await doFetch(await applyCredential(used, build(), { clock }));
    if (!isAuthFailure(response)) return response;

    let refreshed;
    try {
      refreshed = await credentials.refreshCredential(connectionId, { signal, staleVersion: used.version });
    } catch (err) {
      if (err instanceof AttentionRequiredError || err instanceof ConnectionRevokedError) {
        await response.body?.cancel();
        throw err;
      }
      logger.warn({ connection_id: connectionId, ...errorFields(err) }, "forced refresh after provider 401 failed");
      return response;
    }
    if (refreshed.version === used.version) {
      logger.info(
        { connection_id: connectionId, version: Number(used.version) },
        "provider rejected the credential and no newer one exists",
      );
      return response;
    }
    await response.body?.cancel();
    logger.info(
      { connection_id: connectionId, version: Number(refreshed.version) },
      "retrying with refreshed credential after provider 401",
    );
    return doFetch(await applyCredential(refreshed, build(), { clock }));
  };
}
