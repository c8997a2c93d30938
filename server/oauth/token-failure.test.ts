import assert from "node:assert/strict";
import net from "node:net";
import { test } from "node:test";
import { type AuthorizationServer, processClientCredentialsResponse } from "oauth4webapi";
import { IdTokenValidationError } from "./id-token-check.ts";
import { InsecureEndpointError } from "./request-options.ts";
import { classifyTokenFailure } from "./token-failure.ts";

const as: AuthorizationServer = { issuer: "https://as.example", token_endpoint: "https://as.example/token" };
const client = { client_id: "c" };

/** Runs oauth4webapi's response processing on a canned token-endpoint answer and classifies the error. */
async function classify(status: number, body: string, headers: Record<string, string> = { "content-type": "application/json" }) {
  const err = await processClientCredentialsResponse(as, client, new Response(body, { status, headers })).then(
    () => assert.fail("expected a failure"),
    (e: unknown) => e,
  );
  return classifyTokenFailure(err);
}

test("only invalid_grant is a dead grant", async () => {
  assert.deepEqual(await classify(400, '{"error":"invalid_grant"}'), {
    kind: "oauth_error",
    error: "invalid_grant",
    status: 400,
    retryable: false,
    blame: "user_grant",
  });
});

test("client misconfiguration is blamed on the provider config, never on the grant", async () => {
  for (const error of ["invalid_client", "unauthorized_client", "unsupported_grant_type", "invalid_scope", "invalid_request"]) {
    const failure = await classify(400, JSON.stringify({ error }));
    assert.equal(failure.blame, "provider_config", error);
    assert.equal(failure.retryable, false, error);
  }
  // A 401 with a Basic challenge (RFC 6749 §5.2 invalid_client over client_secret_basic).
  const challenged = await classify(401, '{"error":"invalid_client"}', {
    "content-type": "application/json",
    "www-authenticate": 'Basic realm="as", error="invalid_client"',
  });
  assert.deepEqual(challenged, { kind: "oauth_error", error: "invalid_client", status: 401, retryable: false, blame: "provider_config" });
  assert.equal((await classify(401, "unauthorized", { "content-type": "text/plain" })).blame, "provider_config");
  // A 429 naming invalid_client is still configuration: the code wins over the status.
  assert.equal((await classify(429, '{"error":"invalid_client"}')).blame, "provider_config");
  // An unknown 4xx code is not a dead grant.
  assert.equal((await classify(400, '{"error":"something_new"}')).blame, "provider_config");
});

test("5xx, 429, 408 and temporarily_unavailable are transient and retryable", async () => {
  assert.deepEqual(await classify(503, "<html>down</html>", { "content-type": "text/html" }), {
    kind: "unexpected_status",
    status: 503,
    retryable: true,
    blame: "transient",
  });
  assert.equal((await classify(429, "slow down", { "content-type": "text/plain" })).blame, "transient");
  assert.equal((await classify(408, "", { "content-type": "text/plain" })).blame, "transient");
  const unavailable = await classify(400, '{"error":"temporarily_unavailable"}');
  assert.equal(unavailable.kind, "oauth_error");
  assert.equal(unavailable.blame, "transient");
  assert.equal(unavailable.retryable, true);
});

test("unexpected statuses and bodies are configuration faults", async () => {
  assert.deepEqual(await classify(404, "not here", { "content-type": "text/plain" }), {
    kind: "unexpected_status",
    status: 404,
    retryable: false,
    blame: "provider_config",
  });
  assert.deepEqual(await classify(200, "<html>login</html>", { "content-type": "text/html" }), {
    kind: "unexpected_body",
    retryable: false,
    blame: "provider_config",
  });
  assert.equal((await classify(200, '{"token_type":"bearer"}')).kind, "unexpected_body");
  assert.equal(classifyTokenFailure(new IdTokenValidationError({ cause: new Error("x") })).kind, "unexpected_body");
});

test("GitHub's HTTP 200 error body is read as an OAuth error", async () => {
  const failure = await classify(200, '{"error":"bad_verification_code","error_description":"expired"}');
  assert.equal(failure.kind, "oauth_error");
  assert.equal(failure.error, "bad_verification_code");
  assert.equal(failure.blame, "provider_config");
  assert.equal((await classify(200, '{"error":"invalid_grant"}')).blame, "user_grant");
});

test("network failures and timeouts are transient; a refused insecure URL is configuration", async () => {
  const refused = await fetch("http://127.0.0.1:9/").catch((e: unknown) => e);
  assert.deepEqual(classifyTokenFailure(refused), { kind: "network", retryable: true, blame: "transient" });
  // A loopback server that accepts and never answers: the request times out.
  const silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = silent.address() as net.AddressInfo;
    const timedOut = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(50) }).catch((e: unknown) => e);
    assert.equal((timedOut as Error).name, "TimeoutError");
    assert.equal(classifyTokenFailure(timedOut).blame, "transient");
  } finally {
    silent.close();
  }
  assert.deepEqual(classifyTokenFailure(new InsecureEndpointError()), { kind: "network", retryable: false, blame: "provider_config" });
  // A programming error (oauth4webapi argument check) is not mistaken for the network.
  const coded = Object.assign(new TypeError('"as" must be an object'), { code: "ERR_INVALID_ARG_TYPE" });
  assert.equal(classifyTokenFailure(coded).blame, "provider_config");
});
