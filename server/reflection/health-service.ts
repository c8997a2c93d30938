/**
 * gRPC health checking (grpc.health.v1.Health): a per-server table of serving statuses that load
 * balancers and orchestrators poll (Check) or follow (Watch). It owns that table and the open
 * Watch streams; it must not decide readiness itself (app wiring calls setStatus / shutdown).
 * @see https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 */

import type { ServiceImpl } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { type Health, HealthCheckResponse_ServingStatus } from "../../gen/grpc/health/v1/health_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";

/** A status the server can report for a registered service. */
export type ServingStatus = "SERVING" | "NOT_SERVING";

/** Options for {@link createHealthService}. */
export interface HealthServiceOptions {
  /**
   * Fully-qualified service names (e.g. `ConnectionService.typeName`) to report as SERVING from
   * the start. The empty name, which by convention means the whole server, is always registered.
   */
  services?: readonly string[];
}

/** The health service implementation plus the controls the server uses to drive it. */
export interface HealthService {
  /** Implementation for `router.service(Health, health.impl)`. */
  readonly impl: ServiceImpl<typeof Health>;
  /** Sets (or registers) a service's status and notifies its watchers; ignored after shutdown. */
  setStatus(service: string, status: ServingStatus): void;
  /**
   * Marks every service NOT_SERVING, sends that to all watchers, then ends their Watch streams so
   * a graceful HTTP/2 drain is not held open by them. Later setStatus calls are ignored, so a
   * late "ready" signal cannot revive a server that is going away.
   */
  shutdown(): void;
}

const WIRE_STATUS = {
  SERVING: HealthCheckResponse_ServingStatus.SERVING,
  NOT_SERVING: HealthCheckResponse_ServingStatus.NOT_SERVING,
} as const satisfies Record<ServingStatus, HealthCheckResponse_ServingStatus>;

/**
 * Creates a health service whose state lives in the returned object (one per server).
 *
 * @example
 * const health = createHealthService({ services: [ConnectionService.typeName] });
 * router.service(Health, health.impl);
 * // on SIGTERM, before draining:
 * health.shutdown();
 */
export function createHealthService(options: HealthServiceOptions = {}): HealthService {
  const statuses = new Map<string, ServingStatus>([["", "SERVING"]]);
  for (const name of options.services ?? []) statuses.set(name, "SERVING");
  const watchers = new Set<() => void>();
  let isShutDown = false;

  const notifyWatchers = (): void => {
    for (const wake of watchers) wake();
  };

  const impl: ServiceImpl<typeof Health> = {
    check(request) {
      const status = statuses.get(request.service);
      if (status === undefined) {
        // The health protocol itself specifies NOT_FOUND here, so this is not a domain error.
        const detail = { desc: ErrorInfoSchema, value: { reason: ErrorReason.SERVICE_NOT_FOUND } };
        throw new ConnectError(`unknown service "${request.service.slice(0, 200)}"`, Code.NotFound, undefined, [detail]);
      }
      return { status: WIRE_STATUS[status] };
    },

    async *watch(request, context) {
      let wake = (): void => {};
      const watcher = (): void => wake();
      watchers.add(watcher);
      context.signal.addEventListener("abort", watcher);
      try {
        let sent: HealthCheckResponse_ServingStatus | undefined;
        for (;;) {
          // Arm before reading the status: a change made while we are suspended (at the yield
          // or the await) resolves this promise, so no update is lost. Only the latest status
          // is sent, as in grpc-go: a slow watcher skips intermediate flaps.
          const changed = new Promise<void>((resolve) => (wake = resolve));
          const status = statuses.get(request.service);
          const wire = status === undefined ? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN : WIRE_STATUS[status];
          if (wire !== sent) {
            sent = wire;
            yield { status: wire };
            continue;
          }
          if (isShutDown || context.signal.aborted) return;
          await changed;
        }
      } finally {
        watchers.delete(watcher);
        context.signal.removeEventListener("abort", watcher);
      }
    },
  };

  return {
    impl,
    setStatus(service, status) {
      if (isShutDown) return;
      statuses.set(service, status);
      notifyWatchers();
    },
    shutdown() {
      isShutDown = true;
      for (const name of statuses.keys()) statuses.set(name, "NOT_SERVING");
      notifyWatchers();
    },
  };
}
