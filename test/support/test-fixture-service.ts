/**
 * Test support only: a one-method service `t.v1.S/M` whose google.api.http rule each test chooses,
 * built from a FileDescriptorProto so rules the Nexus protos do not use (bad ones included) can be
 * exercised. Not imported by server code.
 */
import { create, createFileRegistry, type DescService, type MessageInitShape, setExtension } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  file_google_protobuf_timestamp,
  FieldDescriptorProto_Label as Label,
  MethodOptionsSchema,
  FieldDescriptorProto_Type as Type,
} from "@bufbuild/protobuf/wkt";
import { file_google_api_annotations, http } from "../../gen/google/api/annotations_pb.ts";
import { HttpRuleSchema } from "../../gen/google/api/http_pb.ts";
import { file_nexus_v1_status } from "../../gen/nexus/v1/status_pb.ts";

/** The rule to put on `t.v1.S/M`. */
export type FixtureRule = MessageInitShape<typeof HttpRuleSchema>;

const field = (name: string, number: number, type: Type, extra: { repeated?: boolean; typeName?: string } = {}) => ({
  name,
  number,
  jsonName: name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()),
  type,
  typeName: extra.typeName,
  label: extra.repeated === true ? Label.REPEATED : Label.OPTIONAL,
});

/**
 * Creates the fixture service. Its request `t.v1.Req` has: id (string), tags (repeated string),
 * sub (t.v1.Sub: name, count int64), count (int64), flag (bool), status and statuses
 * (nexus.v1.ConnectionStatus, singular and repeated), when (Timestamp). Its response `t.v1.Res`
 * has text (string) and sub (t.v1.Sub).
 */
export function createFixtureService(rule: FixtureRule): DescService {
  const options = create(MethodOptionsSchema);
  setExtension(options, http, create(HttpRuleSchema, rule));
  const file = create(FileDescriptorProtoSchema, {
    name: "t/v1/t.proto",
    package: "t.v1",
    syntax: "proto3",
    dependency: ["google/api/annotations.proto", "nexus/v1/status.proto", "google/protobuf/timestamp.proto"],
    messageType: [
      {
        name: "Req",
        field: [
          field("id", 1, Type.STRING),
          field("tags", 2, Type.STRING, { repeated: true }),
          field("sub", 3, Type.MESSAGE, { typeName: ".t.v1.Sub" }),
          field("count", 4, Type.INT64),
          field("flag", 5, Type.BOOL),
          field("status", 6, Type.ENUM, { typeName: ".nexus.v1.ConnectionStatus" }),
          field("statuses", 7, Type.ENUM, { typeName: ".nexus.v1.ConnectionStatus", repeated: true }),
          field("when", 8, Type.MESSAGE, { typeName: ".google.protobuf.Timestamp" }),
        ],
      },
      { name: "Sub", field: [field("name", 1, Type.STRING), field("count", 2, Type.INT64)] },
      { name: "Res", field: [field("text", 1, Type.STRING), field("sub", 2, Type.MESSAGE, { typeName: ".t.v1.Sub" })] },
    ],
    service: [{ name: "S", method: [{ name: "M", inputType: ".t.v1.Req", outputType: ".t.v1.Res", options }] }],
  });
  const deps = new Map([
    ["google/api/annotations.proto", file_google_api_annotations],
    ["nexus/v1/status.proto", file_nexus_v1_status],
    ["google/protobuf/timestamp.proto", file_google_protobuf_timestamp],
  ]);
  const service = createFileRegistry(file, (name) => deps.get(name)).getService("t.v1.S");
  if (service === undefined) throw new Error("fixture service t.v1.S missing");
  return service;
}
