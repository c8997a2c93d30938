// Run by client-package.test.ts in the outsider project, which has none of the optional peers:
// the client loads, and the two features that need a peer say which package to install.
import { create } from "@bufbuild/protobuf";
import { applyCredential, CredentialSchema, createBridge, createNexusClient, StrategyError, StrategyType } from "@nexus/client";

const client = createNexusClient({ baseUrl: "http://127.0.0.1:9" });
const outcome = {};
try {
  createBridge({ client });
  outcome.bridge = "created";
} catch (err) {
  outcome.bridge = `${err.name}: ${err.message}`;
}
const sigv4 = create(CredentialSchema, {
  strategy: { type: StrategyType.AWS_SIGV4, config: { case: "awsSigv4", value: { service: "execute-api", region: "eu-west-1" } } },
  credentials: { access_key: "AKIDEXAMPLE", secret_key: "example-secret" },
  connectionId: "conn_sigv4",
});
try {
  await applyCredential(sigv4, new Request("https://api.example.com/v1/things"));
  outcome.sigv4 = "signed";
} catch (err) {
  outcome.sigv4 = `${err instanceof StrategyError ? "StrategyError" : err.name}: ${err.message}`;
}
client.close();
console.log(JSON.stringify(outcome));
