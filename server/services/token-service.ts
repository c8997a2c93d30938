/**
 * TokenService: hands out usage credentials. The connection lookup and state checks are real;
 * serving, refreshing and watching stored credentials arrive with the vault-backed OAuth flow and
 * the refresh engine, and say so with Unimplemented rather than fake data.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { ConnectionNotUsableError, NotImplementedError } from "../domain/errors.ts";
import type { Store } from "../store/store.ts";
import type { TenantResolver } from "./tenant.ts";
import { requireId } from "./validate.ts";

/** Creates the TokenService implementation. */
export function createTokenService(deps: { store: Store; tenantOf: TenantResolver }): ServiceImpl<typeof TokenService> {
  const { store, tenantOf } = deps;
  /** Loads the connection and refuses any that is not active, as every token RPC must. */
  const activeConnection = async (connectionId: string, tenantId: string) => {
    const record = await store.getConnection(tenantId, requireId("connection_id", connectionId));
    if (record.status !== "active") throw new ConnectionNotUsableError(record.id, record.status);
    return record;
  };
  return {
    async getToken(req, ctx) {
      await activeConnection(req.connectionId, tenantOf(ctx));
      throw new NotImplementedError("GetToken for active connections (credential vault)");
    },
    async refreshConnection(req, ctx) {
      await activeConnection(req.connectionId, tenantOf(ctx));
      throw new NotImplementedError("RefreshConnection (refresh engine)");
    },
    async *watchCredentials(req, ctx) {
      await activeConnection(req.connectionId, tenantOf(ctx));
      throw new NotImplementedError("WatchCredentials (refresh engine and watch hub)");
    },
  };
}
