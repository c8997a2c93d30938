/**
 * gRPC server reflection (grpc.reflection.v1) answered from the generated protobuf-es descriptors,
 * so tools such as `buf curl` and grpcurl can discover and call Nexus without local .proto files.
 * It owns the symbol index and the descriptor encoding; it must not know which services exist
 * beyond what it is given, and it never touches request routing.
 * @see https://github.com/grpc/grpc/blob/master/doc/server-reflection.md
 */

import type { DescEnum, DescExtension, DescFile, DescMessage, DescService, MessageInitShape } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import type { ServerReflectionRequest, ServerReflectionResponseSchema } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";

/** Options for {@link createReflectionService}. */
export interface ReflectionServiceOptions {
  /**
   * The services registered on the router, as generated `GenService` descriptors. list_services
   * reports exactly these plus grpc.reflection.v1.ServerReflection itself; their files and every
   * transitive import (google/api, google/protobuf well-known types) become resolvable.
   */
  services: readonly DescService[];
  /**
   * Further files to make resolvable although no service imports them: the types sent as error
   * details (nexus.v1.ErrorInfo, google.rpc.RetryInfo), so reflection-only clients can decode them.
   */
  files?: readonly DescFile[];
}

/** The oneof part of a reflection response: what one request is answered with. */
type Answer = MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"];

/** Everything reflection can answer, indexed once when the service is created. */
interface DescriptorIndex {
  serviceNames: string[];
  fileByName: Map<string, DescFile>;
  fileBySymbol: Map<string, DescFile>;
  messageNames: Set<string>;
  /** Extendee full name → its extensions, keyed by field number. */
  extensionsByType: Map<string, Map<number, DescFile>>;
}

/**
 * Creates the grpc.reflection.v1.ServerReflection implementation for
 * `router.service(ServerReflection, impl)`.
 *
 * File answers carry the requested file first, then all of its transitive imports, each as
 * serialized FileDescriptorProto bytes: clients build a descriptor pool from one answer, and
 * sending the whole closure every time is always correct (the protocol allows, but does not
 * require, omitting files already sent on the stream). Lookups that fail answer with an
 * error_response (NOT_FOUND) in the stream and keep the stream open, as grpc-go does.
 *
 * @example
 * const reflection = createReflectionService({ services: [ConnectionService, Health] });
 * router.service(ServerReflection, reflection);
 */
export function createReflectionService(options: ReflectionServiceOptions): ServiceImpl<typeof ServerReflection> {
  const index = indexDescriptors([...options.services, ServerReflection], options.files ?? []);
  const encoded = new Map<DescFile, Uint8Array>();
  const encode = (file: DescFile): Uint8Array => {
    let bytes = encoded.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      encoded.set(file, bytes);
    }
    return bytes;
  };
  const fileResponse = (file: DescFile): Answer => ({
    case: "fileDescriptorResponse",
    value: { fileDescriptorProto: transitiveFiles(file).map(encode) },
  });

  const answer = (request: ServerReflectionRequest): Answer => {
    const req = request.messageRequest;
    switch (req.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: index.serviceNames.map((name) => ({ name })) },
        };
      case "fileByFilename": {
        const file = index.fileByName.get(req.value);
        return file ? fileResponse(file) : notFound(`file "${req.value}" not found`);
      }
      case "fileContainingSymbol": {
        const file = index.fileBySymbol.get(stripLeadingDot(req.value));
        return file ? fileResponse(file) : notFound(`symbol "${req.value}" not found`);
      }
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = req.value;
        const file = index.extensionsByType.get(stripLeadingDot(containingType))?.get(extensionNumber);
        return file ? fileResponse(file) : notFound(`extension ${extensionNumber} of "${containingType}" not found`);
      }
      case "allExtensionNumbersOfType": {
        const baseTypeName = stripLeadingDot(req.value);
        if (!index.messageNames.has(baseTypeName)) {
          return notFound(`message type "${req.value}" not found`);
        }
        const numbers = [...(index.extensionsByType.get(baseTypeName)?.keys() ?? [])];
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName, extensionNumber: numbers.sort((a, b) => a - b) },
        };
      }
      case undefined:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "message_request is not set" },
        };
    }
  };

  return {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(request),
        };
      }
    },
  };
}

function notFound(errorMessage: string): Answer {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage } };
}

/** Clients send fully-qualified names with or without the leading dot of descriptor type refs. */
function stripLeadingDot(name: string): string {
  return name.startsWith(".") ? name.slice(1) : name;
}

/** The file itself, then every file it imports, directly or not, each once. */
function transitiveFiles(root: DescFile): DescFile[] {
  const seen = new Set<DescFile>();
  const visit = (file: DescFile): void => {
    if (seen.has(file)) return;
    seen.add(file);
    file.dependencies.forEach(visit);
  };
  visit(root);
  return [...seen];
}

/** Walks the services' files and their imports once, so every request is a map lookup. */
function indexDescriptors(services: readonly DescService[], extraFiles: readonly DescFile[]): DescriptorIndex {
  const serviceNames = [...new Set(services.map((service) => service.typeName))];
  const fileByName = new Map<string, DescFile>();
  const fileBySymbol = new Map<string, DescFile>();
  const messageNames = new Set<string>();
  const extensionsByType = new Map<string, Map<number, DescFile>>();

  const addExtension = (file: DescFile, ext: DescExtension): void => {
    fileBySymbol.set(ext.typeName, file);
    const byNumber = extensionsByType.get(ext.extendee.typeName) ?? new Map<number, DescFile>();
    byNumber.set(ext.number, file);
    extensionsByType.set(ext.extendee.typeName, byNumber);
  };
  const addEnum = (file: DescFile, desc: DescEnum): void => {
    fileBySymbol.set(desc.typeName, file);
    // Enum values are scoped as siblings of their enum (protobuf name resolution rules).
    const scope = desc.typeName.slice(0, desc.typeName.length - desc.name.length);
    for (const value of desc.values) fileBySymbol.set(scope + value.name, file);
  };
  const addMessage = (file: DescFile, message: DescMessage): void => {
    fileBySymbol.set(message.typeName, file);
    messageNames.add(message.typeName);
    for (const field of message.fields) fileBySymbol.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) fileBySymbol.set(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) addMessage(file, nested);
    // protobuf-es hides synthetic map entry messages (a field of kind "map" stands in for them),
    // but they are real messages in the FileDescriptorProto that clients may ask about.
    for (const entry of message.proto.nestedType.filter((type) => type.options?.mapEntry)) {
      const entryName = `${message.typeName}.${entry.name}`;
      fileBySymbol.set(entryName, file);
      messageNames.add(entryName);
      for (const field of entry.field) fileBySymbol.set(`${entryName}.${field.name}`, file);
    }
    for (const nested of message.nestedEnums) addEnum(file, nested);
    for (const ext of message.nestedExtensions) addExtension(file, ext);
  };

  const roots = [...services.map((service) => service.file), ...extraFiles];
  for (const file of roots.flatMap(transitiveFiles)) {
    if (fileByName.has(file.proto.name)) continue;
    fileByName.set(file.proto.name, file);
    for (const message of file.messages) addMessage(file, message);
    for (const desc of file.enums) addEnum(file, desc);
    for (const ext of file.extensions) addExtension(file, ext);
    for (const service of file.services) {
      fileBySymbol.set(service.typeName, file);
      for (const method of service.methods) {
        fileBySymbol.set(`${service.typeName}.${method.name}`, file);
      }
    }
  }
  return { serviceNames, fileByName, fileBySymbol, messageNames, extensionsByType };
}
