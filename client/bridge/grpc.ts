/**
 * maintainGrpc: keeps a caller-written gRPC/Connect workload running against a target service
 * with per-call credentials. The caller's `run` builds its transport with the interceptor handed
 * to it; every call then carries the cached credential of that moment. This module owns the
 * re-run loop: backoff on failure, a forced refresh on Unauthenticated, an optional restart on
 * rotation (for long-lived streams opened with the old credential), and stopping for good on
 * attention_required, revoked or an error the caller marks permanent.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { Credential } from "../../gen/nexus/v1/credential_pb.ts";
import { applyCredential } from "../apply-credential.ts";
import type { BackoffOptions } from "../backoff.ts";
import { type Clock, systemClock } from "../clock.ts";
import type { CredentialCache } from "../credential-cache.ts";
import { AttentionRequiredError, ConnectionRevokedError, StrategyError } from "../errors.ts";
import { errorFields } from "../logger.ts";
import { type LinkEnvironment, type MaintainHandle, superviseLink } from "./link-supervisor.ts";

/** What each run of a maintained gRPC workload receives. */
export interface GrpcRunContext {
  /** Aborted when the bridge stops or restarts this run; pass it to your calls. */
  signal: AbortSignal;
  /** Adds the connection's current credential to every call; put it in your transport's interceptors. */
  interceptor: Interceptor;
  /** The credential current when this run started. */
  credential: Credential;
  /** 1 for the first run, then +1 per re-run. */
  attempt: number;
}

/** Options of `Bridge.maintainGrpc`. */
export interface MaintainGrpcOptions {
  /** Stops the workload, like `handle.stop()`. */
  signal?: AbortSignal;
  /** Abort and re-run `run` when the credential rotates (for streams authenticated once). Default false. */
  restartOnRotation?: boolean;
  /** Whether an error means the target rejected the credential. Default: ConnectError Unauthenticated. */
  isAuthError?: (err: unknown) => boolean;
  /** Whether an error must stop the workload instead of re-running it. Default: Unimplemented, InvalidArgument. */
  isPermanentError?: (err: unknown) => boolean;
  /** Re-run delays; defaults to the bridge's. */
  backoff?: BackoffOptions;
  /** The backoff restarts from its floor only after a run lasted this long. Default 5 000 ms. */
  stableAfterMs?: number;
}

/**
 * Creates an interceptor that applies the connection's cached credential to each call's
 * metadata (oauth2, header, basic_auth, aws_sigv4; query_param and hmac_payload cannot be carried
 * in metadata and fail with StrategyError).
 *
 * @example
 * const transport = createGrpcTransport({ baseUrl, interceptors: [createCredentialInterceptor({ credentials: client.credentials, connectionId })] });
 */
export function createCredentialInterceptor(options: { credentials: CredentialCache; connectionId: string; clock?: Clock }): Interceptor {
  const clock = options.clock ?? systemClock;
  return (next) => async (request) => {
    const credential = await options.credentials.getCredential(options.connectionId, { signal: request.signal });
    const applied = await applyCredential(credential, request.header, { url: request.url, method: request.requestMethod, clock });
    applied.forEach((value, name) => {
      request.header.set(name, value);
    });
    return next(request);
  };
}

/**
 * Maintains a gRPC/Connect workload for `connectionId`. `run` resolving ends the link (done
 * resolves); `run` throwing re-runs it after a backoff. Use `Bridge.maintainGrpc`, which supplies
 * the environment.
 *
 * @example
 * const handle = maintainGrpc(env, connectionId, async ({ interceptor, signal }) => {
 *   const svc = createClient(Feed, createGrpcTransport({ baseUrl, interceptors: [interceptor] }));
 *   for await (const item of svc.subscribe({}, { signal })) handle(item);
 * });
 */
export function maintainGrpc(
  env: LinkEnvironment,
  connectionId: string,
  run: (context: GrpcRunContext) => Promise<void>,
  options: MaintainGrpcOptions = {},
): MaintainHandle {
  const isAuthError = options.isAuthError ?? ((err) => err instanceof ConnectError && err.code === Code.Unauthenticated);
  const isPermanentError =
    options.isPermanentError ??
    ((err) => err instanceof ConnectError && (err.code === Code.Unimplemented || err.code === Code.InvalidArgument));
  const stableAfterMs = options.stableAfterMs ?? 5_000;
  const interceptor = createCredentialInterceptor({ credentials: env.client.credentials, connectionId, clock: env.client.clock });
  const { logger } = env;

  return superviseLink(
    env,
    {
      connectionId,
      transport: "grpc",
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.backoff ? { backoff: options.backoff } : {}),
    },
    async (supervisor) => {
      let restart: ((credential: Credential) => void) | undefined;
      supervisor.onRotation((credential) => restart?.(credential));
      let attempt = 0;

      while (!supervisor.signal.aborted) {
        const credential = await supervisor.currentCredential();
        if (!credential) return;
        attempt += 1;
        const runController = new AbortController();
        const stopRun = () => runController.abort(supervisor.signal.reason);
        supervisor.signal.addEventListener("abort", stopRun, { once: true });
        let isRestarted = false;
        if (options.restartOnRotation) {
          restart = (rotated) => {
            if (rotated.version <= credential.version) return;
            isRestarted = true;
            runController.abort(new Error("credential rotated"));
          };
        }
        const startedAt = performance.now();
        supervisor.linkUp(credential);
        let failure: { error: unknown } | undefined;
        try {
          await run({ signal: runController.signal, interceptor, credential, attempt });
        } catch (err) {
          failure = { error: err };
        } finally {
          supervisor.linkDown();
          restart = undefined;
          supervisor.signal.removeEventListener("abort", stopRun);
        }

        if (supervisor.signal.aborted) return;
        if (isRestarted) {
          supervisor.backoff.reset();
          continue;
        }
        if (!failure) return;
        const { error } = failure;
        if (
          error instanceof AttentionRequiredError ||
          error instanceof ConnectionRevokedError ||
          error instanceof StrategyError ||
          isPermanentError(error)
        ) {
          throw error;
        }
        logger.warn({ connection_id: connectionId, attempt, ...errorFields(error) }, "grpc workload failed; re-running");
        if (isAuthError(error)) await supervisor.forceRefresh(credential.version);
        if (performance.now() - startedAt >= stableAfterMs) supervisor.backoff.reset();
        if (!(await supervisor.waitBeforeRetry())) return;
      }
    },
  );
}
