/**
 * followCredential: keeps a bridge informed of a connection's newest credential while a link is
 * maintained. It prefers the watch stream; against a Nexus without WatchCredentials (Unimplemented)
 * it falls back to polling the credential cache. It ends quietly on abort and rejects with the
 * typed error (attention_required, revoked) or any error no retry can fix.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Credential } from "../../gen/nexus/v1/credential_pb.ts";
import { abortableSleep, type BackoffOptions, createBackoff } from "../backoff.ts";
import { isTransient } from "../errors.ts";
import { errorFields, type Logger } from "../logger.ts";
import type { NexusClient } from "../nexus-client.ts";

/** Options of {@link followCredential}. */
export interface FollowCredentialOptions {
  client: NexusClient;
  connectionId: string;
  signal: AbortSignal;
  /** Called with every credential seen (the first one included). */
  onCredential: (credential: Credential) => void;
  logger: Logger;
  /** Backoff of the polling fallback after transient failures. */
  backoff?: BackoffOptions;
  /** Polling fallback period; the cache only calls Nexus when its copy went stale. Default 30 000 ms. */
  pollIntervalMs?: number;
}

/**
 * Follows the connection's credential until `signal` aborts.
 *
 * @example
 * await followCredential({ client, connectionId, signal, logger, onCredential: (c) => rotate(c) });
 */
export async function followCredential(options: FollowCredentialOptions): Promise<void> {
  const { client, connectionId, signal, logger } = options;
  try {
    for await (const credential of client.watchCredentials(connectionId, { signal })) options.onCredential(credential);
    return;
  } catch (err) {
    if (!(err instanceof ConnectError && err.code === Code.Unimplemented)) throw err;
    logger.info({ connection_id: connectionId }, "WatchCredentials not available; polling for credential changes");
  }

  const backoff = createBackoff(options.backoff);
  const pollIntervalMs = options.pollIntervalMs ?? 30_000;
  while (!signal.aborted) {
    let waitMs = pollIntervalMs;
    try {
      options.onCredential(await client.credentials.getCredential(connectionId, { signal }));
      backoff.reset();
    } catch (err) {
      if (signal.aborted) return;
      if (!isTransient(err)) throw err;
      waitMs = backoff.nextDelayMs();
      logger.warn({ connection_id: connectionId, delay_ms: waitMs, ...errorFields(err) }, "credential poll failed; retrying");
    }
    if (!(await abortableSleep(waitMs, signal))) return;
  }
}
