/**
 * Picks the provider values a profile's connection_extras name out of the authorization callback's
 * query (QuickBooks `realmId`) and the token response (Salesforce `/instance_url`, Slack
 * `/team/id`), for the connection's non-secret metadata. Secret-bearing token members are never
 * picked, whatever a profile says.
 */
import { cleanProviderText } from "../domain/connection-account.ts";
import { pickScalar } from "../providers/json-pointer.ts";
import type { ConnectionExtra } from "../providers/profile.ts";
import { isSecretName, isSecretPointer } from "../providers/secret-names.ts";

/**
 * The metadata the extras name, from `callback` and `tokenResponse`; absent values are left out.
 * A secret-named callback parameter (`code`, `id_token`…) or a pointer through a secret-named member
 * at any level (providers/secret-names.ts) picks nothing, whatever the
 * profile says (a stored profile may predate the validation rule).
 */
export function captureConnectionExtras(
  extras: readonly ConnectionExtra[] | undefined,
  callback: URLSearchParams,
  tokenResponse: unknown,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const extra of extras ?? []) {
    let value: string | undefined | null;
    if ("callbackParam" in extra) {
      value = isSecretName(extra.callbackParam) ? undefined : callback.get(extra.callbackParam);
    } else {
      // Any level: Slack nests a user token at /authed_user/access_token.
      value = isSecretPointer(extra.tokenPointer) ? undefined : pickScalar(tokenResponse, extra.tokenPointer);
    }
    const cleaned = cleanProviderText(value);
    if (cleaned !== null) metadata[extra.name] = cleaned;
  }
  return metadata;
}
