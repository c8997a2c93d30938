/**
 * The life cycle shared by every maintained link (WebSocket, gRPC): one stop signal, one
 * credential follower, one backoff, the metrics, and the handle given to the caller. A link
 * module supplies only its connect-and-wait loop. A fatal error (attention_required, revoked,
 * permanent close) stops the link and rejects `done`; stop() and the caller's signal resolve it.
 */
import type { Credential } from "../../gen/nexus/v1/credential_pb.ts";
import { abortableSleep, type Backoff, type BackoffOptions, createBackoff } from "../backoff.ts";
import { AttentionRequiredError, ConnectionRevokedError, isTransient } from "../errors.ts";
import { errorFields, type Logger } from "../logger.ts";
import type { BridgeMetrics, BridgeMetricTarget, BridgeTransport } from "../metrics.ts";
import type { NexusClient } from "../nexus-client.ts";
import { followCredential } from "./credential-follower.ts";

/** The caller's handle on a maintained link. */
export interface MaintainHandle {
  /** Stops the link (closing it cleanly) and resolves once everything has stopped. Never rejects. */
  stop(): Promise<void>;
  /**
   * Settles when the link has stopped for good: resolves after stop() or the caller's signal,
   * rejects with AttentionRequiredError, ConnectionRevokedError, PermanentCloseError,
   * StrategyError or the error that ended it.
   */
  readonly done: Promise<void>;
}

/** What every link needs from its bridge. */
export interface LinkEnvironment {
  client: NexusClient;
  metrics: BridgeMetrics;
  logger: Logger;
  backoff?: BackoffOptions;
  pollIntervalMs?: number;
}

/** The supervisor's services to a link loop. */
export interface LinkSupervisor {
  /** Aborted when the link must stop (stop(), caller signal, fatal error). */
  readonly signal: AbortSignal;
  readonly target: BridgeMetricTarget;
  readonly backoff: Backoff;
  /** The newest credential version seen so far (0 before any). */
  latestVersion(): bigint;
  /** Registers the loop's reaction to a credential newer than any seen before. */
  onRotation(listener: (credential: Credential) => void): void;
  /** The current credential, waiting out transient Nexus failures; undefined once stopped. */
  currentCredential(): Promise<Credential | undefined>;
  /** Forces a refresh after the target rejected `staleVersion`; failures other than fatal ones are logged. */
  forceRefresh(staleVersion: bigint): Promise<void>;
  /** Sleeps the next backoff delay (recorded in the metrics); false when stopped meanwhile. */
  waitBeforeRetry(): Promise<boolean>;
  /** The link is up, authenticated with `credential`. */
  linkUp(credential: Credential): void;
  /** The link that was up is down. */
  linkDown(): void;
}

/**
 * Runs `loop` under a supervisor until it returns, throws, or the link is stopped.
 *
 * @example
 * return superviseLink(env, { connectionId, transport: "websocket", signal }, async (supervisor) => { ... });
 */
export function superviseLink(
  env: LinkEnvironment,
  link: { connectionId: string; transport: BridgeTransport; signal?: AbortSignal; backoff?: BackoffOptions },
  loop: (supervisor: LinkSupervisor) => Promise<void>,
): MaintainHandle {
  const { client, metrics, logger } = env;
  const { connectionId } = link;
  const controller = new AbortController();
  let fatal: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    fatal ??= { error };
    controller.abort(error);
  };
  if (link.signal?.aborted) controller.abort();
  link.signal?.addEventListener("abort", () => controller.abort(), { once: true, signal: controller.signal });

  const target: BridgeMetricTarget = { connectionId, transport: link.transport };
  const backoff = createBackoff(link.backoff ?? env.backoff);
  const rotationListeners: Array<(credential: Credential) => void> = [];
  let latest = { version: 0n, firstSeenAtMs: client.clock.now() };
  let isUp = false;

  const note = (credential: Credential) => {
    if (credential.version <= latest.version) return;
    const isRotation = latest.version !== 0n;
    latest = { version: credential.version, firstSeenAtMs: client.clock.now() };
    if (!isRotation) return;
    metrics.tokenRefreshed(target);
    logger.info({ connection_id: connectionId, version: Number(credential.version) }, "credential rotated");
    for (const listener of rotationListeners) listener(credential);
  };

  const rethrowIfFatal = (err: unknown) => {
    if (err instanceof AttentionRequiredError || err instanceof ConnectionRevokedError || !isTransient(err)) throw err;
  };

  const supervisor: LinkSupervisor = {
    signal: controller.signal,
    target,
    backoff,
    latestVersion: () => latest.version,
    onRotation: (listener) => void rotationListeners.push(listener),
    async currentCredential() {
      while (!controller.signal.aborted) {
        try {
          const credential = await client.credentials.getCredential(connectionId, { signal: controller.signal });
          note(credential);
          return credential;
        } catch (err) {
          if (controller.signal.aborted) return undefined;
          rethrowIfFatal(err);
          logger.warn({ connection_id: connectionId, ...errorFields(err) }, "could not get credential from nexus");
          if (!(await supervisor.waitBeforeRetry())) return undefined;
        }
      }
      return undefined;
    },
    async forceRefresh(staleVersion) {
      try {
        note(await client.credentials.refreshCredential(connectionId, { signal: controller.signal, staleVersion }));
      } catch (err) {
        if (controller.signal.aborted) return;
        if (err instanceof AttentionRequiredError || err instanceof ConnectionRevokedError) throw err;
        logger.warn({ connection_id: connectionId, ...errorFields(err) }, "forced credential refresh failed");
      }
    },
    async waitBeforeRetry() {
      const delayMs = backoff.nextDelayMs();
      metrics.reconnectDelay(target, delayMs / 1000);
      logger.info(
        { connection_id: connectionId, transport: link.transport, delay_ms: delayMs, attempt: backoff.attempts },
        "reconnecting after backoff",
      );
      return abortableSleep(delayMs, controller.signal);
    },
    linkUp(credential) {
      isUp = true;
      metrics.connected(target);
      metrics.credentialAge(target, credential.version === latest.version ? (client.clock.now() - latest.firstSeenAtMs) / 1000 : 0);
      logger.info({ connection_id: connectionId, transport: link.transport, version: Number(credential.version) }, "link up");
    },
    linkDown() {
      if (!isUp) return;
      isUp = false;
      metrics.disconnected(target);
    },
  };

  const follower = followCredential({
    client,
    connectionId,
    signal: controller.signal,
    logger,
    onCredential: note,
    ...(env.backoff ? { backoff: env.backoff } : {}),
    ...(env.pollIntervalMs === undefined ? {} : { pollIntervalMs: env.pollIntervalMs }),
  }).catch(fail);

  const done = (async () => {
    try {
      await loop(supervisor);
    } catch (err) {
      fail(err);
    } finally {
      supervisor.linkDown();
      controller.abort();
      await follower;
    }
    if (fatal) {
      logger.error({ connection_id: connectionId, transport: link.transport, ...errorFields(fatal.error) }, "link stopped for good");
      throw fatal.error;
    }
  })();
  // `done` rejecting is the API, but an agent that only ever calls stop() must not crash the
  // process with an unhandled rejection; awaiting `done` still throws.
  done.catch(() => {});
  return {
    done,
    async stop() {
      controller.abort();
      await done.catch(() => {});
    },
  };
}
