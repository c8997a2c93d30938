/**
 * watchCredentials: the reconnecting, resuming view of TokenService.WatchCredentials. It owns the
 * retry loop (backoff with jitter, resume from the last version seen, liveness from heartbeats)
 * and the decision to stop for good (attention_required, revoked, or an error no retry can fix).
 * It never sleeps past an abort and never yields the same credential version twice.
 */
import type { Client } from "@connectrpc/connect";
import type { Credential } from "../gen/nexus/v1/credential_pb.ts";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import type { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { abortableSleep, type BackoffOptions, createBackoff } from "./backoff.ts";
import { AttentionRequiredError, ConnectionRevokedError, isTransient, toClientError } from "./errors.ts";
import { errorFields, type Logger, silentLogger } from "./logger.ts";
import { startStreamAttempt } from "./stream-attempt.ts";

/** The typed TokenService client the watch runs on (`NexusClient.tokens`). */
export type TokenClient = Client<typeof TokenService>;

/** Options of {@link watchCredentials}. */
export interface WatchCredentialsOptions {
  /** Stops the watch: the iteration then ends without an error. */
  signal?: AbortSignal;
  /** Resume point: the last Credential.version already held; 0 (default) gets the current one first. */
  afterVersion?: bigint;
  /** Reconnect delays. Defaults: 250 ms floor, 30 s ceiling, random `Math.random`. */
  backoff?: BackoffOptions;
  /** The server's heartbeat period, milliseconds. Default 15 000. */
  heartbeatIntervalMs?: number;
  /** Reconnect when nothing (event or heartbeat) arrived for this many heartbeat periods. Default 3. */
  missedHeartbeats?: number;
  /** Called for status changes that do not end the watch (pending, active again, expired...). */
  onStatus?: (change: { status: ConnectionStatus; reason: string }) => void;
  /** Where reconnects are logged (ids, versions and codes only). Default: silent. */
  logger?: Logger;
}

/**
 * Streams a connection's credentials: the current one first (unless `afterVersion` already is
 * current), then one per refresh, rotation or re-consent. Survives server restarts and network
 * drops by reconnecting with backoff and resuming after the last version yielded, so nothing is
 * yielded twice. Heartbeats are not yielded; silence longer than `missedHeartbeats` periods counts
 * as a dead stream. Ends without error when `signal` aborts; throws AttentionRequiredError or
 * ConnectionRevokedError when the connection stops being usable, and the ConnectError for
 * failures no retry can fix (NotFound, Unauthenticated, Unimplemented...).
 *
 * @example
 * for await (const credential of watchCredentials(client.tokens, connectionId, { signal })) {
 *   useCredential(credential);
 * }
 */
export async function* watchCredentials(
  tokens: TokenClient,
  connectionId: string,
  options: WatchCredentialsOptions = {},
): AsyncGenerator<Credential, void, undefined> {
  const { signal } = options;
  const logger = options.logger ?? silentLogger;
  const backoff = createBackoff(options.backoff);
  const silenceLimitMs = (options.heartbeatIntervalMs ?? 15_000) * (options.missedHeartbeats ?? 3);
  let afterVersion = options.afterVersion ?? 0n;

  while (!signal?.aborted) {
    const attempt = startStreamAttempt(signal, silenceLimitMs, "credential watch");
    try {
      attempt.arm();
      const stream = tokens.watchCredentials({ connectionId, afterVersion }, { signal: attempt.signal });
      for await (const response of stream) {
        // The consumer may take its time with a yielded credential: that is not server silence.
        attempt.pause();
        backoff.reset();
        const event = response.event;
        if (event.case === "credential") {
          const credential = event.value;
          // The server skips the version equal to after_version; this also guards against a server
          // (or a replica behind a balancer) that sends an older one after a reconnect.
          if (afterVersion === 0n || credential.version > afterVersion) {
            afterVersion = credential.version;
            yield credential;
          }
        } else if (event.case === "status") {
          const { status, reason } = event.value;
          if (status === ConnectionStatus.ATTENTION_REQUIRED) throw new AttentionRequiredError(connectionId, reason);
          if (status === ConnectionStatus.REVOKED) throw new ConnectionRevokedError(connectionId, reason);
          options.onStatus?.({ status, reason });
        }
        attempt.arm();
      }
      // The server ended the stream without a final status: it is shutting down or a proxy cut
      // the stream. Either way the credential may still change, so reconnect.
      logger.info({ connection_id: connectionId, after_version: Number(afterVersion) }, "credential watch ended by server; reconnecting");
    } catch (err) {
      if (signal?.aborted) return;
      if (err instanceof AttentionRequiredError || err instanceof ConnectionRevokedError) throw err;
      if (!attempt.isSilent && !isTransient(err)) throw toClientError(err, connectionId);
      logger.warn(
        { connection_id: connectionId, after_version: Number(afterVersion), is_silent: attempt.isSilent, ...errorFields(err) },
        "credential watch interrupted; reconnecting",
      );
    } finally {
      attempt.end();
    }
    const delayMs = backoff.nextDelayMs();
    logger.debug({ connection_id: connectionId, delay_ms: delayMs, attempt: backoff.attempts }, "credential watch backing off");
    if (!(await abortableSleep(delayMs, signal))) return;
  }
}
