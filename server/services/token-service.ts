/**
 * TokenService: hands out usage credentials (GetToken). Forced refresh and the watch stream arrive
 * with the refresh engine and say so with Unimplemented rather than fake data.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import type { CredentialSchema } from "../../gen/nexus/v1/credential_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { NotImplementedError } from "../domain/errors.ts";
import type { TokenReader } from "../tokens/token-reader.ts";
import type { UsageCredential } from "../tokens/usage-credential.ts";
import { strategyToProto } from "./strategy-proto.ts";
import type { TenantResolver } from "./tenant.ts";
import { requireId } from "./validate.ts";

/** Creates the TokenService implementation. */
export function createTokenService(deps: { tokens: TokenReader; tenantOf: TenantResolver }): ServiceImpl<typeof TokenService> {
  const { tokens, tenantOf } = deps;
  return {
    async getToken(req, ctx) {
      const usage = await tokens.read(tenantOf(ctx), requireId("connection_id", req.connectionId));
      return { credential: credentialToProto(usage) };
    },
    async refreshConnection(req, ctx) {
      await tokens.activeConnection(tenantOf(ctx), requireId("connection_id", req.connectionId));
      throw new NotImplementedError("RefreshConnection (refresh engine)");
    },
    async *watchCredentials(req, ctx) {
      await tokens.activeConnection(tenantOf(ctx), requireId("connection_id", req.connectionId));
      throw new NotImplementedError("WatchCredentials (refresh engine and watch hub)");
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
