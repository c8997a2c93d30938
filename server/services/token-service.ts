/**
 * TokenService: hands out usage credentials (GetToken), forces refreshes (RefreshConnection) and
 * streams them (WatchCredentials). Proto ⇄ domain translation only; the refresh engine and the
 * watch streams do the work.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { CredentialSchema } from "../../gen/nexus/v1/credential_pb.ts";
import type { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import type { TenantScope } from "../auth/tenant-scope.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { connectionStatusToProto } from "../proto-mapping/connection-status-proto.ts";
import { strategyToProto } from "../proto-mapping/strategy-proto.ts";
import type { Store } from "../store/store.ts";
import type { TokenReader } from "../tokens/token-reader.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import type { CredentialWatch } from "../watch/credential-watch.ts";
import { requireId } from "./request-fields.ts";

/** Creates the TokenService implementation. */
export function createTokenService(deps: {
  tokens: TokenReader;
  scope: TenantScope;
  store: Store;
  watch: CredentialWatch;
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
      for await (const event of deps.watch.watch(connection, Number(req.afterVersion), ctx.signal)) {
        switch (event.type) {
          case "credential":
            // A key revoked or expired since the stream opened gets nothing more, not even an audit row.
            deps.assertMayReceive?.(ctx);
            deps.onCredentialDelivered?.(ctx, event.credential);
            yield { event: { case: "credential", value: credentialToProto(event.credential) } };
            break;
          case "status":
            yield {
              event: {
                case: "status",
                value: { status: connectionStatusToProto(event.status), reason: event.reason ?? "" },
              },
            };
            break;
          case "heartbeat":
            yield { event: { case: "heartbeat", value: { serverTime: BigInt(Math.floor(event.serverTimeMs / 1000)) } } };
            break;
          default: {
            const unreachable: never = event;
            return unreachable;
          }
        }
      }
    },
  };
}

/** The proto Credential of a usage credential. */
export function credentialToProto(usage: UsageCredential): MessageInitShape<typeof CredentialSchema> {
  return {
    connectionId: usage.connectionId,
    strategy: strategyToProto(usage.strategy),
    credentials: usage.credentials,
    expiresAt: BigInt(usage.expiresAtSeconds ?? 0),
    version: BigInt(usage.version),
  };
}
