/**
 * Applies a connection's usage credential to an outgoing proxied request, server-side, with the
 * agent package's strategy table (client/strategies/): the same six appliers an agent runs, so the
 * proxy and `applyCredential` cannot disagree on how a strategy is applied. hmac_payload and
 * aws_sigv4 sign the final body bytes (the caller buffers them); the other strategies touch only the
 * URL and headers, so their bodies stream.
 */
import { create } from "@bufbuild/protobuf";
import { StrategyError } from "../../client/errors.ts";
import type { AppliedParts } from "../../client/strategies/applier.ts";
import { applierFor } from "../../client/strategies/strategy-appliers.ts";
import { CredentialSchema } from "../../gen/nexus/v1/credential_pb.ts";
import type { Strategy } from "../domain/strategy.ts";
import { strategyToProto } from "../proto-mapping/strategy-proto.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";

export { StrategyError };

/** Whether a strategy signs the request body (which must then be held in memory to sign it). */
export function signsBody(strategy: Strategy): boolean {
  return strategy.type === "hmac_payload" || strategy.type === "aws_sigv4";
}

/** The request to authenticate. */
export interface OutgoingRequest {
  method: string;
  url: URL;
  headers: Headers;
  /** The exact body bytes (required by signing strategies); undefined when the body streams. */
  body: Uint8Array | undefined;
}

/**
 * The URL and headers to send, credential applied.
 * @throws StrategyError when the credential cannot be applied (a field missing, a bad value).
 */
export async function applyUsageCredential(usage: UsageCredential, request: OutgoingRequest, now: () => number): Promise<AppliedParts> {
  const credential = create(CredentialSchema, {
    connectionId: usage.connectionId,
    strategy: strategyToProto(usage.strategy),
    credentials: usage.credentials,
  });
  const applier = applierFor(credential);
  try {
    return await applier({ ...request, target: "request" }, credential, { clock: { now } });
  } catch (err) {
    // Headers refuses values with line breaks: such a credential cannot be sent at all.
    if (err instanceof TypeError) throw new StrategyError(usage.strategy.type, "the credential cannot be sent in a request header");
    throw err;
  }
}
