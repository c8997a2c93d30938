/**
 * Authentication and authorization of every RPC, in one place: reads the API key from
 * `Authorization: Bearer <key>` (or `x-api-key`), verifies it, checks the method's row in the
 * permission table, and puts the principal in `kPrincipal`. No or bad key → Unauthenticated; a role
 * the table does not list → PermissionDenied; a proxy-only key calling a method that returns a
 * credential → PermissionDenied TOKEN_ACCESS_DISABLED. Every refusal is audited ("request.denied"), except
 * the ones refused by the per-address brake on failed authentication (ResourceExhausted), which
 * keeps an anonymous flood from filling the audit log. Tenant scoping happens in the handlers.
 */
import { Code, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { AUDIT_ACTIONS } from "../../audit/audit-actions.ts";
import type { AuditWriter } from "../../audit/audit-writer.ts";
import type { ApiKeyRefusal, ApiKeyVerifier } from "../../auth/api-key-verifier.ts";
import { accessOf, deliversCredentials } from "../../auth/permissions.ts";
import type { TokenBuckets } from "../../limits/token-buckets.ts";
import { kClientAddress, kPrincipal, kRequestId } from "../../request/context.ts";
import type { Principal } from "../../request/principal.ts";
import type { ApiKeyRole } from "../../store/store.ts";
import { errorWithReason } from "../errors.ts";
import { rateLimitedError } from "./rate-limit-interceptor.ts";

/** What the auth interceptor needs. */
export interface AuthInterceptorDeps {
  verifier: ApiKeyVerifier;
  audit: Pick<AuditWriter, "record">;
  /** One bucket per client address, drawn from by failed authentications only. */
  failedAuthBuckets: TokenBuckets;
}

const UNAUTHENTICATED_MESSAGES: Record<ApiKeyRefusal | "missing" | "scheme", string> = {
  missing: 'missing API key: send "Authorization: Bearer <key>"',
  scheme: 'unsupported authorization scheme: send "Authorization: Bearer <key>"',
  malformed: "API key not recognised",
  unknown: "API key not recognised",
  revoked: "API key revoked",
  expired: "API key expired",
};

const UNAUTHENTICATED_REASONS: Record<ApiKeyRefusal | "missing" | "scheme", ErrorReason> = {
  missing: ErrorReason.API_KEY_MISSING,
  scheme: ErrorReason.API_KEY_MISSING,
  malformed: ErrorReason.API_KEY_INVALID,
  unknown: ErrorReason.API_KEY_INVALID,
  revoked: ErrorReason.API_KEY_REVOKED,
  expired: ErrorReason.API_KEY_EXPIRED,
};

/** Creates the auth interceptor. */
export function createAuthInterceptor(deps: AuthInterceptorDeps): Interceptor {
  return (next) => async (req) => {
    const access = accessOf(req.service.typeName, req.method.name);
    if (access === "public") return next(req);
    const principal = await authenticate(deps, {
      header: req.header,
      access,
      what: `${req.service.typeName}/${req.method.name}`,
      clientAddress: req.contextValues.get(kClientAddress),
      requestId: req.contextValues.get(kRequestId),
      deliversCredentials: deliversCredentials(req.service.typeName, req.method.name),
    });
    req.contextValues.set(kPrincipal, principal);
    return next(req);
  };
}

/** What `authenticate` checks one request against. */
export interface AuthenticateInput {
  header: Headers;
  /** The roles allowed; undefined (a method missing from the table) allows none. */
  access: readonly ApiKeyRole[] | undefined;
  /** What is being called, for messages and the audit row: "nexus.v1.TokenService/GetToken", "proxy". */
  what: string;
  clientAddress: string;
  requestId: string;
  /** Whether a success hands out credentials (a proxy-only key is refused those). Default false. */
  deliversCredentials?: boolean;
}

/**
 * Authenticates one request from its headers (the RPC interceptor and the proxy route share it):
 * the principal, or a ConnectError (Unauthenticated, PermissionDenied, ResourceExhausted for the
 * failed-authentication brake) after auditing the refusal.
 */
export async function authenticate(deps: AuthInterceptorDeps, input: AuthenticateInput): Promise<Principal> {
  const { verifier, audit } = deps;
  const { access, what: rpc, clientAddress } = input;
  const deny = (code: Code, message: string, reason: string, errorReason: ErrorReason, keyId?: string, tenantId?: string | null) => {
    audit.record({
      action: AUDIT_ACTIONS.requestDenied,
      result: code === Code.Unauthenticated ? "unauthenticated" : "permission_denied",
      keyId,
      tenantId,
      requestId: input.requestId,
      clientAddress,
      details: { rpc, reason },
    });
    const headers = code === Code.Unauthenticated ? { "www-authenticate": 'Bearer realm="nexus"' } : undefined;
    return errorWithReason(message, code, errorReason, { metadata: headers });
  };

  const presented = presentedKey(input.header);
  const verdict = "secret" in presented ? await verifier.verify(presented.secret) : undefined;
  if (verdict === undefined || !verdict.ok) {
    const reason = verdict === undefined ? ("error" in presented ? presented.error : "missing") : verdict.reason;
    const waitMs = deps.failedAuthBuckets.take(clientAddress || "unknown");
    if (waitMs > 0) throw rateLimitedError(waitMs);
    throw deny(
      Code.Unauthenticated,
      UNAUTHENTICATED_MESSAGES[reason],
      `${reason}_key`,
      UNAUTHENTICATED_REASONS[reason],
      verdict?.ok === false ? verdict.keyId : undefined,
    );
  }
  const { principal } = verdict;
  if (access === undefined || !access.includes(principal.role)) {
    throw deny(
      Code.PermissionDenied,
      `an ${principal.role} key may not call ${rpc}`,
      "role",
      ErrorReason.ROLE_NOT_ALLOWED,
      principal.keyId,
      principal.tenantId,
    );
  }
  if (!principal.canReadTokens && input.deliversCredentials === true) {
    throw deny(
      Code.PermissionDenied,
      `this API key is proxy-only: it may not receive credentials (${rpc}); call the provider through /v1/proxy/{connection_id}/… instead`,
      "token_access_disabled",
      ErrorReason.TOKEN_ACCESS_DISABLED,
      principal.keyId,
      principal.tenantId,
    );
  }
  return principal;
}

/** The key in the request headers: Authorization (Bearer) first, then x-api-key. */
function presentedKey(header: Headers): { secret: string } | { error: "missing" | "scheme" } {
  const authorization = header.get("authorization");
  if (authorization !== null && authorization !== "") {
    // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: one space, then the token.
    const match = /^bearer +(\S+) *$/i.exec(authorization);
    return match?.[1] !== undefined ? { secret: match[1] } : { error: "scheme" };
  }
  const apiKey = header.get("x-api-key");
  if (apiKey !== null && apiKey !== "") return { secret: apiKey.trim() };
  return { error: "missing" };
}
