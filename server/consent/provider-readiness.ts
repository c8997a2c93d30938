/**
 * Whether a provider can serve consent right now, asked before a connection is created: its OAuth
 * settings are complete (client_id, client secret when the auth method sends one) and its endpoints
 * resolve. Failures become domain errors an operator can act on (FailedPrecondition, reason
 * PROVIDER_MISCONFIGURED) or a caller can retry (Unavailable).
 */
import { FailedPreconditionError, ProviderUnavailableError } from "../domain/errors.ts";
import { MissingClientSecretError, needsClientSecret } from "../oauth/client-auth.ts";
import { ProviderMetadataError } from "../oauth/discovery.ts";
import type { OAuthClient } from "../oauth/oauth-client.ts";
import type { ResolvedProvider } from "../oauth/resolved-provider.ts";
import { classifyTokenFailure } from "../oauth/token-failure.ts";
import type { OAuthSettings, ProviderProfile } from "../providers/profile.ts";
import { MissingEndpointParamError, UrlTemplateError } from "../providers/url-template.ts";

/** The profile's OAuth settings, or FailedPreconditionError naming what is missing. */
export function requireOAuthSettings(profile: ProviderProfile, clientSecret: string | undefined): OAuthSettings {
  const misconfigured = (reason: string) => new FailedPreconditionError("provider_misconfigured", profile.name, reason);
  const settings = profile.oauth;
  if (settings === undefined) throw misconfigured("has no OAuth settings");
  if (settings.clientId === "") throw misconfigured(`provider ${profile.name} has no client_id configured`);
  if (needsClientSecret(settings.clientAuthMethod) && !clientSecret) {
    throw misconfigured(`provider ${profile.name} has no client secret configured (client auth ${settings.clientAuthMethod})`);
  }
  return settings;
}

/**
 * Resolves the provider's endpoints (discovery included) for consent.
 * @param needsAuthorization whether an authorization endpoint is required (code flow).
 * @throws ProviderUnavailableError when discovery failed transiently, FailedPreconditionError otherwise.
 */
export async function resolveForConsent(
  oauth: OAuthClient,
  profile: ProviderProfile,
  settings: OAuthSettings,
  clientSecret: string | undefined,
  params: Readonly<Record<string, string>>,
  needsAuthorization: boolean,
): Promise<ResolvedProvider> {
  let provider: ResolvedProvider;
  try {
    // settings is profile.oauth, already checked by requireOAuthSettings.
    provider = await oauth.resolve({ ...profile, oauth: settings }, clientSecret, params);
  } catch (cause) {
    throw resolutionError(profile.name, cause);
  }
  if (needsAuthorization && provider.as.authorization_endpoint === undefined) {
    throw new FailedPreconditionError("provider_misconfigured", profile.name, "has no authorization endpoint (configured or discovered)");
  }
  return provider;
}

/** The domain error for a failed resolution (discovery), keeping the original as `cause`. */
export function resolutionError(providerName: string, cause: unknown): FailedPreconditionError | ProviderUnavailableError {
  if (classifyTokenFailure(cause).blame === "transient") return new ProviderUnavailableError(providerName, { cause });
  // These messages name a profile field or metadata member and never a secret; others may say anything.
  const isDescribed =
    cause instanceof ProviderMetadataError ||
    cause instanceof MissingClientSecretError ||
    cause instanceof MissingEndpointParamError ||
    cause instanceof UrlTemplateError;
  const what = isDescribed ? cause.message : "its issuer's discovery document could not be used";
  return new FailedPreconditionError("provider_misconfigured", providerName, what, { cause });
}
