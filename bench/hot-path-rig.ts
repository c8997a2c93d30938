/**
 * Sets up the GetToken hot path for load: a Nexus child with one active OAuth connection (valid
 * token, no refresh due), optionally the bare baseline answering with the very same response, the
 * request body files h2load sends, and a check that each endpoint really answers OK (grpc-status 0,
 * the expected access token) before any load is trusted.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, fromBinary, toBinary, toJson, toJsonString } from "@bufbuild/protobuf";
import { GetTokenRequestSchema, GetTokenResponseSchema } from "../gen/nexus/v1/tokens_pb.ts";
import { BARE_CHILD_SCRIPT, type BareChildConfig, type BareChildReady } from "./bare-token-server.ts";
import type { BenchContext } from "./bench-context.ts";
import { createBenchSecrets } from "./bench-env.ts";
import { type ChildHandle, forkChild } from "./child-channel.ts";
import { grpcFrame, h2Call } from "./h2-call.ts";
import { NEXUS_CHILD_SCRIPT, type NexusChildConfig, type NexusChildReady } from "./nexus-child.ts";

const GET_TOKEN_PATH = "/nexus.v1.TokenService/GetToken";

/** One side of a comparison: where to send what. */
export interface HotPathTarget {
  /** h2c base URL (gRPC, Connect). */
  h2Url: string;
  /** HTTP/1.1 URL of a GetToken that needs no body (REST for Nexus, Connect GET for the baseline). */
  h1GetUrl: string;
  headers: Record<string, string>;
  /** The server process (for its CPU time); the bare baseline and the floor share one. */
  pid: number;
}

/** The prepared hot path. */
export interface HotPathRig {
  nexus: HotPathTarget;
  /** Present when started with the baseline. */
  bare: HotPathTarget | undefined;
  /** The physical floor (raw node:http2 / node:http, pre-encoded response); with the baseline. */
  raw: HotPathTarget | undefined;
  /** Request body files and the headers that go with them. */
  grpc: { bodyFile: string; path: string; headers: Record<string, string> };
  connect: { bodyFile: string; path: string; headers: Record<string, string> };
  stop(): Promise<void>;
}

