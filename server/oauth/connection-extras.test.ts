import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_ACCOUNT_FIELD_LENGTH } from "../domain/connection-account.ts";
import { captureConnectionExtras } from "./connection-extras.ts";

test("connection extras: callback query and token-response pointers; secrets, absent and empty values are left out", () => {
  const callback = new URLSearchParams("code=c&state=s&realmId=9130&blank=");
  const response = {
    access_token: "at-secret",
    refresh_token: "rt-secret",
    id_token: "a.b.c",
    token_type: "Bearer",
    instance_url: "https://acme.my.salesforce.com",
    team: { id: "T123", name: "Acme\u0000 Inc" },
    authed_user: { access_token: "nested-secret" },
  };
  const metadata = captureConnectionExtras(
    [
      { name: "realm_id", callbackParam: "realmId" },
      { name: "blank", callbackParam: "blank" },
      { name: "missing", callbackParam: "nope" },
      { name: "instance_url", tokenPointer: "/instance_url" },
      { name: "team_id", tokenPointer: "/team/id" },
      { name: "team_name", tokenPointer: "/team/name" },
      { name: "access", tokenPointer: "/access_token" },
      { name: "refresh", tokenPointer: "/refresh_token" },
      { name: "id_token", tokenPointer: "/id_token" },
      { name: "user_token", tokenPointer: "/authed_user/access_token" },
    ],
    callback,
    response,
  );
  assert.deepEqual(metadata, {
    realm_id: "9130",
    instance_url: "https://acme.my.salesforce.com",
    team_id: "T123",
    team_name: "Acme Inc",
  });
  assert.deepEqual(captureConnectionExtras(undefined, callback, response), {});
  const long = captureConnectionExtras([{ name: "x", callbackParam: "x" }], new URLSearchParams({ x: "y".repeat(10_000) }), {});
  assert.equal(long.x?.length, MAX_ACCOUNT_FIELD_LENGTH);
});
