/**
 * `nexus providers plan|apply` against a real server started in-process (port 0): drift output,
 * masked updates, prune, write-only secrets, exit codes. Every output and the server's logs are
 * checked for the secret values.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startServer, type TestServer } from "../../test/support/start-server.ts";
import { createTempDataDir, type TempDir } from "../../test/support/temp-data-dir.ts";
import { createProviderDirectory } from "../providers/provider-directory.ts";
import { runProvidersCommand } from "./providers-command.ts";

const GOOGLE_SECRET = "google-secret-value-5d1e";
const GOOGLE_ROTATED = "google-secret-rotated-77aa";
const PLAIN_SECRET = "plaintext-secret-value-c0ff";

let server: TestServer;
let dir: TempDir;
const outputs: string[] = [];

async function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runProvidersCommand(args, {
    stdout: { write: (t: string) => (out += t) },
    stderr: { write: (t: string) => (err += t) },
    env: { GOOGLE_SECRET, NEXUS_API_KEY: server.adminKey, ...env },
  });
  outputs.push(out, err);
  return { code, out, err };
}

function writeFile(name: string, yaml: string): string {
  const file = join(dir.path, name);
  writeFileSync(file, yaml);
  return file;
}

const BASE = `providers:
  - preset: google
    oauth:
      client_id: google-client.apps.googleusercontent.com
      client_secret_env: GOOGLE_SECRET
  - name: internal-api
    display_name: Internal API
    category: internal
    auth_type: api_key
    credential_schema:
      type: object
      properties:
        api_key: { type: string, title: API key, format: password, writeOnly: true }
      required: [api_key]
    strategy: { type: header, header: { header_name: X-Api-Key } }
`;

describe("nexus providers plan|apply", () => {
  let file: string;
  before(async () => {
    server = await startServer();
    dir = createTempDataDir("nexus-cli-test-");
    file = writeFile("providers.yaml", BASE);
  });
  after(async () => {
    await server.close();
    dir.remove();
  });

  test("plan on an empty server lists creates; --detailed-exitcode says 3", async () => {
    const plan = await run(["plan", "-f", file, "--url", server.baseUrl]);
    assert.equal(plan.code, 0, plan.err);
    assert.match(plan.out, /^\+ google \(oauth2, client secret \(write-only, will be set\)\)$/m);
    assert.match(plan.out, /^\+ internal-api \(api_key\)$/m);
    assert.match(plan.out, /Plan: 2 to create, 0 to update, 0 to delete\./);
    assert.equal((await run(["plan", "-f", file, "--url", server.baseUrl, "--detailed-exitcode"])).code, 3);
  });

  test("apply creates them from the preset with the secret; then there is no drift", async () => {
    const apply = await run(["apply", "-f", file, "--url", server.baseUrl]);
    assert.equal(apply.code, 0, apply.err);
    assert.match(apply.out, /^created google$/m);
    assert.match(apply.out, /^created internal-api$/m);
    const directory = createProviderDirectory({ store: server.app.store, vault: server.app.vault });
    const google = await directory.getWithSecret("google");
    assert.equal(google.clientSecret, GOOGLE_SECRET);
    assert.equal(google.provider.profile.oauth?.issuer, "https://accounts.google.com");
    assert.deepEqual(google.provider.profile.oauth?.authorizeParams, { access_type: "offline", prompt: "consent" });
    assert.equal(google.provider.profile.oauth?.clientId, "google-client.apps.googleusercontent.com");
    const api = await directory.get("internal-api");
    assert.deepEqual(api.profile.strategy, { type: "header", headerName: "X-Api-Key", credentialField: "api_key", valuePrefix: "" });

    const again = await run(["plan", "-f", file, "--url", server.baseUrl, "--detailed-exitcode"]);
    assert.equal(again.code, 0, again.out);
    assert.match(again.out, /No changes/);
  });

  test("a changed field shows as a diff and apply sends exactly that mask", async () => {
    const changed = writeFile(
      "changed.yaml",
      BASE.replace(
        "client_secret_env: GOOGLE_SECRET",
        "client_secret_env: GOOGLE_SECRET\n      default_scopes: [openid, email, profile, https://www.googleapis.com/auth/drive.readonly]",
      ).replace("display_name: Internal API", "display_name: Internal API v2"),
    );
    const plan = await run(["plan", "-f", changed, "--url", server.baseUrl, "--detailed-exitcode"]);
    assert.equal(plan.code, 3);
    assert.match(plan.out, /^~ google$/m);
    assert.ok(
      plan.out.includes(
        '    oauth.default_scopes: ["openid","email","profile"] → ["openid","email","profile","https://www.googleapis.com/auth/drive.readonly"]',
      ),
      plan.out,
    );
    assert.ok(plan.out.includes('    display_name: "Internal API" → "Internal API v2"'), plan.out);
    assert.ok(!plan.out.includes("client_secret"), "the server already has a secret: not drift without --update-secrets");
    const apply = await run(["apply", "-f", changed, "--url", server.baseUrl]);
    assert.equal(apply.code, 0, apply.err);
    assert.match(apply.out, /^updated google: oauth\.default_scopes$/m);
    assert.match(apply.out, /^updated internal-api: display_name$/m);
    assert.equal((await run(["plan", "-f", changed, "--url", server.baseUrl, "--detailed-exitcode"])).code, 0);
  });

  test("--update-secrets re-sends a secret the server already has", async () => {
    const plan = await run(["plan", "-f", file, "--url", server.baseUrl, "--update-secrets"], { GOOGLE_SECRET: GOOGLE_ROTATED });
    assert.match(plan.out, /^ {4}oauth\.client_secret: \(write-only, will be replaced\)$/m);
    const apply = await run(["apply", "-f", file, "--url", server.baseUrl, "--update-secrets"], { GOOGLE_SECRET: GOOGLE_ROTATED });
    assert.equal(apply.code, 0, apply.err);
    const directory = createProviderDirectory({ store: server.app.store, vault: server.app.vault });
    assert.equal((await directory.getWithSecret("google")).clientSecret, GOOGLE_ROTATED);
  });

  test("providers missing from the file are deleted only with --prune", async () => {
    const onlyGoogle = writeFile("only-google.yaml", BASE.slice(0, BASE.indexOf("  - name: internal-api")));
    const plan = await run(["plan", "-f", onlyGoogle, "--url", server.baseUrl]);
    assert.match(plan.out, /not in .*: internal-api; --prune deletes them/);
    assert.doesNotMatch(plan.out, /^- /m);
    const pruned = await run(["plan", "-f", onlyGoogle, "--url", server.baseUrl, "--prune"]);
    assert.match(pruned.out, /^- internal-api$/m);
    const apply = await run(["apply", "-f", onlyGoogle, "--url", server.baseUrl, "--prune"]);
    assert.equal(apply.code, 0, apply.err);
    assert.match(apply.out, /^deleted internal-api$/m);
    await assert.rejects(server.app.store.getProvider("internal-api"));
  });

  test("a plaintext secret works with a warning that does not echo it", async () => {
    const plain = writeFile(
      "plain.yaml",
      `providers:
  - preset: github
    oauth: { client_id: gh-client, client_secret: ${PLAIN_SECRET} }
`,
    );
    const plan = await run(["plan", "-f", plain, "--url", server.baseUrl]);
    assert.equal(plan.code, 0, plan.err);
    assert.match(plan.err, /warning: .*providers\[0\] \(github\): oauth\.client_secret is written in plaintext/);
    assert.match(plan.out, /^\+ github/m);
  });

  test("file problems exit 1 with the entry and field path", async () => {
    const cases: [string, RegExp][] = [
      [
        "providers:\n  - preset: google\n    oauth: { client_id: c, client_secret_env: MISSING_VAR }\n",
        /providers\[0\] \(google\): environment variable MISSING_VAR is not set/,
      ],
      [
        "providers:\n  - preset: github\n    oauth: { client_id: c }\n",
        /providers\[0\] \(github\): oauth\.client_secret: is required when client_auth_method is client_secret_post/,
      ],
      [
        "providers:\n  - preset: google\n    oauth: { client_id: c, client_secret_env: GOOGLE_SECRET, token_endpoint: 'http://evil.example/token' }\n",
        /oauth\.token_endpoint: must use https/,
      ],
      ["providers:\n  - preset: no-such-preset\n", /no catalog preset named "no-such-preset"/],
      // The URL-parameter rule: a connection may not set a host; the operator's host is required.
      [
        "providers:\n  - name: steer\n    auth_type: oauth2\n    url_params: [domain]\n    oauth: { issuer: 'https://{domain}', client_id: c, client_secret_env: GOOGLE_SECRET }\n    strategy: { type: oauth2 }\n",
        /providers\[0\] \(steer\): oauth\.issuer: lets each connection set \{domain\} as the whole host/,
      ],
      [
        "providers:\n  - preset: okta\n    oauth: { client_id: c, client_secret_env: GOOGLE_SECRET }\n",
        /providers\[0\] \(okta\): operator_params\.domain: is required/,
      ],
      [
        "providers:\n  - preset: okta\n    operator_params: { domain: 'evil.com/x' }\n    oauth: { client_id: c, client_secret_env: GOOGLE_SECRET }\n",
        /operator_params\.domain: must be a lower-case host name/,
      ],
      ["providers:\n  - name: x\n    colour: red\n", /providers\[0\] \(x\): .*colour/],
      ["providers:\n  - name: a\n    auth_type: api_key\n  - name: a\n", /used twice/],
      ["nonsense: true\n", /expected a top-level "providers:" list/],
      ["providers: [\n", /providers/],
    ];
    for (const [yaml, message] of cases) {
      const bad = writeFile("bad.yaml", yaml);
      const res = await run(["plan", "-f", bad, "--url", server.baseUrl]);
      assert.equal(res.code, 1, `${yaml}: ${res.out}`);
      assert.match(res.err, message);
    }
    const missing = await run(["plan", "-f", join(dir.path, "absent.yaml"), "--url", server.baseUrl]);
    assert.equal(missing.code, 1);
  });

  test("a preset's operator-set host comes from the file and plans a create", async () => {
    const okta = writeFile(
      "okta.yaml",
      "providers:\n  - preset: okta\n    operator_params: { domain: dev-1.okta.com }\n    oauth: { client_id: c, client_secret_env: GOOGLE_SECRET }\n",
    );
    const plan = await run(["plan", "-f", okta, "--url", server.baseUrl]);
    assert.equal(plan.code, 0, plan.err);
    assert.match(plan.out, /^\+ okta \(oauth2/m);
  });

  test("usage errors exit 2", async () => {
    assert.equal((await run(["plan"])).code, 2);
    assert.equal((await run(["destroy", "-f", file])).code, 2);
    assert.equal((await run(["plan", "-f", file, "--bogus"])).code, 2);
    assert.equal((await run(["apply", "-f", file, "--detailed-exitcode"])).code, 2);
    assert.equal((await run(["plan", "-f", file, "--url", "ftp://x"])).code, 2);
    assert.equal((await run(["--help"])).code, 0);
  });

  test("the API key is sent as a bearer token; an unreachable server is exit 1", async () => {
    const seen: (string | undefined)[] = [];
    const fake = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => fake.listen(0, "127.0.0.1", resolve));
    const { port } = fake.address() as { port: number };
    try {
      const res = await run(["plan", "-f", file, "--url", `http://127.0.0.1:${port}`], { NEXUS_API_KEY: "nxk_test_key" });
      assert.equal(res.code, 1);
      assert.deepEqual(seen.slice(0, 1), ["Bearer nxk_test_key"]);
      assert.ok(!res.err.includes("nxk_test_key"));
    } finally {
      await new Promise((resolve) => fake.close(resolve));
    }
    const down = await run(["plan", "-f", file, "--url", `http://127.0.0.1:${port}`]);
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach the server/);
  });

  test("nexus.ts dispatches `providers` (usage error → exit 2)", () => {
    const res = spawnSync(process.execPath, [join(import.meta.dirname, "nexus.ts"), "providers", "plan"], { encoding: "utf8" });
    assert.equal(res.status, 2, res.stderr);
    assert.match(res.stderr, /-f FILE is required/);
  });

  test("no secret value appears in any output or server log", () => {
    const all = outputs.join("\n") + server.logs();
    for (const secret of [GOOGLE_SECRET, GOOGLE_ROTATED, PLAIN_SECRET]) assert.ok(!all.includes(secret), secret);
  });
});
