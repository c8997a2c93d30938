/**
 * Sends one RPC the three ways a client can (REST by its google.api.http path, Connect JSON, gRPC
 * binary) through the raw client, so a test can check that every protocol answers the same input
 * the same way. The request is given once, as proto JSON; `rest` says how REST reaches it.
 */
import { type DescMethod, fromJson, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { NEXUS_SERVICES } from "../../server/rpc/routes.ts";
import type { RawClient } from "./raw-client.ts";
import { envelope, outcomeOf, type WireOutcome } from "./wire-outcome.ts";

/** A protocol family. */
export type Protocol = "rest" | "connect" | "grpc";
/** The three families every parity test walks. */
export const PROTOCOLS: readonly Protocol[] = ["rest", "connect", "grpc"];

/** One call, described once for every protocol. */
export interface CallSpec {
  /** "Service/Method", e.g. "ConnectionService/RequestConnection". */
  rpc: string;
  json: JsonObject;
  rest: { method: string; path: string; body?: JsonObject };
  headers: Record<string, string>;
}

/** Finds the method descriptor of "Service/Method". */
export function methodOf(rpc: string): DescMethod {
  const [service, method] = rpc.split("/");
  const found = NEXUS_SERVICES.find((s) => s.name === service)?.methods.find((m) => m.name === method);
  if (found === undefined) throw new Error(`no RPC ${rpc}`);
  return found;
}

/** Sends the call over `protocol` and decodes the outcome. */
export async function callOver(client: RawClient, protocol: Protocol, spec: CallSpec): Promise<WireOutcome> {
  const method = methodOf(spec.rpc);
  const path = `/${method.parent.typeName}/${method.name}`;
  if (protocol === "rest") {
    const body = spec.rest.body === undefined ? undefined : Buffer.from(JSON.stringify(spec.rest.body));
    const headers = { ...spec.headers, ...(body === undefined ? {} : { "content-type": "application/json" }) };
    return outcomeOf(await client.send({ transport: "h1", method: spec.rest.method, path: spec.rest.path, headers, body }, 60_000));
  }
  if (protocol === "connect") {
    const headers = { ...spec.headers, "content-type": "application/json" };
    return outcomeOf(
      await client.send({ transport: "h2", method: "POST", path, headers, body: Buffer.from(JSON.stringify(spec.json)) }, 60_000),
    );
  }
  const bytes = toBinary(method.input, fromJson(method.input, spec.json));
  const headers = { ...spec.headers, "content-type": "application/grpc", te: "trailers" };
  return outcomeOf(await client.send({ transport: "h2", method: "POST", path, headers, body: envelope(bytes) }, 60_000));
}
