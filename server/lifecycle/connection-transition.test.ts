/**
 * The transition path on a real store (SQLite, or PostgreSQL with NEXUS_TEST_STORE=postgres): the
 * expected status comes from the connection as read, the table is asked before any write, and a
 * stale read loses the compare-and-set.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { dropTestStore, openTestStore } from "../../test/support/test-store.ts";
import { IllegalTransitionError } from "../domain/connection-status.ts";
import { ConflictError } from "../domain/errors.ts";
import type { Store } from "../store/store.ts";
import { openConnection, transition, transitionFromAnyAllowed } from "./connection-transition.ts";

describe("server/lifecycle/connection-transition.test.ts", () => {
  let dir: TempDir;
  let store: Store;
  const open = () => openConnection(store, { tenantId: "t1", userId: "u1", providerName: "github", scopes: ["repo"] });

  before(async () => {
    dir = createTempDataDir();
    store = await openTestStore(dir.path);
    await store.ensureTenant({ id: "t1" });
  });
  after(async () => {
    await store.close();
    await dropTestStore(dir.path);
    dir.remove();
  });

  test("a connection opens in the initial state, with no reason", async () => {
    const created = await open();
    assert.equal(created.status, "pending");
    assert.equal(created.statusReason, null);
  });

  test("moves from the status it was read in, with the reason and changes", async () => {
    const created = await open();
    const active = await transition(store, created, "active", null, { scopes: ["repo", "user"] });
    assert.equal(active.status, "active");
    assert.deepEqual(active.scopes, ["repo", "user"]);
    const dead = await transition(store, active, "attention_required", "invalid_grant", { nextRefreshAtMs: null });
    assert.equal(dead.status, "attention_required");
    assert.equal(dead.statusReason, "invalid_grant");
  });

  test("a stale read loses: ConflictError(status), the row keeps its state", async () => {
    const created = await open();
    await transition(store, created, "failed", "access_denied");
    await assert.rejects(transition(store, created, "active", null), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.equal(err.kind, "status");
      return true;
    });
    assert.equal((await store.getConnection("t1", created.id)).status, "failed");
  });

  test("a move the table forbids is refused before any write", async () => {
    const created = await open();
    const revoked = await transition(store, created, "revoked", "revoked_by_api");
    await assert.rejects(transition(store, revoked, "active", null), IllegalTransitionError);
    // Even a snapshot that lies about the row is checked against the table first.
    await assert.rejects(transition(store, { ...revoked, status: "expired" }, "active", null), IllegalTransitionError);
    const row = await store.getConnection("t1", created.id);
    assert.equal(row.status, "revoked");
    assert.equal(row.statusReason, "revoked_by_api");
  });

  test("from any allowed state: wins over a move made since the read, not over a final state", async () => {
    const created = await open();
    await transition(store, created, "active", null);
    // `created` still says pending: the revocation does not care which allowed state it finds.
    const revoked = await transitionFromAnyAllowed(store, created, "revoked", "revoked_by_admin", { nextRefreshAtMs: null });
    assert.equal(revoked.status, "revoked");
    await assert.rejects(transitionFromAnyAllowed(store, created, "revoked", "revoked_by_api"), ConflictError);
    assert.equal((await store.getConnection("t1", created.id)).statusReason, "revoked_by_admin");
  });
});
