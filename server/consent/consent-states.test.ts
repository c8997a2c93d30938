import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { createSqliteStore } from "../store/sqlite/store.ts";
import type { Store } from "../store/store.ts";
import { generateKeyringText, parseKeyring } from "../vault/keyring.ts";
import { createVault } from "../vault/vault.ts";
import { createConsentStates, hashState } from "./consent-states.ts";
import { buildReturnRedirect } from "./return-redirect.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/consent/consent-states.test.ts", () => {
  let dir: TempDir;
  let store: Store;
  let nowMs = 1_700_000_000_000;
  before(async () => {
    dir = createTempDataDir();
    store = await createSqliteStore({ dataDir: dir.path, now: Date.now });
    await store.ensureTenant({ id: "t" });
  });
  after(async () => {
    await store.close();
    dir.remove();
  });

  test("a state is single-use, expires, and only its hash is stored", async () => {
    const states = createConsentStates({ store, vault: createVault(parseKeyring(generateKeyringText())), now: () => nowMs });
    const connection = await store.createConnection({ tenantId: "t", userId: "u", providerName: "p" });
    const issued = await states.issue(connection.id, "http://localhost/cb", { flow: "oauth", codeVerifier: "v".repeat(43), nonce: "n" });
    assert.match(issued.state, /^[A-Za-z0-9_-]{43}$/);
    const stored = await store.findConsentState(hashState(issued.state));
    assert.ok(stored);
    assert.ok(!Buffer.from(stored.secrets!.ciphertext).toString("latin1").includes("v".repeat(43)), "verifier is sealed");

    const peeked = await states.peek(issued.state);
    assert.equal(peeked?.secrets?.nonce, "n");
    const used = await states.consume(issued.state);
    assert.equal(used?.record.connectionId, connection.id);
    assert.equal(used?.secrets?.codeVerifier, "v".repeat(43));
    assert.equal(await states.consume(issued.state), null, "replay");

    const late = await states.issue(connection.id, null, { flow: "capture" });
    nowMs += 10 * 60 * 1000;
    assert.equal(await states.consume(late.state), null, "expired");
    assert.equal(await states.consume("tampered"), null);
    assert.equal(await states.consume(`${issued.state.slice(0, -1)}A`), null);
  });

  test("return redirects merge the outcome into the existing query", () => {
    assert.equal(
      buildReturnRedirect("http://localhost:3000/done?tab=2&status=old", { status: "success", connectionId: "conn_1" }),
      "http://localhost:3000/done?tab=2&status=success&connection_id=conn_1",
    );
    assert.equal(
      buildReturnRedirect("http://localhost/cb#frag", { status: "error", error: "access_denied", connectionId: "c" }),
      "http://localhost/cb?status=error&connection_id=c&error=access_denied#frag",
    );
  });
});
