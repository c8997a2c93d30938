/**
 * The access matrix: every RPC of every service × {no key, unknown key, expired key, revoked key,
 * agent of tenant A, agent of tenant B, admin, proxy-only agent of tenant A}, over gRPC, Connect and (where a path exists) REST,
 * against the real server. Denials must be exactly Unauthenticated / PermissionDenied / NotFound as
 * the permission table and tenant scoping say; allowed calls must get past all three.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../gen/grpc/reflection/v1/reflection_pb.ts";
import { NEXUS_SERVICES } from "../server/rpc/routes.ts";
import {
  CALLERS,
  type CallerName,
  type Callers,
  createCallers,
  createKeyProvider,
  secretValue,
  seedConnection,
  TENANT_A,
} from "./support/access-fixtures.ts";
import { type Case, matrixCases } from "./support/matrix-cases.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/access-matrix.test.ts", () => {
  let server: TestServer;
  let callers: Callers;
  let connA: string;
  const secrets: string[] = [];
  const CASES = matrixCases({ server: () => server, connectionA: () => connA });

  before(async () => {
    server = await startServer();
    callers = await createCallers(server);
    await createKeyProvider(server);
    const value = secretValue("tenant-a-key");
    secrets.push(value, ...callers.secrets);
    connA = await seedConnection(server, TENANT_A, value);
  });
  after(() => server.close());

  /** The RPCs whose answers carry a credential: a proxy-only key is refused exactly these. */
  const CREDENTIAL_RPCS = new Set([
    "nexus.v1.TokenService/GetToken",
    "nexus.v1.TokenService/RefreshConnection",
    "nexus.v1.TokenService/WatchCredentials",
  ]);

  /** The code a caller must get for a case ("ok" = allowed: the case's own success rule applies). */
  function expected(c: Case, caller: CallerName): Code | "allowed" {
    const kind = c.kind;
    if (kind === "public") return "allowed";
    if (caller === "none" || caller === "bad" || caller === "expired" || caller === "revoked") return Code.Unauthenticated;
    // A proxy-only agent is agent A minus every method that returns a credential.
    if (caller === "proxyOnlyA" && CREDENTIAL_RPCS.has(`${c.service.typeName}/${c.method}`)) return Code.PermissionDenied;
    if (caller === "admin" || kind === "any") return "allowed";
    if (kind === "admin") return Code.PermissionDenied;
    if (caller === "agentA" || caller === "proxyOnlyA") return "allowed";
    // Agent of tenant B: another tenant's connection does not exist for it; naming tenant A is refused.
    return kind === "connection" ? Code.NotFound : Code.PermissionDenied;
  }

  const DENIALS = new Set([Code.Unauthenticated, Code.PermissionDenied, Code.NotFound]);

  /** Calls a method through a connect-es client; "ok" or the error code. Streams: the first message, or "open". */
  async function callRpc(transport: Transport, c: Case, headers: Record<string, string>): Promise<Code | "ok" | "open"> {
    const method = c.service.methods.find((m) => m.name === c.method) as DescMethod;
    const client = createClient(c.service, transport) as unknown as Record<string, (req: unknown, opts: unknown) => unknown>;
    const call = client[method.localName]!;
    const request = await c.request();
    const signal = AbortSignal.timeout(1_500);
    try {
      if (method.methodKind === "unary") {
        await call(request, { headers, signal });
        return "ok";
      }
      const input =
        method.methodKind === "bidi_streaming"
          ? (async function* () {
              yield request;
            })()
          : request;
      for await (const message of call(input, { headers, signal }) as AsyncIterable<unknown>) {
        void message;
        return "ok";
      }
      return "ok";
    } catch (err) {
      const code = ConnectError.from(err).code;
      // A stream still open when the timeout hits was let in (WatchCredentials waits for changes).
      return signal.aborted && (code === Code.Canceled || code === Code.DeadlineExceeded) ? "open" : code;
    }
  }

  async function callRest(c: Case, headers: Record<string, string>): Promise<Code | "ok"> {
    const spec = c.rest!(await c.request());
    const res = await fetch(`${server.baseUrl}${spec.path}`, {
      method: spec.method,
      headers: spec.body === undefined ? headers : { ...headers, "content-type": "application/json" },
      body: spec.body === undefined ? undefined : JSON.stringify(spec.body),
    });
    const text = await res.text();
    if (res.status === 200) return "ok";
    const code = (JSON.parse(text) as { code: string }).code;
    const byName: Record<string, Code> = {
      unauthenticated: Code.Unauthenticated,
      permission_denied: Code.PermissionDenied,
      not_found: Code.NotFound,
      unimplemented: Code.Unimplemented,
      invalid_argument: Code.InvalidArgument,
      failed_precondition: Code.FailedPrecondition,
      unavailable: Code.Unavailable,
    };
    return byName[code] ?? Code.Unknown;
  }

  function check(c: Case, caller: CallerName, got: Code | "ok" | "open", protocol: string): void {
    const want = expected(c, caller);
    const label = `${protocol} ${c.service.typeName}/${c.method} as ${caller}`;
    const show = (v: Code | "ok" | "open") => (typeof v === "string" ? v : Code[v]);
    if (want !== "allowed") {
      assert.equal(show(got), show(want), label);
      return;
    }
    if ((c.allowed ?? "ok") === "ok") assert.equal(show(got), "ok", label);
    else assert.ok(got === "ok" || got === "open" || !DENIALS.has(got), `${label}: got ${show(got)}`);
  }

  test("the matrix covers every method of every routed service", () => {
    const covered = new Set(CASES.map((c) => `${c.service.typeName}/${c.method}`));
    for (const service of [...NEXUS_SERVICES, Health, ServerReflection]) {
      for (const method of service.methods)
        assert.ok(covered.has(`${service.typeName}/${method.name}`), `${service.typeName}/${method.name}`);
    }
  });

  const PROTOCOLS: Record<string, () => Transport> = {
    gRPC: () => createGrpcTransport({ baseUrl: server.baseUrl }),
    Connect: () => createConnectTransport({ baseUrl: server.baseUrl, httpVersion: "2" }),
  };

  for (const [protocol, transport] of Object.entries(PROTOCOLS)) {
    describe(`${protocol}: every method × every caller`, () => {
      for (const c of CASES) {
        test(`${c.service.typeName}/${c.method}`, async () => {
          for (const caller of CALLERS) check(c, caller, await callRpc(transport(), c, callers.headers(caller)), protocol);
        });
      }
    });
  }

  describe("REST: every path × every caller", () => {
    for (const c of CASES.filter((x) => x.rest !== undefined)) {
      test(`${c.service.typeName}/${c.method}`, async () => {
        for (const caller of CALLERS) check(c, caller, await callRest(c, callers.headers(caller)), "REST");
      });
    }
  });

  test("health answers SERVING to anonymous callers; reflection lists the services to a key holder", async () => {
    const grpc = createGrpcTransport({ baseUrl: server.baseUrl });
    assert.equal((await createClient(Health, grpc).check({ service: "" })).status, HealthCheckResponse_ServingStatus.SERVING);
    const reflection = createClient(ServerReflection, grpc);
    async function* ask() {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    }
    for await (const answer of reflection.serverReflectionInfo(ask(), { headers: callers.headers("agentA") })) {
      assert.equal(answer.messageResponse.case, "listServicesResponse");
      break;
    }
  });

  test("denials and credential reads of the matrix are in the audit log, attributed", async () => {
    await server.app.audit.flush();
    const rows = [];
    let pageToken = "";
    do {
      const page = await server.app.store.listAuditEvents({}, { pageSize: 1000, pageToken });
      rows.push(...page.items);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    const denied = rows.filter((r) => r.action === "request.denied");
    assert.ok(denied.some((r) => r.result === "unauthenticated" && r.keyId === null && r.details.reason === "missing_key"));
    assert.ok(
      denied.some((r) => r.result === "unauthenticated" && r.keyId === callers.keyIds.expired && r.details.reason === "expired_key"),
    );
    assert.ok(
      denied.some((r) => r.result === "unauthenticated" && r.keyId === callers.keyIds.revoked && r.details.reason === "revoked_key"),
    );
    assert.ok(denied.some((r) => r.result === "permission_denied" && r.keyId === callers.keyIds.agentB && r.tenantId === "tenant-b"));
    assert.ok(
      denied.every((r) => r.clientAddress === "127.0.0.1" && r.requestId !== null),
      "address and request id on every denial",
    );
    assert.ok(
      denied.some(
        (r) => r.result === "permission_denied" && r.keyId === callers.keyIds.proxyOnlyA && r.details.reason === "token_access_disabled",
      ),
      "a proxy-only key's credential requests are denied and audited",
    );
    assert.ok(!rows.some((r) => r.action === "token.read" && r.result === "ok" && r.keyId === callers.keyIds.proxyOnlyA));
    const reads = rows.filter((r) => r.action === "token.read" && r.connectionId === connA);
    assert.ok(reads.some((r) => r.result === "ok" && r.keyId === callers.keyIds.agentA && r.tenantId === TENANT_A));
    assert.ok(
      reads.some((r) => r.result === "ok" && r.keyId === callers.keyIds.admin && r.tenantId === TENANT_A),
      "admin reads name the connection's tenant",
    );
    assert.ok(reads.some((r) => r.result === "not_found" && r.keyId === callers.keyIds.agentB && r.tenantId === "tenant-b"));
    const dump = JSON.stringify(rows);
    for (const secret of secrets) assert.ok(!dump.includes(secret), "no secret value in audit rows");
    const logs = server.logs();
    for (const secret of secrets) assert.ok(!logs.includes(secret), "no secret value in the logs");
  });
});
