/**
 * Typed per-request context keys (connect-es context values). Interceptors set them; handlers read
 * them. Long-lived dependencies are captured by service factories, not passed here. Kept below
 * rpc/, rest/, auth/ and audit/, which all read them, so none of those has to import another.
 */
import { createContextKey } from "@connectrpc/connect";
import type { Principal } from "./principal.ts";

/**
 * Request header carrying the REST caller's address to the in-process transport. The REST handler
 * always drops an incoming header of this name and sets it only from `clientAddress`, so a caller
 * cannot spoof it through REST. Interceptors must trust it only on calls that come through the
 * in-process (router) transport: on the public Connect/gRPC port a caller can send it freely.
 */
export const CLIENT_ADDRESS_HEADER = "x-nexus-client-address";

/** Request id: from a well-formed `x-request-id` header, or generated. Echoed in the response. */
export const kRequestId = createContextKey<string>("", { description: "request id" });

/** The client's address as seen by this server (or by the first trusted proxy). */
export const kClientAddress = createContextKey<string>("", { description: "client address" });

/**
 * The authenticated caller, set by the auth interceptor; undefined on public methods (health).
 * Handlers read it through server/auth/tenant-scope.ts, never from a header.
 */
export const kPrincipal = createContextKey<Principal | undefined>(undefined, { description: "authenticated principal" });

/**
 * The tenant and connection a call turned out to act on, noted by the tenant scope while the
 * handler runs (an admin's tenant is known only after the connection is looked up); the audit
 * interceptor reads it when the call ends. A mutable holder, one per request.
 */
export const kAuditTarget = createContextKey<AuditTarget | undefined>(undefined, { description: "audit target" });

/**
 * Re-checks, right before a stream delivers a credential, that the caller's API key is still valid
 * (not revoked, not expired); throws Unauthenticated otherwise. Set by the key-validity
 * interceptor on streams; the default (unary calls, public methods) passes.
 */
export const kAssertKeyValid = createContextKey<() => void>(() => undefined, { description: "API key still valid" });

/**
 * Runs `admit` (the audit row of a credential about to be sent, which may refuse it) at the last
 * check before the message leaves: on streams the key-validity interceptor queues it and runs it
 * right after its final key check of the next message, so a key revoked in between gets neither the
 * credential nor a "delivered" row. The default (no such interceptor) runs it at once.
 */
export const kAdmitOnSend = createContextKey<(admit: () => void) => void>((admit) => admit(), { description: "admit on send" });

/** What `kAuditTarget` holds. */
export interface AuditTarget {
  tenantId?: string;
  connectionId?: string;
}

/**
 * The wire of a server stream whose response headers are already out, so a message encoded once
 * can be written to many streams (server/services/watch-fanout.ts). gRPC, gRPC-Web and Connect
 * streaming frame a message the same way (a 5-byte envelope), so only the codec differs. Set by
 * the Node adapter for WatchCredentials; absent on the in-process transport (REST) and in tests
 * that call handlers directly, which then stream message by message through connect-es.
 */
export const kRawStream = createContextKey<RawStreamSink | undefined>(undefined, { description: "raw stream body" });

/** What `kRawStream` holds. */
export interface RawStreamSink {
  /** How this stream's messages are encoded. */
  readonly codec: "proto" | "json";
  /** The response body (an HTTP/2 stream or an HTTP/1.1 response). */
  readonly body: RawStreamBody;
  /**
   * Present when the transport writes the handler's messages itself (rpc/watch-h2.ts): the handler
   * sets `attach` just before it yields its last first message; once that message is on the wire the
   * transport attaches the stream to the fan-out and asks for the next message only after the
   * fan-out has ended the stream, so nothing waits in between (no pending promise per stream).
   */
  readonly handover?: FanoutHandover;
}

/** See `RawStreamSink.handover`. */
export interface FanoutHandover {
  attach: (() => Promise<void>) | undefined;
}

/** The part of a Node writable the fan-out uses. */
export interface RawStreamBody {
  write(chunk: Uint8Array): boolean;
  readonly writableNeedDrain: boolean;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}
