/**
 * The order of the RPC interceptors, declared once: app.ts builds each interceptor and hands them
 * here by role, so no other module decides where an interceptor sits. The first entry is the
 * outermost layer (it sees the request first and the outcome last).
 */
import type { Interceptor } from "@connectrpc/connect";

/** One interceptor per role of the chain. */
export interface InterceptorsByRole {
  /** Sets the request id, logs every call with its final code. */
  logging: Interceptor;
  /** Counts final codes and latencies. */
  metrics: Interceptor;
  /** Turns domain errors into Connect codes before logging and metrics look. */
  error: Interceptor;
  /** Authenticates the caller; nothing inside runs for an unknown key. */
  auth: Interceptor;
  /** Per-key request rate. */
  rateLimit: Interceptor;
  /** Open streams per key and per anonymous address. */
  streamLimit: Interceptor;
  /** Writes the audit row; late, so it sees the handler's own outcome (a stream ended by a revocation too). */
  audit: Interceptor;
  /** Re-checks a stream's API key before each credential it sends. */
  keyValidity: Interceptor;
  /** Checks request text last: only an authorised caller hears what is wrong with its request. */
  input: Interceptor;
  /** REST's in-process transport only: takes the REST caller's address from the header REST sets. */
  inProcessAddress: Interceptor;
}

/** The roles, outermost first. Access control sits inside the error mapper so its refusals are counted and logged like any other code. */
export const INTERCEPTOR_ORDER = [
  "inProcessAddress",
  "logging",
  "metrics",
  "error",
  "auth",
  "rateLimit",
  "streamLimit",
  "audit",
  "keyValidity",
  "input",
] as const satisfies readonly (keyof InterceptorsByRole)[];

/**
 * The interceptor list of one transport, in INTERCEPTOR_ORDER. `inProcessAddress` is installed only
 * on the in-process (router) transport REST uses: on the public port the header means nothing.
 */
export function orderInterceptors(byRole: InterceptorsByRole, transport: "public" | "in-process"): Interceptor[] {
  return INTERCEPTOR_ORDER.filter((role) => transport === "in-process" || role !== "inProcessAddress").map((role) => byRole[role]);
}
