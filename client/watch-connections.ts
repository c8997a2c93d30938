/**
 * watchConnections: the reconnecting, resuming view of ConnectionEventService.WatchConnections.
 * It owns the retry loop (backoff with jitter, resume from the cursor of the last message seen,
 * liveness from heartbeats) and the decision to stop for good (an error no retry can fix, such as
 * an expired cursor). Events are persisted by the server, so a reconnect resumes exactly after the
 * last message received: nothing is yielded twice and nothing is skipped.
 */
import type { Client } from "@connectrpc/connect";
import type { ConnectionEvent, ConnectionEventService } from "../gen/nexus/v1/events_pb.ts";
import { abortableSleep, type BackoffOptions, createBackoff } from "./backoff.ts";
import { isTransient } from "./errors.ts";
import { errorFields, type Logger, silentLogger } from "./logger.ts";
import { startStreamAttempt } from "./stream-attempt.ts";

/** The typed ConnectionEventService client the watch runs on (`NexusClient.connectionEvents`). */
export type ConnectionEventClient = Client<typeof ConnectionEventService>;

/** Options of {@link watchConnections}. */
export interface WatchConnectionsOptions {
  /** Stops the watch: the iteration then ends without an error. */
  signal?: AbortSignal;
  /**
   * Resume point: the `cursor` of the last event (or message) already handled. Absent: start now,
   * or with `replayRetained` at the oldest event the server still keeps.
   */
  afterCursor?: string;
  /** Only this connection's events. */
  connectionId?: string;
  /** The tenant to watch; required with an admin key, optional (own tenant) with an agent key. */
  tenantId?: string;
  /** Without `afterCursor`: begin with every retained event (of `connectionId`, when set). */
  replayRetained?: boolean;
  /**
   * Told the resume position after every message, heartbeats included (they move it past other
   * connections' events when `connectionId` filters). Persist it to resume after a restart.
   */
  onCursor?: (cursor: string) => void;
  /** Reconnect delays. Defaults: 250 ms floor, 30 s ceiling, random `Math.random`. */
  backoff?: BackoffOptions;
  /** The server's heartbeat period, milliseconds. Default 15 000. */
  heartbeatIntervalMs?: number;
  /** Reconnect when nothing (event or heartbeat) arrived for this many heartbeat periods. Default 3. */
  missedHeartbeats?: number;
  /** Where reconnects are logged (cursors, ids and codes only). Default: silent. */
  logger?: Logger;
}

/**
 * Streams the tenant's connection events (created, pending, active, attention_required, failed,
 * revoked, expired, updated), each once, in commit order. Survives server restarts, replica
 * failover and network drops by reconnecting with backoff and resuming after the last cursor
 * received. Heartbeats are not yielded. Ends without error when `signal` aborts; throws the
 * ConnectError for failures no retry can fix (an expired cursor: failed_precondition with reason
 * EVENT_CURSOR_EXPIRED; NotFound, PermissionDenied, Unauthenticated…).
 *
 * @example
 * for await (const event of watchConnections(client.connectionEvents, { connectionId, replayRetained: true, signal })) {
 *   if (event.connection?.status === ConnectionStatus.ACTIVE) break;
 * }
 */
export async function* watchConnections(
  events: ConnectionEventClient,
  options: WatchConnectionsOptions = {},
): AsyncGenerator<ConnectionEvent, void, undefined> {
  const { signal } = options;
  const logger = options.logger ?? silentLogger;
  const backoff = createBackoff(options.backoff);
  const silenceLimitMs = (options.heartbeatIntervalMs ?? 15_000) * (options.missedHeartbeats ?? 3);
  let cursor = options.afterCursor ?? "";

  while (!signal?.aborted) {
    const attempt = startStreamAttempt(signal, silenceLimitMs, "connection watch");
    try {
      attempt.arm();
      const request = {
        tenantId: options.tenantId ?? "",
        connectionId: options.connectionId ?? "",
        afterCursor: cursor,
        // Once a cursor is known it says where to go on; the replay was the first start's choice.
        replayRetained: cursor === "" && (options.replayRetained ?? false),
      };
      for await (const response of events.watchConnections(request, { signal: attempt.signal })) {
        // The consumer may take its time with a yielded event: that is not server silence.
        attempt.pause();
        backoff.reset();
        if (response.cursor !== "") cursor = response.cursor;
        if (response.event.case === "connectionEvent") yield response.event.value;
        if (response.cursor !== "") options.onCursor?.(response.cursor);
        attempt.arm();
      }
      // The server ended the stream (shutting down, or a proxy cut it): resume elsewhere.
      logger.info({ cursor }, "connection watch ended by server; reconnecting");
    } catch (err) {
      if (signal?.aborted) return;
      if (!attempt.isSilent && !isTransient(err)) throw err;
      logger.warn({ cursor, is_silent: attempt.isSilent, ...errorFields(err) }, "connection watch interrupted; reconnecting");
    } finally {
      attempt.end();
    }
    const delayMs = backoff.nextDelayMs();
    logger.debug({ delay_ms: delayMs, attempt: backoff.attempts }, "connection watch backing off");
    if (!(await abortableSleep(delayMs, signal))) return;
  }
}
