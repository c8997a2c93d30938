/**
 * Issue 10 §2: a revoked or expired API key keeps nothing it opened. An agent key watches a
 * connection over gRPC, gRPC-Web and Connect; the admin revokes it; the stream ends with
 * unauthenticated (ErrorInfo API_KEY_REVOKED), a refresh forced afterwards reaches no one, and the
 * audit log has no delivery under the key from revoked_at on. Also across two replicas on one
 * PostgreSQL database (revoke on A ends the stream on B), for a revocation written straight to the
 * database (the CLI: found by the periodic key re-read) and for a key whose expire_time passes.
 * (WatchCredentials has no REST mapping, so REST has no stream to end.)
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { ApiKeyService, Role } from "../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../gen/nexus/v1/audit_pb.ts";
import { ErrorInfoSchema, ErrorReason } from "../gen/nexus/v1/errors_pb.ts";
import { TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { type RefreshRig, reportFigure, startRefreshRig } from "./support/refresh-rig.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { TEST_STORE } from "./support/test-store.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/key-revocation-streams.test.ts", () => {
  type Protocol = "grpc" | "grpc-web" | "connect";

  let rig: RefreshRig;
  let connectionId: string;
  before(async () => {
    // Hour-long tokens: nothing refreshes unless a test forces it.
    rig = await startRefreshRig({ accessTtlSeconds: 3600 });
    connectionId = await rig.connect();
  });
  after(() => rig?.close());

  function transport(protocol: Protocol, baseUrl: string, key: string): Transport {
    const bearer: Interceptor = (next) => (req) => {
      req.header.set("authorization", `Bearer ${key}`);
      return next(req);
    };
    const options = { baseUrl, interceptors: [bearer] };
    switch (protocol) {
      case "grpc":
        return createGrpcTransport(options);
      case "grpc-web":
        return createGrpcWebTransport({ ...options, httpVersion: "1.1" });
      case "connect":
        return createConnectTransport({ ...options, httpVersion: "1.1" });
    }
  }

  function admin(server: TestServer) {
    const t = transport("grpc", server.baseUrl, server.adminKey);
    return { keys: createClient(ApiKeyService, t), tokens: createClient(TokenService, t), audit: createClient(AuditService, t) };
  }

  /** A watch stream recorded: credential versions with arrival times, and how it ended. */
  interface Watch {
    readonly versions: { version: number; atMs: number }[];
    /** The error that ended the stream (a clean end resolves undefined). */
    readonly ended: Promise<ConnectError | undefined>;
    /** Resolves once a credential of at least `version` arrived. */
    reached(version: number): Promise<void>;
    stop(): void;
  }

  function watch(tokens: Client<typeof TokenService>): Watch {
    const controller = new AbortController();
    const versions: Watch["versions"] = [];
    const waiters: { version: number; resolve: () => void }[] = [];
    const ended = (async () => {
      try {
        for await (const res of tokens.watchCredentials({ connectionId }, { signal: controller.signal })) {
          if (res.event.case !== "credential") continue;
          const version = Number(res.event.value.version);
          versions.push({ version, atMs: Date.now() });
          for (const w of waiters.filter((w) => version >= w.version)) w.resolve();
        }
        return undefined;
      } catch (error) {
        return ConnectError.from(error);
      }
    })();
    return {
      versions,
      ended,
      reached: (version) =>
        versions.some((v) => v.version >= version) ? Promise.resolve() : new Promise((resolve) => waiters.push({ version, resolve })),
      stop: () => controller.abort(),
    };
  }

  /** Rejects if `promise` has not settled within `ms` (a generous bound: the machine is loaded). */
  function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  function assertKeyError(error: ConnectError | undefined, reason: ErrorReason, label: string): void {
    assert.ok(error, `${label}: the stream ended with an error, not cleanly`);
    assert.equal(error.code, Code.Unauthenticated, `${label}: ${error.message}`);
    assert.deepEqual(
      error.findDetails(ErrorInfoSchema).map((d) => d.reason),
      [reason],
      `${label}: ErrorInfo reason`,
    );
  }

  async function newAgentKey(server: TestServer, name: string, expiresAtMs?: number) {
    const created = await admin(server).keys.createApiKey({
      name,
      role: Role.AGENT,
      tenantId: TEST_TENANT,
      expireTime: expiresAtMs === undefined ? undefined : timestampFromMs(expiresAtMs),
    });
    return { keyId: created.apiKey!.keyId, secret: created.secret };
  }

  /** token.deliver rows under `keyId` at or after `sinceMs`, and the key's token.watch rows. */
  async function auditOf(server: TestServer, keyId: string, sinceMs: number) {
    await server.app.audit.flush();
    const { events } = await admin(server).audit.listAuditEvents({ connectionId, pageSize: 1000 });
    const mine = events.filter((e) => e.keyId === keyId);
    return {
      deliveredAfter: mine.filter((e) => e.action === "token.deliver" && timestampMs(e.time!) >= sinceMs),
      watchResults: mine.filter((e) => e.action === "token.watch").map((e) => e.result),
    };
  }

  describe("revoking an API key ends the streams it opened", () => {
    for (const protocol of ["grpc", "grpc-web", "connect"] as const) {
      test(`over ${protocol}: unauthenticated at once, nothing delivered or audited after the revoke`, async (t) => {
        const server = rig.server;
        const key = await newAgentKey(server, `watcher ${protocol}`);
        const agentTokens = createClient(TokenService, transport(protocol, server.baseUrl, key.secret));
        const stream = watch(agentTokens);
        try {
          const current = Number((await admin(server).tokens.getToken({ connectionId })).credential!.version);
          await within(stream.reached(current), 20_000, "first credential");

          const revoked = await admin(server).keys.revokeApiKey({ keyId: key.keyId });
          const returnedAtMs = Date.now();
          const revokedAtMs = timestampMs(revoked.apiKey!.revokeTime!);
          const error = await within(stream.ended, 20_000, "stream end after revoke");
          const endedAfterMs = Date.now() - returnedAtMs;
          assertKeyError(error, ErrorReason.API_KEY_REVOKED, protocol);

          // A new version after the revoke goes to no one holding the revoked key.
          const refreshed = await admin(server).tokens.refreshConnection({ connectionId });
          assert.ok(Number(refreshed.credential!.version) > current, "the admin's refresh made a new version");
          assert.deepEqual(
            stream.versions.filter((v) => v.atMs >= returnedAtMs),
            [],
            "no credential arrived after RevokeApiKey returned",
          );
          const unary = await agentTokens.getToken({ connectionId }).then(
            () => undefined,
            (e: unknown) => ConnectError.from(e),
          );
          assert.equal(unary?.code, Code.Unauthenticated, "unary calls are refused too");

          const audit = await auditOf(server, key.keyId, revokedAtMs);
          assert.deepEqual(audit.deliveredAfter, [], "no token.deliver row under the revoked key from revoked_at on");
          assert.deepEqual(audit.watchResults, ["unauthenticated"], "the stream's own row records how it ended");
          reportFigure(t, `revoke returned → ${protocol} stream ended, ms`, endedAfterMs);
        } finally {
          stream.stop();
        }
      });
    }

    test("a revocation racing a refresh: every credential the stream got was audited before revoked_at", async () => {
      const server = rig.server;
      const key = await newAgentKey(server, "racer");
      const stream = watch(createClient(TokenService, transport("grpc", server.baseUrl, key.secret)));
      try {
        const current = Number((await admin(server).tokens.getToken({ connectionId })).credential!.version);
        await within(stream.reached(current), 20_000, "first credential");
        const [, revoked] = await Promise.all([
          admin(server).tokens.refreshConnection({ connectionId }),
          admin(server).keys.revokeApiKey({ keyId: key.keyId }),
        ]);
        assertKeyError(await within(stream.ended, 20_000, "stream end"), ErrorReason.API_KEY_REVOKED, "race");
        const audit = await auditOf(server, key.keyId, timestampMs(revoked.apiKey!.revokeTime!));
        assert.deepEqual(audit.deliveredAfter, [], "nothing delivered (or audited) after revoked_at");
      } finally {
        stream.stop();
      }
    });

    test("a revocation nothing announced (the CLI writing to the database) ends the stream at the next key re-read", async () => {
      const server = rig.server;
      const key = await newAgentKey(server, "revoked by the CLI");
      const stream = watch(createClient(TokenService, transport("grpc", server.baseUrl, key.secret)));
      try {
        const current = Number((await admin(server).tokens.getToken({ connectionId })).credential!.version);
        await within(stream.reached(current), 20_000, "first credential");
        // What `nexus keys revoke` does: the store alone, no RevokeApiKey, no notification.
        await server.app.apiKeys.revoke(key.keyId);
        const error = await within(stream.ended, 30_000, "stream end after the periodic re-read (NEXUS_API_KEY_CACHE_MS, 5 s)");
        assertKeyError(error, ErrorReason.API_KEY_REVOKED, "CLI revocation");
      } finally {
        stream.stop();
      }
    });

    test("a key past its expire_time: its stream ends with API_KEY_EXPIRED, not before", async (t) => {
      const server = rig.server;
      const expiresAtMs = Date.now() + 3_000;
      const key = await newAgentKey(server, "short-lived", expiresAtMs);
      const stream = watch(createClient(TokenService, transport("connect", server.baseUrl, key.secret)));
      try {
        const error = await within(stream.ended, 30_000, "stream end at expiry");
        const endedAtMs = Date.now();
        assertKeyError(error, ErrorReason.API_KEY_EXPIRED, "expiry");
        assert.ok(stream.versions.length >= 1, "the key worked until it expired");
        assert.ok(endedAtMs >= expiresAtMs, "the stream was not cut short");
        assert.ok(
          stream.versions.every((v) => v.atMs < expiresAtMs),
          "nothing arrived after expiry",
        );
        assert.deepEqual((await auditOf(server, key.keyId, expiresAtMs)).deliveredAfter, []);
        reportFigure(t, "expire_time → stream end, ms", endedAtMs - expiresAtMs);
      } finally {
        stream.stop();
      }
    });
  });

  test("API keys are immutable: no RPC or store method changes a key's tenant or role (one that did would have to end streams too)", () => {
    assert.deepEqual(ApiKeyService.methods.map((m) => m.name).sort(), ["CreateApiKey", "ListApiKeys", "RevokeApiKey"]);
    const keyMethods = Object.keys(rig.server.app.store)
      .filter((name) => /apikey/i.test(name))
      .sort();
    assert.deepEqual(keyMethods, ["createApiKey", "findApiKeyByHash", "getApiKey", "listApiKeys", "markApiKeyUsed", "revokeApiKey"]);
  });

  describe("across replicas (PostgreSQL LISTEN/NOTIFY)", { skip: TEST_STORE !== "postgres" && "needs NEXUS_TEST_STORE=postgres" }, () => {
    test("a key revoked on replica A ends its stream on replica B", async (t) => {
      // A minute of key cache (and so of periodic key re-reads) on B: only the notification can be quick.
      const replicaB = await startServer({ env: { ...rig.replicaEnv, NEXUS_API_KEY_CACHE_MS: "60000" } });
      try {
        const key = await newAgentKey(rig.server, "watcher on B");
        const stream = watch(createClient(TokenService, transport("grpc", replicaB.baseUrl, key.secret)));
        try {
          const current = Number((await admin(rig.server).tokens.getToken({ connectionId })).credential!.version);
          await within(stream.reached(current), 20_000, "first credential on B");
          const calledAtMs = Date.now();
          const revoked = await admin(rig.server).keys.revokeApiKey({ keyId: key.keyId });
          const returnedAtMs = Date.now();
          const error = await within(stream.ended, 20_000, "B's stream end after revoke on A");
          const endedAfterMs = Date.now() - returnedAtMs;
          reportFigure(t, "RevokeApiKey called on A → stream on B ended, ms", Date.now() - calledAtMs);
          assertKeyError(error, ErrorReason.API_KEY_REVOKED, "replica B");

          await admin(rig.server).tokens.refreshConnection({ connectionId });
          assert.deepEqual(
            stream.versions.filter((v) => v.atMs >= returnedAtMs),
            [],
            "B delivered nothing after the revoke",
          );
          await replicaB.app.audit.flush();
          const audit = await auditOf(rig.server, key.keyId, timestampMs(revoked.apiKey!.revokeTime!));
          assert.deepEqual(audit.deliveredAfter, [], "no delivery under the key on either replica");
          const unary = await createClient(TokenService, transport("grpc", replicaB.baseUrl, key.secret))
            .getToken({ connectionId })
            .then(
              () => undefined,
              (e: unknown) => ConnectError.from(e),
            );
          assert.equal(unary?.code, Code.Unauthenticated, "B's key cache let go of the key too");
          reportFigure(t, "revoke on A returned → stream on B ended, ms", endedAfterMs);
        } finally {
          stream.stop();
        }
      } finally {
        await replicaB.close();
      }
    });
  });
});
