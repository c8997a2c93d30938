/**
 * Authentication and authorization of every RPC, in one place: reads the API key from
 * `Authorization: Bearer <key>` (or `x-api-key`), verifies it, checks the method's row in the
 * permission table, and puts the principal in `kPrincipal`. No or bad key → Unauthenticated; a role
 * the table does not list → PermissionDenied; a proxy-only key calling a method that returns a
 * credential → PermissionDenied TOKEN_ACCESS_DISABLED. Every refusal is audited ("request.denied"), except
 * the ones refused by the per-address brake on failed authentication (ResourceExhausted), which
 * keeps an anonymous flood from filling the audit log. Tenant scoping happens in the handlers.
 */
import { Code, type ConnectError, type Interceptor } from "@connectrpc/connect";
import { ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { AUDIT_ACTIONS } from "../../audit/audit-actions.ts";
import type { AuditWriter } from "../../audit/audit-writer.ts";
import type { ApiKeyRefusal, ApiKeyVerdict, ApiKeyVerifier } from "../../auth/api-key-verifier.ts";
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
  // Not an async layer: a key whose record is cached is decided at once (`verifyCached`), and the
  // call goes on without a promise of its own; only a store read waits. A refusal thrown here
  // reaches the caller as a rejection all the same (every outer interceptor awaits inside a try).
  return (next) => (req) => {
    const access = accessOf(req.service.typeName, req.method.name);
    if (access === "public") return next(req);
    const input: AuthenticateInput = {
      header: req.header,
      access,
      what: `${req.service.typeName}/${req.method.name}`,
      clientAddress: req.contextValues.get(kClientAddress),
      requestId: req.contextValues.get(kRequestId),
      deliversCredentials: deliversCredentials(req.service.typeName, req.method.name),
    };
    const presented = presentedKey(input.header);
    const cached = "secret" in presented ? deps.verifier.verifyCached(presented.secret) : undefined;
    if (cached !== undefined || !("secret" in presented)) {
      req.contextValues.set(kPrincipal, decide(deps, input, presented, cached));
      return next(req);
    }
    return deps.verifier.verify(presented.secret).then((verdict) => {
      req.contextValues.set(kPrincipal, decide(deps, input, presented, verdict));
      return next(req);
    });
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
  const presented = presentedKey(input.header);
  const verdict = "secret" in presented ? await deps.verifier.verify(presented.secret) : undefined;
  return decide(deps, input, presented, verdict);
}

/**
 * The principal of a request whose key was presented (or not) and verified: a ConnectError
 * (Unauthenticated, PermissionDenied, ResourceExhausted) after auditing the refusal, as `authenticate`
 * describes.
 */
function decide(
  deps: AuthInterceptorDeps,
  input: AuthenticateInput,
  presented: PresentedKey,
  verdict: ApiKeyVerdict | undefined,
): Principal {
  const { access, what: rpc, clientAddress } = input;
  if (verdict === undefined || !verdict.ok) {
    const reason = verdict === undefined ? ("error" in presented ? presented.error : "missing") : verdict.reason;
    const waitMs = deps.failedAuthBuckets.take(clientAddress || "unknown");
    if (waitMs > 0) throw rateLimitedError(waitMs);
    throw refusal(
      deps,
      input,
      Code.Unauthenticated,
      UNAUTHENTICATED_MESSAGES[reason],
      `${reason}_key`,
      UNAUTHENTICATED_REASONS[reason],
      verdict?.ok === false ? verdict.keyId : undefined,
    );
  }
  const { principal } = verdict;
  if (access === undefined || !access.includes(principal.role)) {
    throw refusal(
      deps,
      input,
      Code.PermissionDenied,
      `an ${principal.role} key may not call ${rpc}`,
      "role",
      ErrorReason.ROLE_NOT_ALLOWED,
      principal.keyId,
      principal.tenantId,
    );
  }
  if (!principal.canReadTokens && input.deliversCredentials === true) {
    throw refusal(
      deps,
      input,
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

/** Audits a refusal and returns its error. */
function refusal(
  deps: AuthInterceptorDeps,
  input: AuthenticateInput,
  code: Code,
  message: string,
  reason: string,
  errorReason: ErrorReason,
  keyId?: string,
  tenantId?: string | null,
): ConnectError {
  deps.audit.record({
    action: AUDIT_ACTIONS.requestDenied,
    result: code === Code.Unauthenticated ? "unauthenticated" : "permission_denied",
    keyId,
    tenantId,
    requestId: input.requestId,
    clientAddress: input.clientAddress,
    details: { rpc: input.what, reason },
  });
  const headers = code === Code.Unauthenticated ? { "www-authenticate": 'Bearer realm="nexus"' } : undefined;
  return errorWithReason(message, code, errorReason, { metadata: headers });
}

/** A presented key, or why there is none. */
type PresentedKey = { secret: string } | { error: "missing" | "scheme" };

/** The key in the request headers: Authorization (Bearer) first, then x-api-key. */
function presentedKey(header: Headers): PresentedKey {
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
