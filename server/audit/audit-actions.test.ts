/**
 * token.deliver rows of watch deliveries: one stream gives exactly the single-delivery row; a
 * delivery group (same key, tenant, client address) gives one row counting its streams, with no
 * request id of its own (not even an ambient one); the group key separates what the row names.
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, test } from "node:test";
import { createContextValues } from "@connectrpc/connect";
import { createLogger } from "../logging/logger.ts";
import { kAuditTarget, kClientAddress, kPrincipal, kRequestId } from "../request/context.ts";
import type { Principal } from "../request/principal.ts";
import type { AuditEventInput } from "../store/store.ts";
import { auditCredentialDelivered, credentialDeliveryGroup } from "./audit-actions.ts";
import { createAuditWriter } from "./audit-writer.ts";

describe("server/audit/audit-actions.test.ts", () => {
  const logger = createLogger({ level: "silent", destination: new Writable({ write: (_c, _e, cb) => cb() }) });

  const ctxOf = (keyId: string, requestId: string, address: string, tenantId = "t1") => {
    const values = createContextValues();
    values.set(kPrincipal, { keyId, role: "agent", tenantId, proxyRules: [], canReadTokens: true } as Principal);
    values.set(kRequestId, requestId);
    values.set(kClientAddress, address);
    values.set(kAuditTarget, { tenantId });
    return { values };
  };

  async function rowsOf(run: (audit: ReturnType<typeof createAuditWriter>) => void): Promise<AuditEventInput[]> {
    const written: AuditEventInput[] = [];
    const audit = createAuditWriter({ store: { appendAuditEvents: async (e) => void written.push(...e) }, logger, now: () => 5 });
    run(audit);
    await audit.flush();
    return written;
  }

  test("one stream: the single-delivery row; a group: one row counting its streams, without a request id", async () => {
    const rows = await rowsOf((audit) => {
      auditCredentialDelivered(audit, ctxOf("key_a", "req-1", "192.0.2.1"), { connectionId: "conn_1", version: 3 });
      auditCredentialDelivered(audit, ctxOf("key_a", "req-2", "192.0.2.1"), { connectionId: "conn_1", version: 3, streams: 1 });
      // Inside a request whose id would otherwise be inherited.
      audit.withRequest({ requestId: "ambient" }, () =>
        auditCredentialDelivered(audit, ctxOf("key_a", "req-3", "192.0.2.1"), { connectionId: "conn_1", version: 4, streams: 7 }),
      );
    });
    assert.deepEqual(
      rows.map((r) => ({ key: r.keyId, tenant: r.tenantId, request: r.requestId, address: r.clientAddress, details: r.details })),
      [
        { key: "key_a", tenant: "t1", request: "req-1", address: "192.0.2.1", details: { version: "3" } },
        { key: "key_a", tenant: "t1", request: "req-2", address: "192.0.2.1", details: { version: "3" } },
        { key: "key_a", tenant: "t1", request: null, address: "192.0.2.1", details: { version: "4", streams: "7" } },
      ],
    );
    assert.ok(rows.every((r) => r.action === "token.deliver" && r.result === "ok" && r.connectionId === "conn_1"));
  });

  test("streams share a delivery group only when key, tenant and client address all match", () => {
    const group = credentialDeliveryGroup(ctxOf("key_a", "req-1", "192.0.2.1"));
    assert.equal(credentialDeliveryGroup(ctxOf("key_a", "req-2", "192.0.2.1")), group, "request ids differ: same group");
    assert.notEqual(credentialDeliveryGroup(ctxOf("key_b", "req-1", "192.0.2.1")), group);
    assert.notEqual(credentialDeliveryGroup(ctxOf("key_a", "req-1", "192.0.2.2")), group);
    assert.notEqual(credentialDeliveryGroup(ctxOf("key_a", "req-1", "192.0.2.1", "t2")), group);
  });
});
