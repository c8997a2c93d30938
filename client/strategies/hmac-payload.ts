/**
 * The hmac_payload strategy: an HMAC of the exact request body bytes, keyed by a credential
 * secret, written into a header. Defaults from HmacPayloadStrategy: field api_secret, SHA-256, hex.
 * It needs the body, so it refuses RPC metadata (whose body it cannot see).
 */
import { createHmac } from "node:crypto";
import { HmacAlgorithm, HmacEncoding } from "../../gen/nexus/v1/credential_pb.ts";
import { StrategyError } from "../errors.ts";
import { type AppliedParts, copyParts, credentialField, type StrategyApplier } from "./applier.ts";

/**
 * Applies an hmac_payload credential.
 *
 * @example
 * // strategy { type: HMAC_PAYLOAD, hmacPayload: { headerName: "X-Signature" } }
 * applyHmacPayload(parts, credential, env).headers.get("x-signature"); // hex HMAC-SHA-256 of the body
 */
export const applyHmacPayload: StrategyApplier = (parts, credential): AppliedParts => {
  const config = credential.strategy?.config.case === "hmacPayload" ? credential.strategy.config.value : undefined;
  const headerName = config?.headerName;
  if (!headerName) throw new StrategyError("hmac_payload", "strategy has no header_name", "header_name");
  if (parts.body === undefined) throw new StrategyError("hmac_payload", "the request body is needed to sign it");
  const secret = credentialField(credential, "hmac_payload", config?.secretField || "api_secret");
  const algorithm = config?.algorithm === HmacAlgorithm.SHA1 ? "sha1" : "sha256";
  const encoding = config?.encoding === HmacEncoding.BASE64 ? "base64" : "hex";
  const digest = createHmac(algorithm, secret).update(parts.body).digest(encoding);
  const applied = copyParts(parts);
  applied.headers.set(headerName, digest);
  return applied;
};
