/**
 * The seed's "Typical Flow" and "Frontend Integration" with the typed client instead of curl,
 * against a real OpenID Provider: the backend requests a connection with an agent key, the browser
 * consents and returns with the connection_id, the backend checks it and the agent fetches and
 * applies the credential (the provider's userinfo endpoint accepts it).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { applyCredential, createNexusClient, isNotFound } from "nexus/client";
import { ConnectionStatus } from "../gen/nexus/v1/status_pb.ts";
import { type ConsentRig, RETURN_URL, startConsentRig } from "./support/consent-rig.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/seed-typed-client.test.ts", () => {
  let rig: ConsentRig;
  before(async () => {
    rig = await startConsentRig();
  });
  after(() => rig?.close());

  for (const protocol of ["grpc", "connect", "grpc-web"] as const) {
    test(`typed client over ${protocol}: request → consent → check → credential → provider call`, async () => {
      const nexus = createNexusClient({ baseUrl: rig.server.baseUrl, apiKey: rig.server.agentKey, protocol });
      try {
        const started = await nexus.connections.requestConnection({
          userId: "frontend-user",
          providerName: "test-idp",
          scopes: ["openid", "offline_access"],
          returnUrl: RETURN_URL,
        });
        assert.equal(started.status, ConnectionStatus.PENDING);
        await rig.remember(rig.server, started.authUrl);

        // The browser: provider login and consent, then back to the frontend's return_url.
        const landed = new URL((await rig.drive(started.authUrl)).url);
        assert.equal(landed.searchParams.get("status"), "success");
        const connectionId = landed.searchParams.get("connection_id");
        assert.equal(connectionId, started.connectionId, "the frontend hands the backend the same id");

        const { status } = await nexus.connections.checkConnection({ connectionId: connectionId! });
        assert.equal(status, ConnectionStatus.ACTIVE);

        const credential = await nexus.getCredential(connectionId!);
        assert.ok(typeof credential.credentials?.access_token === "string");
        rig.secrets.add(String(credential.credentials.access_token));
        const request = await applyCredential(credential, new Request(`${rig.idp.baseUrl}/me`));
        const userinfo = await fetch(request);
        assert.equal(userinfo.status, 200, "the provider accepts the applied credential");
        assert.equal(((await userinfo.json()) as { sub: string }).sub, "alice");

        const missing = await nexus.tokens.getToken({ connectionId: "conn_missing" }).catch((e: unknown) => e);
        assert.ok(isNotFound(missing));
      } finally {
        nexus.close();
      }
    });
  }

  test("no secret reached the logs", () => {
    rig.assertNoSecretsLogged();
  });
});
