/**
 * Conformance cases for tenants: create, read, ensure, duplicates and missing ids.
 */
import assert from "node:assert/strict";
import { AlreadyExistsError, NotFoundError } from "../../domain/errors.ts";
import { assertRejectsWith, START_TIME_MS, type StoreHarness } from "./harness.ts";

/** Declares the tenant cases. */
export function describeTenantCases(h: StoreHarness): void {
  h.test("createTenant and getTenant round-trip", async () => {
    const created = await h.store().createTenant({ id: "acme", displayName: "Acme Inc." });
    assert.deepEqual(created, { id: "acme", displayName: "Acme Inc.", createdAtMs: START_TIME_MS });
    assert.deepEqual(await h.store().getTenant("acme"), created);
  });

  h.test("createTenant with a taken id is AlreadyExists", async () => {
    await h.store().createTenant({ id: "acme" });
    await assertRejectsWith(h.store().createTenant({ id: "acme" }), AlreadyExistsError, (error) => {
      assert.equal(error.kind, "tenant");
      assert.equal(error.id, "acme");
    });
  });

  h.test("getTenant of a missing tenant is NotFound", async () => {
    await assertRejectsWith(h.store().getTenant("nobody"), NotFoundError, (error) => {
      assert.equal(error.kind, "tenant");
    });
  });

  h.test("ensureTenant creates once, then returns the existing tenant unchanged", async () => {
    const first = await h.store().ensureTenant({ id: "acme", displayName: "Acme" });
    assert.equal(first.displayName, "Acme");
    h.clock.advance(1000);
    const second = await h.store().ensureTenant({ id: "acme", displayName: "Other name" });
    assert.deepEqual(second, first);
    const defaulted = await h.store().ensureTenant({ id: "plain" });
    assert.equal(defaulted.displayName, "");
  });
}
