// nexusFetch at its seam, with a fake credential cache and a fake provider fetch: the credential is
// applied, a 401 forces exactly one refresh and one retry with the same body bytes, and the typed
// errors or the provider's 401 come back when the refresh cannot help. It never loops.
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { type Credential, CredentialSchema, StrategyType } from "../gen/nexus/v1/credential_pb.ts";
import type { CredentialCache } from "./credential-cache.ts";
import { ConnectionRevokedError, NexusUnavailableError } from "./errors.ts";
import { nexusFetch } from "./nexus-fetch.ts";

function credential(version: number): Credential {
  return create(CredentialSchema, {
    connectionId: "conn_1",
    strategy: { type: StrategyType.OAUTH2 },
    credentials: { access_token: `at-${version}` },
    version: BigInt(version),
  });
}

function setup(refresh: (staleVersion: bigint | undefined) => Promise<Credential>, status: (attempt: number) => number) {
  const seen: { authorization: string | null; body: string }[] = [];
  const staleVersions: (bigint | undefined)[] = [];
  const credentials = {
    getCredential: async () => credential(1),
    refreshCredential: async (_id: string, options?: { staleVersion?: bigint }) => {
      staleVersions.push(options?.staleVersion);
      return refresh(options?.staleVersion);
    },
  } as unknown as CredentialCache;
  const fetch = async (request: Request | string | URL) => {
    const req = request as Request;
    seen.push({ authorization: req.headers.get("authorization"), body: await req.text() });
    return new Response(`attempt ${seen.length}`, { status: status(seen.length) });
  };
  return { seen, staleVersions, fetch: nexusFetch("conn_1", { credentials, fetch: fetch as typeof globalThis.fetch }) };
}

test("the credential is applied; a success is returned as is, with no refresh", async () => {
  const rig = setup(
    async () => assert.fail("no refresh"),
    () => 200,
  );
  const res = await rig.fetch("https://api.example.com/me");
  assert.equal(res.status, 200);
  assert.deepEqual(rig.seen, [{ authorization: "Bearer at-1", body: "" }]);
});

test("a 401 refreshes once and retries once with the new credential and the same body bytes", async () => {
  const rig = setup(
    async () => credential(2),
    (n) => (n === 1 ? 401 : 200),
  );
  const res = await rig.fetch("https://api.example.com/items", { method: "POST", body: "exact bytes ✓" });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), "attempt 2");
  assert.deepEqual(rig.staleVersions, [1n], "the refresh names the version that was refused");
  assert.deepEqual(rig.seen, [
    { authorization: "Bearer at-1", body: "exact bytes ✓" },
    { authorization: "Bearer at-2", body: "exact bytes ✓" },
  ]);
});

test("a second 401 is returned, not retried again", async () => {
  const rig = setup(
    async () => credential(2),
    () => 401,
  );
  assert.equal((await rig.fetch("https://api.example.com/")).status, 401);
  assert.equal(rig.seen.length, 2);
  assert.equal(rig.staleVersions.length, 1);
});

test("no newer credential, or a refresh that fails transiently: the provider's 401 comes back", async () => {
  const same = setup(
    async () => credential(1),
    () => 401,
  );
  const res = await same.fetch("https://api.example.com/");
  assert.equal(res.status, 401);
  assert.equal(await res.text(), "attempt 1", "the provider's own answer, still readable");
  assert.equal(same.seen.length, 1);
  const down = setup(
    async () => {
      throw new NexusUnavailableError("conn_1");
    },
    () => 401,
  );
  assert.equal((await down.fetch("https://api.example.com/")).status, 401);
  assert.equal(down.seen.length, 1);
});

test("a revoked connection found by the refresh rejects with the typed error", async () => {
  const rig = setup(
    async () => {
      throw new ConnectionRevokedError("conn_1", "revoked_by_api");
    },
    () => 401,
  );
  await assert.rejects(rig.fetch("https://api.example.com/"), ConnectionRevokedError);
  assert.equal(rig.seen.length, 1);
});
