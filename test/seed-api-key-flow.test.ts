/**
 * The seed's "Typical Flow" for a key-based provider, by plain HTTP as a curl user would do it:
 * create the provider, request a connection, open the hosted form, submit a key, land on the
 * return_url, then check the connection and fetch the credential payload.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/seed-api-key-flow.test.ts", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  const json = (body: unknown, key?: string) => ({
    method: "POST",
    headers: { "content-type": "application/json", ...server.auth(key) },
    body: JSON.stringify(body),
  });

  test("api_key provider: request-connection → hosted form → status=success → GET /v1/token", async () => {
    const created = await fetch(
      `${server.baseUrl}/v1/providers`,
      json(
        {
          name: "acme-ai",
          display_name: "Acme AI",
          category: "ai",
          auth_type: "api_key",
          credential_schema: {
            type: "object",
            properties: { api_key: { type: "string", title: "API key", format: "password", writeOnly: true, minLength: 8 } },
            required: ["api_key"],
            additionalProperties: false,
          },
          strategy: { type: "header", header: { header_name: "X-Api-Key", credential_field: "api_key" } },
        },
        server.adminKey,
      ),
    );
    assert.equal(created.status, 200, await created.clone().text());

    const requested = await fetch(
      `${server.baseUrl}/v1/request-connection`,
      json({ user_id: "user-42", provider_name: "acme-ai", return_url: "http://localhost:3000/oauth/return?tab=1" }),
    );
    assert.equal(requested.status, 200);
    const { authUrl, connection_id: id, status } = (await requested.json()) as { authUrl: string; connection_id: string; status: string };
    assert.equal(status, "pending");
    assert.deepEqual(await (await fetch(`${server.baseUrl}/v1/check-connection/${id}`, { headers: server.auth() })).json(), {
      status: "pending",
    });

    const form = await fetch(authUrl);
    assert.equal(form.status, 200);
    assert.match(form.headers.get("content-security-policy") ?? "", /default-src 'none'/);
    assert.match(await form.text(), /Acme AI/);

    const origin = new URL(authUrl).origin;
    const tooShort = await fetch(authUrl, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: "api_key=short",
    });
    assert.equal(tooShort.status, 400);
    assert.doesNotMatch(await tooShort.text(), /value="short"/, "a secret value is never echoed");

    const submitted = await fetch(authUrl, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: "api_key=sk-acme-0123456789",
    });
    assert.equal(submitted.status, 303);
    const back = new URL(submitted.headers.get("location")!);
    assert.equal(`${back.origin}${back.pathname}`, "http://localhost:3000/oauth/return");
    assert.equal(back.searchParams.get("status"), "success");
    assert.equal(back.searchParams.get("connection_id"), id);
    assert.equal(back.searchParams.get("tab"), "1");

    assert.deepEqual(await (await fetch(`${server.baseUrl}/v1/check-connection/${id}`, { headers: server.auth() })).json(), {
      status: "active",
    });
    assert.deepEqual(await (await fetch(`${server.baseUrl}/v1/token/${id}`, { headers: server.auth() })).json(), {
      strategy: { type: "header", header: { header_name: "X-Api-Key", credential_field: "api_key" } },
      credentials: { api_key: "sk-acme-0123456789" },
      version: 1,
      connection_id: id,
    });

    const replay = await fetch(authUrl, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", origin },
      body: "api_key=sk-other-0123456789",
    });
    assert.equal(replay.status, 410, "the form is single use");
    assert.doesNotMatch(server.logs(), /sk-acme-0123456789|sk-other/);
  });
});
