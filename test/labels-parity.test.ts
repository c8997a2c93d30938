/**
 * Connection labels get the same answer on every protocol: RequestConnection labels over the limits
 * (count, key pattern and length, value length, control characters) and malformed ListConnections
 * label filters are invalid_argument INVALID_FIELD naming the same field over REST, Connect and
 * gRPC, and nothing is stored; labels within the limits are stored and come back the same way.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { MAX_LABEL_KEY_LENGTH, MAX_LABEL_VALUE_LENGTH, MAX_LABELS } from "../server/config/defaults.ts";
import { createKeyProvider, PROVIDER } from "./support/access-fixtures.ts";
import { type CallSpec, callOver, PROTOCOLS } from "./support/protocol-calls.ts";
import { createRawClient, type RawClient } from "./support/raw-client.ts";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";

describe("test/labels-parity.test.ts", () => {
  let server: TestServer;
  let client: RawClient;

  before(async () => {
    server = await startServer();
    await createKeyProvider(server);
    client = createRawClient(server.baseUrl);
  });
  after(async () => {
    client?.close();
    await server?.close();
  });

  const connectionCount = async () => (await server.app.store.listConnections(TEST_TENANT, {}, { pageSize: 500 })).items.length;
  const request = (labels: Record<string, string>): CallSpec => {
    const json = { user_id: "u", provider_name: PROVIDER, return_url: "http://localhost:3000/done", labels };
    return {
      rpc: "ConnectionService/RequestConnection",
      json,
      rest: { method: "POST", path: "/v1/request-connection", body: json },
      headers: server.auth(),
    };
  };
  const list = (labels: string[]): CallSpec => ({
    rpc: "ConnectionService/ListConnections",
    json: { labels },
    rest: { method: "GET", path: `/v1/connections?${labels.map((l) => `labels=${encodeURIComponent(l)}`).join("&")}` },
    headers: server.auth(),
  });
  const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));

  test("labels over the limits: invalid_argument naming the same field on REST, Connect and gRPC; nothing stored", async () => {
    const before = await connectionCount();
    const cases: [string, CallSpec, string][] = [
      [`${MAX_LABELS + 1} labels`, request(many(MAX_LABELS + 1)), "labels"],
      ["an upper-case key", request({ Workspace: "acme" }), "labels"],
      ["a key starting with a digit", request({ "1st": "x" }), "labels"],
      ["a key with a space", request({ "end user": "x" }), "labels"],
      ["an empty key", request({ "": "x" }), "labels"],
      [`a key of ${MAX_LABEL_KEY_LENGTH + 1} characters`, request({ [`k${"x".repeat(MAX_LABEL_KEY_LENGTH)}`]: "x" }), "labels"],
      [
        `a value of ${MAX_LABEL_VALUE_LENGTH + 1} characters`,
        request({ workspace: "v".repeat(MAX_LABEL_VALUE_LENGTH + 1) }),
        "labels[workspace]",
      ],
      ["a value with a control character", request({ workspace: "a\u0000b" }), "labels"],
      ["a filter without '='", list(["workspace"]), "labels[0]"],
      ["a filter with a bad key", list(["workspace=a", "Bad=x"]), "labels[1]"],
      ["a filter naming one key twice with different values", list(["a=1", "a=2"]), "labels[1]"],
      [`${MAX_LABELS + 1} filters`, list(Object.keys(many(MAX_LABELS + 1)).map((k) => `${k}=v`)), "labels"],
    ];
    for (const [label, spec, field] of cases) {
      for (const protocol of PROTOCOLS) {
        const outcome = await callOver(client, protocol, spec);
        assert.deepEqual(
          [outcome.code, outcome.reason, outcome.field],
          ["invalid_argument", "INVALID_FIELD", field],
          `${label} over ${protocol}: ${outcome.message}`,
        );
      }
    }
    assert.equal(await connectionCount(), before, "nothing was stored");
  });

  test("labels at the limits are stored and returned alike on every protocol", async () => {
    const labels = {
      ...many(MAX_LABELS - 2),
      [`k${"x".repeat(MAX_LABEL_KEY_LENGTH - 1)}`]: "v".repeat(MAX_LABEL_VALUE_LENGTH),
      "team.name-2_b": "a b=c ünïcode",
    };
    for (const protocol of PROTOCOLS) {
      const outcome = await callOver(client, protocol, request(labels));
      assert.equal(outcome.code, "ok", `${protocol}: ${outcome.message}`);
    }
    const stored = (await server.app.store.listConnections(TEST_TENANT, { labels: { "team.name-2_b": "a b=c ünïcode" } }, {})).items;
    assert.equal(stored.length, PROTOCOLS.length);
    for (const connection of stored) assert.deepEqual(connection.labels, labels);
    for (const protocol of PROTOCOLS) {
      const outcome = await callOver(client, protocol, list(["team.name-2_b=a b=c ünïcode", "k0=v"]));
      assert.equal(outcome.code, "ok", `${protocol}: ${outcome.message}`);
    }
  });
});
