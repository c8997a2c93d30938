/**
 * Key rotation end to end: secrets sealed under key 1, the server restarted with key 2 first,
 * `nexus keys rotate` run against the live database, and then every secret opens with key 2 alone.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { test } from "node:test";
import { promisify } from "node:util";
import { consentSecretsAad, createConsentStates, hashState } from "../server/consent/consent-states.ts";
import { credentialAad } from "../server/domain/stored-secret.ts";
import { clientSecretAad } from "../server/providers/profile.ts";
import { generateKeyringText, parseKeyring } from "../server/vault/keyring.ts";
import { createVault } from "../server/vault/vault.ts";
import { startServer } from "./support/start-server.ts";
import { createTempDataDir } from "./support/temp-data-dir.ts";
import { dropTestStore, openTestStore } from "./support/test-store.ts";

const run = promisify(execFile);

test("rotate from key 1 to key 2 while the server runs; key 1 is then removable", async () => {
  const dir = createTempDataDir();
  const k1 = generateKeyringText("k1");
  const k2 = generateKeyringText("k2");
  try {
    // Seal one of each kind under k1.
    const first = await startServer({ dataDir: dir.path, env: { NEXUS_ENCRYPTION_KEYS: k1 } });
    const { store, vault } = first.app;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = await store.createConnection({ tenantId: "default", userId: `u${i}`, providerName: "p" });
      await store.saveCredential(c.id, 0, { secret: vault.seal(`token-${i}`, credentialAad(c.id, 1)), expiresAtSeconds: null });
      ids.push(c.id);
    }
    const issued = await createConsentStates({ store, vault, now: Date.now }).issue(ids[0]!, null, {
      flow: "oauth",
      codeVerifier: "verifier",
    });
    await store.createProvider({ name: "p", profile: {}, clientSecret: vault.seal("client-secret", clientSecretAad("p")) });
    await first.close({ keepDataDir: true });

    // Every replica now runs with k2 first (encrypts) and k1 after it (decrypts only).
    const second = await startServer({ dataDir: dir.path, env: { NEXUS_ENCRYPTION_KEYS: `${k2},${k1}` } });
    try {
      const { stdout } = await run(process.execPath, ["server/cli/nexus.ts", "keys", "rotate"], {
        env: { ...process.env, ...second.storeEnv, NEXUS_ENCRYPTION_KEYS: `${k2},${k1}`, NODE_ENV: "production" },
      });
      assert.match(stdout, /rotated:\s+7 value\(s\)/);
      assert.match(stdout, /older keys can now be removed/);
      assert.doesNotMatch(stdout, /token-|client-secret|verifier/);
      assert.equal((await fetch(`${second.baseUrl}/readyz`)).status, 200, "server kept serving");
    } finally {
      await second.close({ keepDataDir: true });
    }

    // k1 removed: everything still opens.
    const onlyK2 = createVault(parseKeyring(k2));
    const reopened = await openTestStore(dir.path);
    try {
      assert.deepEqual(await reopened.countSealedByKey(), { k2: 7 });
      for (const [i, id] of ids.entries()) {
        const credential = await reopened.getCredential(id);
        assert.equal(onlyK2.open(credential!.secret, credentialAad(id, 1)).toString(), `token-${i}`);
      }
      const provider = await reopened.getProvider("p");
      assert.equal(onlyK2.open(provider.clientSecret!, clientSecretAad("p")).toString(), "client-secret");
      const state = await reopened.findConsentState(hashState(issued.state));
      assert.match(onlyK2.open(state!.secrets!, consentSecretsAad(state!.stateHash)).toString(), /verifier/);
    } finally {
      await reopened.close();
    }
  } finally {
    dir.remove();
    await dropTestStore(dir.path);
  }
});
