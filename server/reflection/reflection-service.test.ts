import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import type { ServerReflectionRequestSchema, ServerReflectionResponse } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { file_nexus_v1_errors } from "../../gen/nexus/v1/errors_pb.ts";
import { ConnectionStatus } from "../../gen/nexus/v1/status_pb.ts";
import { createHealthService } from "./health-service.ts";
import { createReflectionService } from "./reflection-service.ts";

// One suite per file: with --test-isolation=none, file-level hooks would otherwise all run before
// the first test of the whole run (every file's server open at once).
describe("server/reflection/reflection-service.test.ts", () => {
  const BUF = fileURLToPath(new URL("../../node_modules/.bin/buf", import.meta.url));
  const execFileAsync = promisify(execFile);
  const HTTP_RULE_EXTENSION = 72295728; // google.api.http on google.protobuf.MethodOptions

  let baseUrl: string;
  let close: () => Promise<void>;

  function routes(router: ConnectRouter): void {
    const unimplemented = (): never => {
      throw new ConnectError("not in this test", Code.Unimplemented);
    };
    router.service(ConnectionService, {
      requestConnection: unimplemented,
      checkConnection: (request) => {
        if (request.connectionId !== "x") {
          throw new ConnectError("no such connection", Code.NotFound);
        }
        return { status: ConnectionStatus.ACTIVE };
      },
      getConnection: unimplemented,
      listConnections: unimplemented,
      revokeConnection: unimplemented,
      reconnectConnection: unimplemented,
    });
    router.service(Health, createHealthService({ services: [ConnectionService.typeName] }).impl);
    router.service(ServerReflection, createReflectionService({ services: [ConnectionService, Health], files: [file_nexus_v1_errors] }));
  }

  beforeEach(async () => {
    const server = http2.createServer(connectNodeAdapter({ routes }));
    const sessions = new Set<http2.ServerHttp2Session>();
    server.on("session", (session) => {
      sessions.add(session);
      session.once("close", () => sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    close = async () => {
      for (const session of sessions) session.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    };
  });

  afterEach(() => close());

  async function bufCurl(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { timeout: 20_000 });
    return stdout;
  }

  /** Sends the requests on one reflection stream and collects the answers in order. */
  async function reflect(...requests: MessageInitShape<typeof ServerReflectionRequestSchema>[]): Promise<ServerReflectionResponse[]> {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl }));
    async function* send() {
      yield* requests;
    }
    const responses: ServerReflectionResponse[] = [];
    for await (const response of client.serverReflectionInfo(send())) responses.push(response);
    return responses;
  }

  function symbolRequest(name: string): MessageInitShape<typeof ServerReflectionRequestSchema> {
    return { messageRequest: { case: "fileContainingSymbol", value: name } };
  }

  function filesOf(response: ServerReflectionResponse | undefined): FileDescriptorProto[] {
    assert.equal(response?.messageResponse.case, "fileDescriptorResponse");
    return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes));
  }

  test("buf curl lists services and methods through reflection", { timeout: 30_000 }, async () => {
    const services = (await bufCurl("--list-services", baseUrl)).trim().split("\n");
    assert.deepEqual(services.sort(), ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "nexus.v1.ConnectionService"]);
    const methods = (await bufCurl("--list-methods", baseUrl)).trim().split("\n");
    for (const method of [
      "nexus.v1.ConnectionService/CheckConnection",
      "nexus.v1.ConnectionService/RevokeConnection",
      "grpc.health.v1.Health/Watch",
      "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
    ]) {
      assert.ok(methods.includes(method), `${method} missing from ${methods.join(", ")}`);
    }
  });

  test("buf curl calls a nexus method with the schema it got from reflection", {
    timeout: 30_000,
  }, async () => {
    const stdout = await bufCurl("-d", '{"connection_id":"x"}', `${baseUrl}/nexus.v1.ConnectionService/CheckConnection`);
    assert.deepEqual(JSON.parse(stdout), { status: "CONNECTION_STATUS_ACTIVE" });
  });

  test("file_containing_symbol returns the file and its whole import closure", async () => {
    const [response] = await reflect({
      host: "nexus.test",
      messageRequest: { case: "fileContainingSymbol", value: "nexus.v1.ConnectionService" },
    });
    assert.equal(response?.validHost, "nexus.test");
    const files = filesOf(response);
    const names = files.map((file) => file.name);
    assert.equal(names[0], "nexus/v1/connections.proto");
    for (const dependency of [
      "google/api/annotations.proto",
      "google/api/http.proto",
      "google/api/field_behavior.proto",
      "google/protobuf/descriptor.proto",
      "google/protobuf/timestamp.proto",
      "nexus/v1/status.proto",
    ]) {
      assert.ok(names.includes(dependency), `${dependency} missing from ${names.join(", ")}`);
    }
    assert.equal(new Set(names).size, names.length, "each file is sent once");
    // The answer alone must be enough to rebuild the service, as a client's descriptor pool does.
    const byName = new Map(files.map((file) => [file.name, file]));
    const registry = createFileRegistry(files[0] as FileDescriptorProto, (name) => byName.get(name));
    const service = registry.getService("nexus.v1.ConnectionService");
    assert.ok(service?.methods.some((method) => method.name === "CheckConnection"));
  });

  test("nested symbols, file names and extensions resolve on one stream", async () => {
    const responses = await reflect(
      symbolRequest("nexus.v1.ConnectionService.GetConnection"),
      symbolRequest("nexus.v1.Connection.ParamsEntry"),
      symbolRequest("nexus.v1.CheckConnectionRequest.connection_id"),
      symbolRequest("nexus.v1.CONNECTION_STATUS_ACTIVE"),
      { messageRequest: { case: "fileByFilename", value: "google/protobuf/timestamp.proto" } },
      {
        messageRequest: { case: "allExtensionNumbersOfType", value: "google.protobuf.MethodOptions" },
      },
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: {
            containingType: "google.protobuf.MethodOptions",
            extensionNumber: HTTP_RULE_EXTENSION,
          },
        },
      },
    );
    const firstFile = (i: number) => filesOf(responses[i])[0]?.name;
    assert.equal(firstFile(0), "nexus/v1/connections.proto");
    assert.equal(firstFile(1), "nexus/v1/connections.proto");
    assert.equal(firstFile(2), "nexus/v1/connections.proto");
    assert.equal(firstFile(3), "nexus/v1/status.proto");
    assert.deepEqual(
      filesOf(responses[4]).map((file) => file.name),
      ["google/protobuf/timestamp.proto"],
    );
    const numbers = responses[5]?.messageResponse;
    assert.equal(numbers?.case, "allExtensionNumbersResponse");
    assert.equal(numbers.value.baseTypeName, "google.protobuf.MethodOptions");
    assert.ok(numbers.value.extensionNumber.includes(HTTP_RULE_EXTENSION));
    assert.equal(firstFile(6), "google/api/annotations.proto");
  });

  test("unknown names answer NOT_FOUND in the stream and the stream carries on", async () => {
    const responses = await reflect(
      symbolRequest("nexus.v1.NoSuchService"),
      { messageRequest: { case: "fileByFilename", value: "nexus/v1/missing.proto" } },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "nexus.v1.Nothing" } },
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "google.protobuf.MethodOptions", extensionNumber: 1 },
        },
      },
      { messageRequest: { case: "listServices", value: "" } },
    );
    assert.equal(responses.length, 5);
    for (const response of responses.slice(0, 4)) {
      assert.equal(response.messageResponse.case, "errorResponse");
      assert.equal(response.messageResponse.value.errorCode, Code.NotFound);
      assert.ok(response.originalRequest?.messageRequest.case, "original_request is echoed");
    }
    const list = responses[4]?.messageResponse;
    assert.equal(list?.case, "listServicesResponse");
    assert.equal(list.value.service.length, 3);
  });

  test("files no service imports (error details) resolve too, with their imports", async () => {
    const [info, reason, unknown] = await reflect(
      symbolRequest("nexus.v1.ErrorInfo"),
      symbolRequest("nexus.v1.ErrorReason"),
      symbolRequest("nexus.v1.NoSuchDetail"),
    );
    assert.deepEqual(
      filesOf(info).map((f) => f.name),
      ["nexus/v1/errors.proto", "nexus/v1/status.proto"],
    );
    assert.equal(filesOf(reason)[0]?.name, "nexus/v1/errors.proto");
    assert.equal(unknown?.messageResponse.case, "errorResponse");
  });
});
