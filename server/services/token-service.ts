/**
 * TokenService: hands out usage credentials (GetToken), forces refreshes (RefreshConnection) and
 * streams them (WatchCredentials). Proto ⇄ domain translation only; the refresh engine and the
 * watch streams do the work.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { TokenService, WatchCredentialsResponseSchema } from "../../gen/nexus/v1/tokens_pb.ts";
import type { TenantScope } from "../auth/tenant-scope.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { kRawStream } from "../request/context.ts";
import type { Store } from "../store/store.ts";
import type { TokenReader } from "../tokens/token-reader.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import type { CredentialWatch, CredentialWatchEvent } from "../watch/credential-watch.ts";
import { requireId } from "./request-fields.ts";
import type { WatchFanout } from "./watch-fanout.ts";
import { credentialToProto, watchEventToProto } from "./watch-proto.ts";

export { credentialToProto } from "./watch-proto.ts";

/** Creates the TokenService implementation. */
export function createTokenService(deps: {
  tokens: TokenReader;
  scope: TenantScope;
  store: Store;
  watch: CredentialWatch;
  /** Streams with a raw wire (kRawStream) are served by the fan-out after their first message. */
  fanout?: WatchFanout;
  /** Throws when the caller may no longer receive credentials (its key was revoked or expired). */
  assertMayReceive?: (ctx: HandlerContext) => void;
  /** Told about each credential a watch stream delivers (the audit log records every read). */
  onCredentialDelivered?: (ctx: HandlerContext, credential: UsageCredential) => void;
}): ServiceImpl<typeof TokenService> {
  const { tokens, scope } = deps;
  /** The validated id and the tenant the caller reaches it in (see server/auth/tenant-scope.ts). */
  const target = async (ctx: HandlerContext, connectionId: string) => {
    const id = requireId("connection_id", connectionId);
    return { id, tenantId: await scope.tenantOfConnection(ctx, id) };
  };
  return {
    async getToken(req, ctx) {
      const { id, tenantId } = await target(ctx, req.connectionId);
      const usage = await tokens.read(tenantId, id);
      return { credential: credentialToProto(usage) };
    },
    async refreshConnection(req, ctx) {
      const { id, tenantId } = await target(ctx, req.connectionId);
      return { credential: credentialToProto(await tokens.refresh(tenantId, id)) };
    },
    async *watchCredentials(req, ctx) {
      const { id, tenantId } = await target(ctx, req.connectionId);
      if (req.afterVersion < 0n) throw new InvalidArgumentError("after_version", "must not be negative");
      const connection = await deps.store.getConnection(tenantId, id);
      const afterVersion = Number(req.afterVersion);
      const sink = ctx.values.get(kRawStream);
      const fanout = deps.fanout;
      if (sink === undefined || fanout === undefined) {
        for await (const event of deps.watch.watch(connection, afterVersion, ctx.signal)) yield toProto(ctx, event);
        return;
      }
      // The first events go out through connect-es (they send the response headers); then the
      // stream is handed to the fan-out, which writes later events to its wire until it ends.
      const { watcher, first, end } = await fanout.open(connection, afterVersion, sink, ctx);
      try {
        for (let i = 0; i < first.length; i += 1) {
          const message = toProto(ctx, first[i]!);
          // A transport that writes messages itself attaches the stream once the last one is out.
          if (i === first.length - 1 && end === undefined && sink.handover !== undefined)
            sink.handover.attach = () => fanout.attach(watcher);
          yield message;
        }
        if (end !== undefined) throw end;
        if (first.length > 0) {
          await fanout.attach(watcher);
          return;
        }
      } finally {
        fanout.leave(watcher);
      }
      // Resumed with nothing new yet: no message has sent the headers, so the stream stays on the
      // per-stream path.
      for await (const event of deps.watch.watch(connection, afterVersion, ctx.signal)) yield toProto(ctx, event);
    },
  };

  function toProto(ctx: HandlerContext, event: CredentialWatchEvent): MessageInitShape<typeof WatchCredentialsResponseSchema> {
    if (event.type !== "credential") return watchEventToProto(event);
    // A key revoked or expired since the stream opened gets nothing more, not even an audit row.
    deps.assertMayReceive?.(ctx);
    deps.onCredentialDelivered?.(ctx, event.credential);
    return { event: { case: "credential", value: credentialToProto(event.credential) } };
  }
}
