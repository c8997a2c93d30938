import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { test } from "node:test";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { ErrorInfoSchema, ErrorReason } from "../../../gen/nexus/v1/errors_pb.ts";
import { TokenService } from "../../../gen/nexus/v1/tokens_pb.ts";
import { auditCredentialDelivered } from "../../audit/audit-actions.ts";
import { createAuditWriter } from "../../audit/audit-writer.ts";
import { createLogger } from "../../logging/logger.ts";
import { createTokenService } from "../../services/token-service.ts";
import type { AuditEventInput } from "../../store/store.ts";
import type { UsageCredential } from "../../tokens/usage-credential.ts";
import { createAuditInterceptor } from "./audit-interceptor.ts";
import { createErrorInterceptor } from "./error-interceptor.ts";

const logger = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });

const usage = (version: number) =>
  ({
    connectionId: "conn_1",
    strategy: { type: "oauth2" },
    credentials: { access_token: "at" },
    expiresAtSeconds: 0,
    version,
  }) as unknown as UsageCredential;

/** A TokenService over fakes, behind the error and audit interceptors, with a writer whose store is down. */
function setup(maxQueued: number) {
  const written: AuditEventInput[] = [];
  let isDown = true;
  const audit = createAuditWriter({
    store: {
      appendAuditEvents: async (events) => {
        if (isDown) throw new Error("Connection terminated unexpectedly");
        written.push(...events);
      },
    },
    logger,
    now: () => 0,
    flushIntervalMs: 60_000,
    maxBatchSize: 1_000,
    maxQueued,
  });
  let version = 0;
  const service = createTokenService({
    tokens: { read: async () => usage(++version), refresh: async () => usage(++version) } as never,
    scope: { tenantOfConnection: async () => "default" } as never,
    store: { getConnection: async () => ({ id: "conn_1" }) } as never,
    watch: {
      async *watch() {
        yield { type: "credential", credential: usage(++version) };
        yield { type: "credential", credential: usage(++version) };
      },
    } as never,
    onCredentialDelivered: (ctx, credential) =>
      auditCredentialDelivered(audit, ctx, { connectionId: credential.connectionId, version: credential.version }),
  });
  const transport = createRouterTransport((router) => router.service(TokenService, service), {
    router: { interceptors: [createErrorInterceptor({ logger }), createAuditInterceptor({ audit })] },
  });
  return {
    client: createClient(TokenService, transport),
    audit,
    written,
    recover: () => {
      isDown = false;
    },
  };
}

function assertStoreUnavailable(error: unknown): true {
  const err = ConnectError.from(error);
  assert.equal(err.code, Code.Unavailable);
  assert.equal(err.findDetails(ErrorInfoSchema)[0]?.reason, ErrorReason.STORE_UNAVAILABLE);
  return true;
}

test("GetToken and RefreshConnection hand out a credential only when the audit buffer takes its row", async () => {
  const { client, audit, written, recover } = setup(2);
  assert.equal((await client.getToken({ connectionId: "conn_1" })).credential?.version, 1n);
  assert.equal((await client.refreshConnection({ connectionId: "conn_1" })).credential?.version, 2n);
  // Store down, buffer full (2): the next credential is withheld, Unavailable STORE_UNAVAILABLE.
  await assert.rejects(client.getToken({ connectionId: "conn_1" }), assertStoreUnavailable);
  await assert.rejects(client.refreshConnection({ connectionId: "conn_1" }), assertStoreUnavailable);
  assert.equal(audit.stats().refusedTotal, 2);
  recover();
  await audit.flush();
  assert.deepEqual(
    written.map((e) => [e.action, e.result]),
    [
      ["token.read", "ok"],
      ["token.refresh", "ok"],
    ],
  );
  // Room again: credentials flow.
  assert.equal((await client.getToken({ connectionId: "conn_1" })).credential?.version, 5n);
});

test("a watch stream ends Unavailable before a credential whose row the audit buffer refuses", async () => {
  const { client, audit } = setup(1);
  const versions: bigint[] = [];
  await assert.rejects(async () => {
    for await (const res of client.watchCredentials({ connectionId: "conn_1" })) {
      if (res.event.case === "credential") versions.push(res.event.value.version);
    }
  }, assertStoreUnavailable);
  assert.deepEqual(versions, [1n], "the first delivery went out with its row buffered; the second was withheld");
  assert.equal(audit.stats().refusedTotal, 1);
});
