// The log record → webhook event mapping: `connection.<type>`, snake_case snapshot fields (the
// account too), the caller's maps untouched.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { ConnectionEventRecord } from "../store/store.ts";
import { toOutboxEvent } from "./store-outbox.ts";

test("a log record becomes a connection.<type> event with a snake_case snapshot", () => {
  const record = {
    seq: 9,
    eventId: "evt_1",
    tenantId: "acme",
    connectionId: "conn_1",
    type: "active",
    occurredAtMs: 1_700_000_000_000,
    connection: {
      id: "conn_1",
      userId: "u-1",
      providerName: "github",
      account: { id: "42", email: "a@example.com", displayName: "Alice" },
      labels: { endUserId: "x" },
      params: { shopName: "acme" },
    },
  } as unknown as ConnectionEventRecord;
  const event = toOutboxEvent(record);
  assert.equal(event.type, "connection.active");
  assert.deepEqual(event.connection, {
    id: "conn_1",
    user_id: "u-1",
    provider_name: "github",
    account: { id: "42", email: "a@example.com", display_name: "Alice" },
    labels: { endUserId: "x" },
    params: { shopName: "acme" },
  });
});
