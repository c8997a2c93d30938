/**
 * Client authentication at the token endpoint as a small strategy value (oauth4webapi's model): the
 * profile's `clientAuthMethod` picks ClientSecretBasic, ClientSecretPost or None. A wrong choice
 * shows up as `invalid_client`, which token-failure.ts blames on the provider configuration.
 */
import { type ClientAuth, ClientSecretBasic, ClientSecretPost, None } from "oauth4webapi";
import type { ClientAuthMethod } from "../providers/profile.ts";

/** The profile needs a client secret that is not configured. */
export class MissingClientSecretError extends Error {
  override readonly name = "MissingClientSecretError";
  constructor(method: ClientAuthMethod) {
    super(`client authentication "${method}" needs a client secret, and none is configured`);
  }
}

/**
 * The oauth4webapi ClientAuth for a profile's method.
 * @throws MissingClientSecretError for a secret-based method without a secret.
 * @see https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1
 * @see https://openid.net/specs/openid-connect-core-1_0.html#ClientAuthentication
 */
export function clientAuthentication(method: ClientAuthMethod, clientSecret: string | undefined): ClientAuth {
  switch (method) {
    case "client_secret_basic":
      if (!clientSecret) throw new MissingClientSecretError(method);
      return ClientSecretBasic(clientSecret);
    case "client_secret_post":
      if (!clientSecret) throw new MissingClientSecretError(method);
      return ClientSecretPost(clientSecret);
    case "none":
      // Public clients (RFC 6749 §2.1) send only client_id; PKCE protects the code instead.
      return None();
    default: {
      const unreachable: never = method;
      return unreachable;
    }
  }
}

/** Whether the method sends a client secret (so one must be configured). */
export function needsClientSecret(method: ClientAuthMethod): boolean {
  return method !== "none";
}
