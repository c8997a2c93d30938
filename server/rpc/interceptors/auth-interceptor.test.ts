// The auth interceptor at its seam: AuditService (admin only) and Health (public) on an in-memory
// router transport, a fake verifier and audit writer, real token buckets on a clock the test holds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus } from "../../../gen/grpc/health/v1/health_pb.ts";
import { AuditService } from "../../../gen/nexus/v1/audit_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import type { AuditWriter } from "../../audit/audit-writer.ts";
import type { ApiKeyVerdict } from "../../auth/api-key-verifier.ts";
import { createTokenBuckets } from "../../limits/token-buckets.ts";
import { kPrincipal } from "../../request/context.ts";
import { createAuthInterceptor } from "./auth-interceptor.ts";

const VERDICTS: Record<string, ApiKeyVerdict> = {
  "admin-key": { ok: true, principal: { keyId: "k-admin", role: "admin", tenantId: null, proxyRules: [], canReadTokens: true } },
  "agent-key": { ok: true, principal: { keyId: "k-agent", role: "agent", tenantId: "t1", proxyRules: [], canReadTokens: true } },
  "revoked-key": { ok: false, reason: "revoked", keyId: "k-old" },
};

function setup(cached: boolean, failedAuthBurst = 100) {
  const audited: Parameters<AuditWriter["record"]>[0][] = [];
  const principals: unknown[] = [];
  const transport = createRouterTransport(
    (router) => {
      router.service(AuditService, {
        listAuditEvents: (_req, ctx) => {
          principals.push(ctx.values.get(kPrincipal));
          return {};
        },
      });
      router.service(Health, {
        check: () => ({ status: HealthCheckResponse_ServingStatus.SERVING }),
        watch: async function* () {},
      });
    },
    {
      router: {
        interceptors: [
          createAuthInterceptor({
            verifier: {
              verify: async (s) => VERDICTS[s] ?? { ok: false, reason: "unknown" },
              // Cached: every verdict is known at once (no store read); else every key is read.
              verifyCached: (s) => (cached ? (VERDICTS[s] ?? { ok: false, reason: "unknown" }) : undefined),
              forget: () => {},
            },
            audit: { record: (r) => audited.push(r) },
            failedAuthBuckets: createTokenBuckets({ ratePerSecond: 1, burst: failedAuthBurst, now: () => 0 }),
          }),
        ],
      },
    },
  );
  const audit = createClient(AuditService, transport);
  const call = (headers: Record<string, string>) =>
    audit.listAuditEvents({}, { headers }).then(
      () => "ok" as const,
      (e: unknown) => ConnectError.from(e),
    );
  return { call, health: createClient(Health, transport), audited, principals };
}

function reasonOf(err: "ok" | ConnectError): ErrorReason | undefined {
  assert.ok(err instanceof ConnectError, "refused");
  return err.findDetails(ErrorInfoSchema)[0]?.reason;
}

// Both ways a key is decided: read (a promise per call) and cached (decided at once, no async layer).
for (const cached of [false, true]) {
  const mode = cached ? "cached key" : "key read";
  test(`${mode}: a key allowed by the table reaches the handler with its principal, by Bearer or x-api-key`, async () => {
    const rig = setup(cached);
    assert.equal(await rig.call({ authorization: "bearer   admin-key" }), "ok", "scheme is case-insensitive");
    assert.equal(await rig.call({ "x-api-key": "admin-key" }), "ok");
    assert.deepEqual(
      rig.principals.map((p) => (p as { keyId: string }).keyId),
      ["k-admin", "k-admin"],
    );
    assert.equal(rig.audited.length, 0);
  });

  test(`${mode}: no key, another scheme, an unknown or revoked key: Unauthenticated with its reason, audited`, async () => {
    const rig = setup(cached);
    const cases: [Record<string, string>, ErrorReason][] = [
      [{}, ErrorReason.API_KEY_MISSING],
      [{ authorization: "Basic abc" }, ErrorReason.API_KEY_MISSING],
      [{ authorization: "Bearer nope" }, ErrorReason.API_KEY_INVALID],
      [{ authorization: "Bearer revoked-key" }, ErrorReason.API_KEY_REVOKED],
    ];
    for (const [headers, reason] of cases) {
      const err = await rig.call(headers);
      assert.ok(err instanceof ConnectError);
      assert.equal(err.code, Code.Unauthenticated);
      assert.equal(reasonOf(err), reason);
      assert.equal(err.metadata.get("www-authenticate"), 'Bearer realm="nexus"');
    }
    assert.equal(rig.principals.length, 0, "the handler never ran");
    assert.deepEqual(
      rig.audited.map((r) => [r.action, r.result]),
      cases.map(() => ["request.denied", "unauthenticated"]),
    );
    assert.equal(rig.audited[3]?.keyId, "k-old", "a refused key that exists is named");
  });

  test(`${mode}: a role the table does not list is PermissionDenied ROLE_NOT_ALLOWED; public methods need no key`, async () => {
    const rig = setup(cached);
    const err = await rig.call({ authorization: "Bearer agent-key" });
    assert.ok(err instanceof ConnectError);
    assert.equal(err.code, Code.PermissionDenied);
    assert.equal(reasonOf(err), ErrorReason.ROLE_NOT_ALLOWED);
    assert.equal(rig.audited[0]?.result, "permission_denied");
    assert.equal(rig.audited[0]?.tenantId, "t1");
    await rig.health.check({});
    assert.equal(rig.audited.length, 1);
  });

  test(`${mode}: failed authentications past the per-address brake are ResourceExhausted and not audited`, async () => {
    const rig = setup(cached, 2);
    assert.equal(reasonOf(await rig.call({})), ErrorReason.API_KEY_MISSING);
    assert.equal(reasonOf(await rig.call({})), ErrorReason.API_KEY_MISSING);
    const braked = await rig.call({});
    assert.ok(braked instanceof ConnectError);
    assert.equal(braked.code, Code.ResourceExhausted);
    assert.equal(reasonOf(braked), ErrorReason.RATE_LIMITED);
    assert.equal(rig.audited.length, 2);
    assert.equal(await rig.call({ authorization: "Bearer admin-key" }), "ok", "a good key is not braked");
  });
}
