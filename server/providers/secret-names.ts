/**
 * Which provider member and parameter names hold secrets, for connection_extras: a profile may copy
 * non-secret provider values (QuickBooks `realmId`, Salesforce `instance_url`) into a connection's
 * metadata, which every agent of the tenant reads, but never a token, secret or one-time code. The
 * names are compared loosely (case, `_` and `-` ignored), because providers spell the same member
 * `access_token`, `accessToken` or `AccessToken`.
 */

/** A name with case, `_`, `-` and `.` dropped: `Access_Token` → `accesstoken`. */
function loose(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, "");
}

/** Loose names that are secrets whatever they hold (OAuth codes, verifiers, assertions, keys). */
const SECRET_NAMES = new Set(["code", "codeverifier", "assertion", "clientassertion", "apikey", "key", "privatekey", "signature"]);

/**
 * Whether a token-response member or callback parameter name may hold a secret: any name with
 * "token" in it except `token_type` and the `…expires_in` / `…expires_at` lifetimes; any with
 * "secret" or "password"; the OAuth code and verifier. (A profile's extra_token_fields are not all
 * secrets: Salesforce keeps `instance_url` there, which its extras copy too.)
 */
export function isSecretName(name: string): boolean {
  const l = loose(name);
  if (SECRET_NAMES.has(l) || l.includes("secret") || l.includes("password") || l.includes("passwd")) return true;
  if (!l.includes("token")) return false;
  return !(l === "tokentype" || /expires(in|at)$/.test(l));
}

/** The decoded reference tokens of an RFC 6901 pointer ("/a~1b/c" → ["a/b", "c"]). */
export function pointerNames(pointer: string): string[] {
  return pointer
    .split("/")
    .slice(1)
    .map((t) => t.replaceAll("~1", "/").replaceAll("~0", "~"));
}

/** Whether a token_pointer passes through a secret-named member at any level (Slack's /authed_user/access_token). */
export function isSecretPointer(pointer: string): boolean {
  return pointerNames(pointer).some((name) => isSecretName(name));
}
