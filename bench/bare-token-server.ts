/**
 * The baseline every ratio is measured against: a bare connect-node server (no auth, store, vault,
 * audit or interceptors) serving TokenService.GetToken with the exact response Nexus gave, and
 * WatchCredentials streaming from an in-memory EventEmitter. HTTP/2 cleartext for gRPC/Connect,
 * a plain HTTP/1.1 server for the REST comparison. Run by `forkChild`, never directly.
 */
import { EventEmitter, on } from "node:events";
import http from "node:http";
import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { type Credential, CredentialSchema } from "../gen/nexus/v1/credential_pb.ts";
import { GetTokenResponseSchema, TokenService } from "../gen/nexus/v1/tokens_pb.ts";
import { serveParent, settledRss } from "./child-channel.ts";

/** What the bench gives the baseline. */
export interface BareChildConfig {
  /** A GetTokenResponse as Nexus answered it (proto JSON): the baseline sends the same bytes. */
  getTokenResponse: JsonValue;
}

/** Where the baseline listens. */
export interface BareChildReady {
  /** HTTP/2 cleartext (gRPC, Connect). */
  h2Port: number;
  /** HTTP/1.1 (Connect GET, the REST comparison). */
  h1Port: number;
}

/** The script to fork. */
export const BARE_CHILD_SCRIPT = import.meta.filename;

async function main(config: BareChildConfig): Promise<void> {
  const response = fromJson(GetTokenResponseSchema, config.getTokenResponse);
  const template = response.credential ?? create(CredentialSchema);
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const versions = new Map<string, bigint>();
  const credentialOf = (connectionId: string): Credential =>
    create(CredentialSchema, { ...template, connectionId, version: versions.get(connectionId) ?? template.version });

  const routes = (router: ConnectRouter) =>
    router.service(TokenService, {
      getToken: () => response,
      async *watchCredentials(req, ctx) {
        // Subscribe before sending the current credential, as Nexus does, so nothing is missed.
        const updates = on(events, req.connectionId, { signal: ctx.signal });
        yield { event: { case: "credential", value: credentialOf(req.connectionId) } };
        try {
          for await (const [credential] of updates) yield { event: { case: "credential", value: credential as Credential } };
        } catch (err) {
          if (!ctx.signal.aborted) throw err;
        }
      },
    });
  const adapter = connectNodeAdapter({ routes });
  const h2 = http2.createServer(adapter);
  const h1 = http.createServer(adapter);
  await Promise.all([new Promise<void>((r) => h2.listen(0, "127.0.0.1", r)), new Promise<void>((r) => h1.listen(0, "127.0.0.1", r))]);
  serveParent(
    { h2Port: (h2.address() as AddressInfo).port, h1Port: (h1.address() as AddressInfo).port } satisfies BareChildReady,
    {
      rss: () => settledRss(),
      rotate: (args) => {
        const started = performance.now();
        const saved = (args as string[]).map((id) => {
          const version = (versions.get(id) ?? template.version) + 1n;
          versions.set(id, version);
          events.emit(id, credentialOf(id));
          return Number(version);
        });
        return { versions: saved, elapsedMs: performance.now() - started };
      },
    },
    async () => {
      h1.closeAllConnections();
      await Promise.all([new Promise((r) => h1.close(r)), new Promise((r) => h2.close(r))]);
    },
  );
}

if (import.meta.main) {
  main(JSON.parse(process.argv[2] ?? "{}") as BareChildConfig).catch((err: unknown) => {
    process.stderr.write(`bare bench child failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  });
}
