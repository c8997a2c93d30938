/**
 * Typed per-request context keys (connect-es context values). Interceptors set them; handlers read
 * them. Long-lived dependencies are captured by service factories, not passed here.
 */
import { createContextKey } from "@connectrpc/connect";

/** Request id: from a well-formed `x-request-id` header, or generated. Echoed in the response. */
export const kRequestId = createContextKey<string>("", { description: "request id" });

/** The client's address as seen by this server (or by the first trusted proxy). */
export const kClientAddress = createContextKey<string>("", { description: "client address" });
