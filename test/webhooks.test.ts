/**
 * Webhooks end to end on the real server (SQLite by default, PostgreSQL with NEXUS_TEST_STORE=postgres):
 * endpoints over REST (admin only, secret shown once, SSRF refusals), every connection event POSTed
 * and verified by a receiver using the `standardwebhooks` package — also across a secret rotation —
 * and the failure list with replay. Crash and replica cases are in webhooks-replicas.test.ts.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { Webhook } from "standardwebhooks";
import { startServer, TEST_TENANT, type TestServer } from "./support/start-server.ts";
import { eventually } from "./support/wait.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";

describe("webhooks", () => {
  let server: TestServer;
  let receiver: WebhookReceiver;
  before(async () => {
    receiver = await startWebhookReceiver();
    server = await startServer({
      env: {
        NEXUS_WEBHOOK_ALLOW_HTTP: "true",
        // The receiver runs on loopback: an explicit operator allowance, as in a test environment.
        NEXUS_WEBHOOK_ALLOWED_CIDRS: "127.0.0.0/8",
        NEXUS_WEBHOOK_POLL_INTERVAL_MS: "50",
        NEXUS_WEBHOOK_RETRY_WINDOW_MS: "0",
        NEXUS_WEBHOOK_TIMEOUT_MS: "2000",
      },
    });
  });
  after(async () => {
    await server.close();
    await receiver.close();
  });

  async function rest(method: string, path: string, body?: unknown, key = server.adminKey) {
    const res = await fetch(`${server.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    // biome-ignore lint/suspicious/noExplicitAny: REST JSON read by field.
    return { status: res.status, text, json: JSON.parse(text) as Record<string, any> };
  }

  const base = `/v1/tenants/${TEST_TENANT}/webhook-endpoints`;
  const change = (userId: string) => server.app.store.createConnection({ tenantId: TEST_TENANT, userId, providerName: "github" });
  const from = (index: number) => receiver.received.slice(index);

  test("SSRF rules, admin only, tenant must exist", async () => {
    for (const url of [
      "http://10.0.0.1/hook",
      "http://169.254.169.254/latest/meta-data",
      "http://[::1]:80/",
      "http://[fd00:ec2::254]/",
      "http://100.64.0.1/",
    ]) {
      const refused = await rest("POST", base, { url });
      assert.equal(refused.status, 400, url);
      assert.match(refused.text, /webhook_target_not_allowed/);
    }
    assert.match((await rest("POST", base, { url: "ftp://hooks.example.com/" })).text, /webhook_target_not_allowed/);
    assert.equal((await rest("POST", base, { url: receiver.url }, server.agentKey)).status, 403);
    const noTenant = await rest("POST", "/v1/tenants/nope/webhook-endpoints", { url: receiver.url });
    assert.equal(noTenant.status, 404);
    const badType = await rest("POST", base, { url: receiver.url, event_types: ["connection.exploded"] });
    assert.equal(badType.status, 400);
    assert.match(badType.text, /event_types/);
    // Updates pass the same rules; other tenants' endpoints do not exist for the caller.
    const { endpoint } = (await rest("POST", base, { url: receiver.url })).json;
    const path = `${base}/${endpoint.endpoint_id}`;
    const moved = await rest("PATCH", path, { url: "http://192.168.0.10/hook" });
    assert.equal(moved.status, 400);
    assert.match(moved.text, /webhook_target_not_allowed/);
    assert.equal((await rest("PATCH", path, { event_types: ["connection.active"] })).status, 400, "event_types needs update_event_types");
    const filtered = await rest("PATCH", path, { event_types: ["connection.active"], update_event_types: true, enabled: false });
    assert.equal(filtered.status, 200, filtered.text);
    assert.deepEqual([filtered.json.endpoint.event_types, filtered.json.endpoint.enabled ?? false], [["connection.active"], false]);
    assert.equal((await rest("POST", `${path}:rotateSecret`, { overlap_seconds: 8 * 24 * 3600 })).status, 400);
    await server.app.store.ensureTenant({ id: "other" });
    const hidden = await rest("GET", `/v1/tenants/other/webhook-endpoints/${endpoint.endpoint_id}`);
    assert.equal(hidden.status, 404);
    assert.match(hidden.text, /webhook_endpoint_not_found/);
    assert.equal((await rest("DELETE", path)).status, 200);
    assert.equal((await rest("GET", path)).status, 404);
    // At most 100 endpoints per tenant (each event is sent to every one).
    await server.app.store.ensureTenant({ id: "many" });
    const many = "/v1/tenants/many/webhook-endpoints";
    for (let i = 0; i < 100; i++) assert.equal((await rest("POST", many, { url: `${receiver.url}?n=${i}` })).status, 200);
    const tooMany = await rest("POST", many, { url: receiver.url });
    assert.equal(tooMany.status, 400, tooMany.text);
    assert.match(tooMany.text, /"failed_precondition"/);
    assert.match(tooMany.text, /at most|most allowed/);
    for (const e of (await rest("GET", `${many}?page_size=500`)).json.endpoints) await rest("DELETE", `${many}/${e.endpoint_id}`);
  });

  test("every event is delivered once, signed; a standardwebhooks receiver verifies it, also during a secret rotation", async () => {
    const created = await rest("POST", base, { url: receiver.url, description: "ci" });
    assert.equal(created.status, 200, created.text);
    const { secret, endpoint } = created.json;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await rest("GET", base);
    assert.ok(!listed.text.includes(secret.slice(6)), "no secret in listings");
    assert.ok(!(await rest("GET", `${base}/${endpoint.endpoint_id}`)).text.includes(secret.slice(6)));

    const mark = receiver.received.length;
    const connection = await change("alice");
    await eventually(() => from(mark).length >= 1, 10_000, "the created event delivered");
    const [first] = from(mark);
    const payload = new Webhook(secret).verify(first!.body, first!.headers) as { type: string; data: Record<string, any> };
    assert.equal(payload.type, "connection.created");
    assert.equal(payload.data.connection_id, connection.id);
    assert.equal(payload.data.tenant_id, TEST_TENANT);
    assert.equal(payload.data.connection.user_id, "alice");
    assert.match(first!.headers["webhook-id"]!, /^evt_/);

    // Rotation with overlap: both secrets verify deliveries until the overlap ends.
    const rotated = await rest("POST", `${base}/${endpoint.endpoint_id}:rotateSecret`, { overlap_seconds: 3600 });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.json.secret as string;
    assert.notEqual(newSecret, secret);
    assert.ok(rotated.json.endpoint.previous_secret_expire_time);
    const mark2 = receiver.received.length;
    await server.app.store.updateConnectionStatus(TEST_TENANT, connection.id, "pending", "failed", null);
    await eventually(() => from(mark2).length >= 1, 10_000, "the failed event delivered");
    const [second] = from(mark2);
    assert.equal((new Webhook(secret).verify(second!.body, second!.headers) as { type: string }).type, "connection.failed");
    assert.equal((new Webhook(newSecret).verify(second!.body, second!.headers) as { type: string }).type, "connection.failed");
    // Overlap 0: the old secret stops at once.
    const again = await rest("POST", `${base}/${endpoint.endpoint_id}:rotateSecret`, { overlap_seconds: 0 });
    const mark3 = receiver.received.length;
    await change("bob");
    await eventually(() => from(mark3).length >= 1, 10_000, "the next event delivered");
    const [third] = from(mark3);
    assert.ok(new Webhook(again.json.secret).verify(third!.body, third!.headers));
    assert.throws(() => new Webhook(newSecret).verify(third!.body, third!.headers));
    // Each event once per endpoint, in order.
    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    assert.equal(new Set(ids).size, ids.length, "no duplicates");
    const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
    const delivered = /^nexus_webhook_deliveries_total\{outcome="delivered"\} (\d+)$/m.exec(metrics);
    assert.ok(delivered && Number(delivered[1]) >= 3, "deliveries counted by outcome");
    assert.match(metrics, /^nexus_webhook_outbox_depth \d+$/m);
    assert.match(metrics, /^nexus_webhook_outbox_lag_seconds \d+/m);
    for (const shown of [secret, newSecret, again.json.secret as string]) {
      assert.ok(!server.logs().includes(shown.slice(6)), "no webhook secret in the logs");
    }
    await rest("DELETE", `${base}/${endpoint.endpoint_id}`);
  });

  test("a receiver that keeps failing: the event goes on the failure list, and a replay delivers it with the same webhook-id", async () => {
    const created = await rest("POST", base, { url: receiver.url, event_types: ["connection.created"] });
    const { secret, endpoint } = created.json;
    receiver.respond = () => 503;
    const mark = receiver.received.length;
    const connection = await change("carol");
    // Retry window 0 (this server's setting): the first failure is final.
    let failures: Record<string, any>[] = [];
    await eventually(
      async () => {
        failures = (await rest("GET", `${base}/${endpoint.endpoint_id}/deliveries`)).json.deliveries ?? [];
        return failures.length === 1;
      },
      10_000,
      "the failure recorded",
    );
    const [failed] = failures;
    assert.equal(failed!.last_status_code, 503);
    assert.equal(failed!.event_type, "connection.created");
    const sentId = from(mark)[0]!.headers["webhook-id"];
    assert.equal(failed!.event_id, sentId);
    receiver.respond = () => 204;
    // A disabled endpoint receives nothing, a replay included.
    const replayPath = `${base}/${endpoint.endpoint_id}/deliveries/${failed!.delivery_id}:replay`;
    assert.equal((await rest("PATCH", `${base}/${endpoint.endpoint_id}`, { enabled: false })).status, 200);
    const beforeDisabled = receiver.received.length;
    const refused = await rest("POST", replayPath, {});
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /"failed_precondition"/);
    assert.match(refused.text, /disabled/);
    assert.equal(receiver.received.length, beforeDisabled, "nothing sent to a disabled endpoint");
    assert.equal((await rest("PATCH", `${base}/${endpoint.endpoint_id}`, { enabled: true })).status, 200);
    const replayed = await rest("POST", `${base}/${endpoint.endpoint_id}/deliveries/${failed!.delivery_id}:replay`, {});
    assert.equal(replayed.status, 200, replayed.text);
    assert.ok(replayed.json.delivery.replay_time);
    const last = receiver.received.at(-1)!;
    assert.equal(last.headers["webhook-id"], sentId);
    const payload = new Webhook(secret).verify(last.body, last.headers) as { data: { connection_id: string } };
    assert.equal(payload.data.connection_id, connection.id);
    // Audit rows are written in batches: wait for the replay's.
    await eventually(
      async () => (await server.app.store.listAuditEvents({ action: "webhook.replay" }, {})).items.length >= 1,
      5_000,
      "replay audited",
    );
    const created2 = await server.app.store.listAuditEvents({ action: "webhook.create" }, {});
    assert.ok(
      created2.items.every((e) => !JSON.stringify(e).includes(secret.slice(6))),
      "no secret in audit rows",
    );
  });

  test("CLI: nexus webhooks create|list|rotate|deliveries|replay|delete", async () => {
    const cli = new URL("../server/cli/nexus.ts", import.meta.url).pathname;
    const run = async (...args: string[]) => {
      const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", NEXUS_URL: server.baseUrl, NEXUS_API_KEY: server.adminKey };
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, "webhooks", ...args], { env, timeout: 60_000 });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code?: number; stdout?: string; stderr?: string };
        return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
      }
    };
    // The usage names the option create really takes (--url is the server's address).
    const noTarget = await run("create", "--tenant", TEST_TENANT);
    assert.equal(noTarget.code, 2, noTarget.stderr);
    assert.match(noTarget.stderr, /^ {2}create --target URL/m);
    const created = await run("create", "--tenant", TEST_TENANT, "--target", receiver.url, "--events", "connection.active", "--json");
    assert.equal(created.code, 0, created.stderr);
    const { endpoint, secret } = JSON.parse(created.stdout) as { endpoint: { endpoint_id: string }; secret: string };
    assert.match(secret, /^whsec_/);
    const listed = await run("list", "--tenant", TEST_TENANT);
    assert.equal(listed.code, 0, listed.stderr);
    assert.ok(listed.stdout.includes(endpoint.endpoint_id) && !listed.stdout.includes(secret.slice(6)));
    const rotated = await run("rotate", endpoint.endpoint_id, "--tenant", TEST_TENANT, "--overlap-seconds", "60");
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.match(rotated.stdout, /secret {3}whsec_.*\n.*old secret signs too until/);
    const deliveries = await run("deliveries", endpoint.endpoint_id, "--tenant", TEST_TENANT);
    assert.equal(deliveries.code, 0, deliveries.stderr);
    assert.match(deliveries.stdout, /^DELIVERY/);
    const refused = await run("create", "--tenant", TEST_TENANT, "--target", "http://10.1.2.3/");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /webhook_target_not_allowed|WEBHOOK_TARGET_NOT_ALLOWED/i);
    assert.equal((await run("replay", endpoint.endpoint_id, "--tenant", TEST_TENANT)).code, 2, "usage: replay needs two ids");
    assert.equal((await run("delete", endpoint.endpoint_id, "--tenant", TEST_TENANT)).code, 0);
    assert.equal((await run("delete", endpoint.endpoint_id, "--tenant", TEST_TENANT)).code, 1);
  });
});
