/**
 * How the proxy's failures become answers: a refusal carries the HTTP status it is answered with;
 * an outbound failure becomes a timeout, unreachable or the abort's own reason; the audit row's
 * reason names which.
 */
import { Code, type ConnectError } from "@connectrpc/connect";
import { ErrorReason } from "../../gen/nexus/v1/errors_pb.ts";
import { ClientClosedError } from "../http/read-limited-body.ts";
import { errorWithReason } from "../rpc/errors.ts";

/** A refusal with the HTTP status the proxy answers with (the Connect code alone would not give it). */
export class ProxyRefusal extends Error {
  override readonly name = "ProxyRefusal";
  readonly status: number;
  readonly error: ConnectError;
  constructor(status: number, code: Code, reason: ErrorReason, message: string) {
    super(message);
    this.status = status;
    this.error = errorWithReason(message, code, reason);
  }
}

export const tooLarge = (status: number, what: string, limit: number) =>
  new ProxyRefusal(status, Code.ResourceExhausted, ErrorReason.PROXY_PAYLOAD_TOO_LARGE, `${what} is larger than ${limit} bytes`);

export function reasonOf(error: ConnectError): ErrorReason {
  for (const detail of error.details) {
    if ("desc" in detail && detail.desc.typeName === "nexus.v1.ErrorInfo") {
      return (detail.value as { reason?: ErrorReason }).reason ?? ErrorReason.UNSPECIFIED;
    }
  }
  return ErrorReason.UNSPECIFIED;
}

/** The ErrorReason a decision's reason names ("PROXY_NOT_ALLOWED"), if it names one. */
export function knownReason(name: string): ErrorReason | undefined {
  const value = (ErrorReason as Record<string, ErrorReason | undefined>)[name];
  return typeof value === "number" && value !== ErrorReason.UNSPECIFIED ? value : undefined;
}

export function reasonName(reason: ErrorReason): string {
  return (Object.entries(ErrorReason).find(([, value]) => value === reason)?.[0] ?? "error").toLowerCase();
}

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "ETIMEDOUT"]);

export function upstreamReason(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string") return undefined;
  return TIMEOUT_CODES.has(code) ? "upstream_timeout" : "upstream_unreachable";
}

/**
 * Why a response stream ended early: the abort (total timeout, caller gone) when the stream failed
 * with it, else the outbound error (idle timeout, reset), else an abort that came after (a failed
 * pipeline closes the response, which reads as the caller leaving).
 */
export function streamEndReason(err: unknown, signal: AbortSignal): string | undefined {
  const aborted = signal.aborted
    ? signal.reason instanceof ProxyRefusal
      ? "upstream_timeout"
      : signal.reason instanceof ClientClosedError
        ? "client_closed"
        : undefined
    : undefined;
  if (signal.aborted && err === signal.reason) return aborted;
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "ERR_STREAM_PREMATURE_CLOSE") return aborted;
  return upstreamReason(err) ?? aborted;
}

/** `promise`, or a rejection with the signal's reason as soon as it aborts. */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/** The refusal an outbound failure becomes: the abort reason (total timeout, client gone), a timeout, or unreachable. */
export function upstreamError(err: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : err;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string" && TIMEOUT_CODES.has(code)) {
    const phase = code === "UND_ERR_CONNECT_TIMEOUT" ? "connect" : code === "UND_ERR_HEADERS_TIMEOUT" ? "answer" : "keep sending";
    return new ProxyRefusal(504, Code.DeadlineExceeded, ErrorReason.PROXY_UPSTREAM_TIMEOUT, `the provider did not ${phase} in time`);
  }
  if (err instanceof ProxyRefusal || err instanceof ClientClosedError) return err;
  return new ProxyRefusal(502, Code.Unavailable, ErrorReason.PROXY_UPSTREAM_UNREACHABLE, "the provider could not be reached");
}
