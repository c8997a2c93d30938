/**
 * The contract every strategy implements: which parts of a request it may read and replace, and
 * how it reads a credential field. A strategy returns new parts and never mutates its input, and
 * its errors name the field, never the value.
 */
import type { Credential } from "../../gen/nexus/v1/credential_pb.ts";
import type { Clock } from "../clock.ts";
import { StrategyError } from "../errors.ts";

/** The parts of an outgoing request a credential can touch. */
export interface RequestParts {
  /** HTTP method, upper case. */
  readonly method: string;
  /** Full URL, query included. */
  readonly url: URL;
  /** Request headers (read only: copy before changing). */
  readonly headers: Headers;
  /** Body bytes; empty when there is none, undefined when unknown (RPC metadata). */
  readonly body: Uint8Array | undefined;
  /** What the parts become: a fetch Request, a WebSocket handshake, or RPC metadata (headers only). */
  readonly target: "request" | "handshake" | "metadata";
}

/** What a strategy gives back: the URL and headers to send. */
export interface AppliedParts {
  url: URL;
  headers: Headers;
}

/** What a strategy may depend on besides the request: the time (SigV4 signs it). */
export interface ApplyEnvironment {
  clock: Clock;
}

/** Applies one strategy. Synchronous unless the strategy signs asynchronously (aws_sigv4). */
export type StrategyApplier = (parts: RequestParts, credential: Credential, env: ApplyEnvironment) => AppliedParts | Promise<AppliedParts>;

/** A fresh, mutable copy of the URL and headers of `parts`. */
export function copyParts(parts: RequestParts): AppliedParts {
  return { url: new URL(parts.url), headers: new Headers(parts.headers) };
}

/**
 * Reads a credential field as a string (numbers are written in decimal). Throws StrategyError
 * naming the field when it is absent or not a scalar.
 */
export function credentialField(credential: Credential, strategy: string, field: string): string {
  const value = credential.credentials?.[field];
  if (typeof value === "string" && value !== "") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  throw new StrategyError(strategy, `credential field "${field}" is missing or not a string`, field);
}

/** Like {@link credentialField}, but an absent field gives `undefined`. */
export function optionalCredentialField(credential: Credential, strategy: string, field: string): string | undefined {
  const value = credential.credentials?.[field];
  if (value === undefined || value === null || value === "") return undefined;
  return credentialField(credential, strategy, field);
}
