/**
 * Token revocation at the provider (RFC 7009) for RevokeConnection. Revoking a refresh token
 * usually ends the whole grant (RFC 7009 §2.1). Callers decide what a failure means: the stored
 * secrets are deleted either way.
 */
import { processRevocationResponse, revocationRequest } from "oauth4webapi";
import { ProviderMetadataError } from "./discovery.ts";
import type { ResolvedProvider } from "./resolved-provider.ts";

/** Whether the provider has a revocation endpoint (configured or discovered). */
export function hasRevocationEndpoint(provider: ResolvedProvider): boolean {
  return provider.as.revocation_endpoint !== undefined;
}

/**
 * Revokes `token` at the provider; resolves when the provider answered 200.
 * @throws ProviderMetadataError("revocation_endpoint", "missing") when there is no endpoint.
 * @see https://www.rfc-editor.org/rfc/rfc7009#section-2
 */
export async function revokeToken(
  provider: ResolvedProvider,
  token: string,
  options: { tokenTypeHint?: "refresh_token" | "access_token" } = {},
): Promise<void> {
  if (!hasRevocationEndpoint(provider)) throw new ProviderMetadataError("revocation_endpoint", "missing");
  const additionalParameters = new URLSearchParams();
  if (options.tokenTypeHint !== undefined) additionalParameters.set("token_type_hint", options.tokenTypeHint);
  const response = await revocationRequest(provider.as, provider.client, provider.clientAuth, token, {
    ...provider.http,
    additionalParameters,
  });
  await processRevocationResponse(response);
}
