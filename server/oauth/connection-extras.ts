/**
 * Picks the provider values a profile's connection_extras name out of the authorization callback's
 * query (QuickBooks `realmId`) and the token response (Salesforce `/instance_url`, Slack
 * `/team/id`), for the connection's non-secret metadata. Secret-bearing token members are never
 * picked, whatever a profile says.
 */
import { cleanProviderText } from "../domain/connection-account.ts";
import { pickScalar } from "../providers/json-pointer.ts";
import type { ConnectionExtra } from "../providers/profile.ts";

/** Token-response member names that hold secrets: a pointer through one, at any level, picks nothing. */
const SECRET_MEMBERS = new Set(["access_token", "refresh_token", "id_token", "client_secret"]);

/** The metadata the extras name, from `callback` and `tokenResponse`; absent values are left out. */
export function captureConnectionExtras(
  extras: readonly ConnectionExtra[] | undefined,
  callback: URLSearchParams,
  tokenResponse: unknown,
): Record<string, string> {
  const metadata: Record<string, string> = {};
  for (const extra of extras ?? []) {
    let value: string | undefined | null;
    if ("callbackParam" in extra) {
      value = callback.get(extra.callbackParam);
    } else {
      // Any level: Slack nests a user token at /authed_user/access_token.
      const names = extra.tokenPointer.split("/").map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
      value = names.some((name) => SECRET_MEMBERS.has(name)) ? undefined : pickScalar(tokenResponse, extra.tokenPointer);
    }
    const cleaned = cleanProviderText(value);
    if (cleaned !== null) metadata[extra.name] = cleaned;
  }
  return metadata;
}
