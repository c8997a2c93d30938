/**
 * Tests of the shared compare-and-set diagnosis: a missing row is NotFound, a row in another state
 * is a Conflict naming what was found and expected, and domain errors are recognised for pass-through.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConflictError, InvalidArgumentError, NotFoundError, StoreUnavailableError } from "../../domain/errors.ts";
import { connectionStatusConflict, credentialVersionConflict, expectedStatusList, isStoreDomainError } from "./write-conflicts.ts";

describe("connectionStatusConflict", () => {
  it("is NotFound for a missing (or another tenant's) connection", () => {
    const error = connectionStatusConflict("conn_1", undefined, ["pending"]);
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.kind, "connection");
    assert.equal(error.id, "conn_1");
  });

  it("is a Conflict naming the current status and every expected one", () => {
    const error = connectionStatusConflict("conn_1", { status: "revoked" }, ["pending", "active"]);
    assert.ok(error instanceof ConflictError);
    assert.equal(error.kind, "status");
    assert.equal(error.message, 'connection "conn_1" is revoked, expected pending or active');
  });
});

describe("credentialVersionConflict", () => {
  it("is NotFound for a missing connection, a Conflict naming both versions otherwise", () => {
    assert.ok(credentialVersionConflict("conn_1", undefined, 3) instanceof NotFoundError);
    const error = credentialVersionConflict("conn_1", { version: 4 }, 3);
    assert.ok(error instanceof ConflictError);
    assert.equal(error.kind, "version");
    assert.equal(error.message, 'credential of connection "conn_1" is at version 4, expected 3');
  });
});

describe("expectedStatusList", () => {
  it("takes one status or a list, and copies the list", () => {
    assert.deepEqual(expectedStatusList("active"), ["active"]);
    const given = ["pending", "active"] as const;
    const list = expectedStatusList(given);
    assert.deepEqual(list, ["pending", "active"]);
    assert.notEqual(list, given);
  });
});

describe("isStoreDomainError", () => {
  it("recognises the domain errors a store operation raises, not driver or plain errors", () => {
    assert.equal(isStoreDomainError(new NotFoundError("connection", "x")), true);
    assert.equal(isStoreDomainError(new ConflictError("version", "x")), true);
    assert.equal(isStoreDomainError(new InvalidArgumentError("name", "x")), true);
    assert.equal(isStoreDomainError(new StoreUnavailableError("x")), true);
    assert.equal(isStoreDomainError(new Error("SQLITE_CONSTRAINT")), false);
    assert.equal(isStoreDomainError("not an error"), false);
  });
});
