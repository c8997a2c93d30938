/**
 * Server reflection as a reflection-only tool sees it, through the real `buf curl`: it needs a key
 * (sent with --reflect-header; anonymous callers reach only grpc.health.v1), and it serves the
 * definition of every message errors carry as details, so a client can decode them without .proto
 * files: nexus.v1.ErrorInfo from a real error, google.rpc.RetryInfo as the rate limiter encodes it.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { createFileRegistry, fromBinary, type Registry, toJson } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { encodeRetryInfo } from "../server/rpc/interceptors/rate-limit-interceptor.ts";
import { REPO } from "./support/readme-blocks.ts";
import { startServer, type TestServer } from "./support/start-server.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("test/reflection-error-details.test.ts", () => {
  const BUF = `${REPO}/node_modules/.bin/buf`;
  let server: TestServer;

  before(async () => {
    server = await startServer();
  });
  after(() => server.close());

  /** Runs buf curl over h2c with the agent key; resolves with exit code and output. */
  async function bufCurl(args: string[], options: { reflectKey: boolean }): Promise<{ code: number; stdout: string; stderr: string }> {
    const auth = `authorization: Bearer ${server.agentKey}`;
    const argv = [
      "curl",
      "--protocol",
      "grpc",
      "--http2-prior-knowledge",
      "-H",
      auth,
      ...(options.reflectKey ? ["--reflect-header", "*"] : []),
      ...args,
    ];
    try {
      const { stdout, stderr } = await promisify(execFile)(BUF, argv, { timeout: 60_000 });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
    }
  }

  /** The files reflection answers for `symbol`, as a registry. */
  async function reflectedRegistry(symbol: string): Promise<Registry> {
    const res = await bufCurl(
      [
        "-d",
        JSON.stringify({ file_containing_symbol: symbol }),
        `${server.baseUrl}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`,
      ],
      { reflectKey: true },
    );
    assert.equal(res.code, 0, res.stderr);
    const answer = JSON.parse(res.stdout) as { fileDescriptorResponse?: { fileDescriptorProto: string[] } };
    const files = (answer.fileDescriptorResponse?.fileDescriptorProto ?? []).map((b64) =>
      fromBinary(FileDescriptorProtoSchema, Buffer.from(b64, "base64")),
    );
    assert.ok(files.length > 0, `reflection resolves ${symbol}`);
    // The requested file comes first, then its imports (any order): resolve imports by name.
    const byName = new Map(files.map((file) => [file.name, file]));
    return createFileRegistry(files[0]!, (name) => byName.get(name));
  }

  test("reflection needs the key: without --reflect-header buf curl is refused", async () => {
    const refused = await bufCurl(["--list-services", server.baseUrl], { reflectKey: false });
    assert.notEqual(refused.code, 0);
    assert.match(refused.stderr, /not authenticated|unauthenticated/i);
    const listed = await bufCurl(["--list-services", server.baseUrl], { reflectKey: true });
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^nexus\.v1\.TokenService$/m);
  });

  test("a real error's nexus.v1.ErrorInfo decodes with the files reflection serves", async () => {
    const failed = await bufCurl(["-d", '{"connection_id":"conn_missing"}', `${server.baseUrl}/nexus.v1.TokenService/GetToken`], {
      reflectKey: true,
    });
    assert.notEqual(failed.code, 0);
    const error = JSON.parse(failed.stderr || failed.stdout) as { code: string; details: { type: string; value: string }[] };
    assert.equal(error.code, "not_found");
    const [detail] = error.details;
    assert.equal(detail?.type, "nexus.v1.ErrorInfo");
    const registry = await reflectedRegistry(detail.type);
    const schema = registry.getMessage(detail.type);
    assert.ok(schema, "ErrorInfo is in the reflected files");
    const info = toJson(schema, fromBinary(schema, Buffer.from(detail.value, "base64")), { registry });
    assert.deepEqual(info, { reason: "ERROR_REASON_CONNECTION_NOT_FOUND", connectionId: "conn_missing" });
  });

  test("google.rpc.RetryInfo, sent on rate limits, decodes with the files reflection serves", async () => {
    const registry = await reflectedRegistry("google.rpc.RetryInfo");
    const schema = registry.getMessage("google.rpc.RetryInfo");
    assert.ok(schema);
    assert.deepEqual(toJson(schema, fromBinary(schema, encodeRetryInfo(1_500)), { registry }), { retryDelay: "1.500s" });
  });
});