/** Starts Nexus (with `nexusExecArgv`, e.g. --cpu-prof) and, when asked, the bare baseline. */
export async function startHotPathRig(
  context: BenchContext,
  options: { withBaseline: boolean; nexusExecArgv?: string[] },
): Promise<HotPathRig> {
  const nexus = await forkChild<NexusChildReady>(
    NEXUS_CHILD_SCRIPT,
    {
      secrets: createBenchSecrets(),
      seed: { count: 1, tokenEndpoint: "http://127.0.0.1:9/token", expiresInS: 3600, withRefreshToken: false },
    } satisfies NexusChildConfig,
    { execArgv: options.nexusExecArgv },
  );
  const children: ChildHandle<unknown>[] = [nexus];
  try {
    const connectionId = nexus.ready.connectionIds[0] ?? "";
    const request = create(GetTokenRequestSchema, { connectionId });
    const grpc = {
      bodyFile: join(context.scratchDir, "get-token.grpc"),
      path: GET_TOKEN_PATH,
      headers: { "content-type": "application/grpc", te: "trailers" },
    };
    const connect = {
      bodyFile: join(context.scratchDir, "get-token.json"),
      path: GET_TOKEN_PATH,
      headers: { "content-type": "application/json" },
    };
    writeFileSync(grpc.bodyFile, grpcFrame(toBinary(GetTokenRequestSchema, request)));
    writeFileSync(connect.bodyFile, toJsonString(GetTokenRequestSchema, request));

    const nexusTarget: HotPathTarget = {
      h2Url: `http://127.0.0.1:${nexus.ready.port}`,
      h1GetUrl: `http://127.0.0.1:${nexus.ready.port}/v1/token/${connectionId}`,
      headers: { authorization: `Bearer ${nexus.ready.agentKey}` },
      pid: nexus.pid,
    };
    const reference = await checkGrpc(nexusTarget, grpc);
    await checkConnect(nexusTarget, connect);
    await checkGet(nexusTarget);

    let bareTarget: HotPathTarget | undefined;
    let rawTarget: HotPathTarget | undefined;
    if (options.withBaseline) {
      const bare = await forkChild<BareChildReady>(BARE_CHILD_SCRIPT, {
        getTokenResponse: toJson(GetTokenResponseSchema, reference),
      } satisfies BareChildConfig);
      children.push(bare);
      const message = encodeURIComponent(toJsonString(GetTokenRequestSchema, request));
      bareTarget = {
        h2Url: `http://127.0.0.1:${bare.ready.h2Port}`,
        h1GetUrl: `http://127.0.0.1:${bare.ready.h1Port}${GET_TOKEN_PATH}?connect=v1&encoding=json&message=${message}`,
        // Sent although ignored, so both sides receive the same request bytes.
        headers: { authorization: `Bearer ${nexus.ready.agentKey}` },
        pid: bare.pid,
      };
      const bareAnswer = await checkGrpc(bareTarget, grpc);
      if (toBinary(GetTokenResponseSchema, bareAnswer).length !== toBinary(GetTokenResponseSchema, reference).length) {
        throw new Error("the baseline's GetToken response differs in size from Nexus's");
      }
      await checkConnect(bareTarget, connect);
      await checkGet(bareTarget);
      rawTarget = {
        h2Url: `http://127.0.0.1:${bare.ready.rawH2Port}`,
        h1GetUrl: `http://127.0.0.1:${bare.ready.rawH1Port}/v1/token/${connectionId}`,
        headers: bareTarget.headers,
        pid: bare.pid,
      };
      const rawAnswer = await checkGrpc(rawTarget, grpc);
      if (toBinary(GetTokenResponseSchema, rawAnswer).length !== toBinary(GetTokenResponseSchema, reference).length) {
        throw new Error("the raw floor's GetToken response differs in size from Nexus's");
      }
      await checkConnect(rawTarget, connect);
      await checkGet(rawTarget);
    }
    context.progress(
      `hot path: Nexus pid ${nexus.pid} on ${nexusTarget.h2Url}${bareTarget ? `, bare baseline on ${bareTarget.h2Url}` : ""}`,
    );
    return {
      nexus: nexusTarget,
      bare: bareTarget,
      raw: rawTarget,
      grpc,
      connect,
      stop: async () => {
        await Promise.all(children.map((child) => child.stop()));
      },
    };
  } catch (err) {
    await Promise.all(children.map((child) => child.stop()));
    throw err;
  }
}

async function checkGrpc(target: HotPathTarget, grpc: HotPathRig["grpc"]) {
  const res = await h2Call(target.h2Url, grpc.path, { ...grpc.headers, ...target.headers }, readFileSync(grpc.bodyFile));
  const status = res.trailers["grpc-status"] ?? res.headers["grpc-status"];
  if (res.status !== 200 || status !== "0") {
    throw new Error(
      `gRPC GetToken on ${target.h2Url} failed: HTTP ${res.status}, grpc-status ${String(status)} ${String(res.trailers["grpc-message"] ?? "")}`,
    );
  }
  const response = fromBinary(GetTokenResponseSchema, res.body.subarray(5));
  if (!response.credential?.credentials?.access_token) throw new Error(`gRPC GetToken on ${target.h2Url} returned no access token`);
  return response;
}

async function checkConnect(target: HotPathTarget, connect: HotPathRig["connect"]) {
  const res = await h2Call(target.h2Url, connect.path, { ...connect.headers, ...target.headers }, readFileSync(connect.bodyFile));
  if (res.status !== 200 || !res.body.toString().includes("access_token")) {
    throw new Error(`Connect GetToken on ${target.h2Url} failed: HTTP ${res.status} ${res.body.toString().slice(0, 200)}`);
  }
}

async function checkGet(target: HotPathTarget) {
  const res = await fetch(target.h1GetUrl, { headers: target.headers });
  const text = await res.text();
  if (res.status !== 200 || !text.includes("access_token"))
    throw new Error(`GET ${target.h1GetUrl} failed: HTTP ${res.status} ${text.slice(0, 200)}`);
}
