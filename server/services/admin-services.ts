/**
 * The admin services whose behaviour is not built yet: API keys and audit (access-control work).
 * Every method answers Unimplemented naming what is missing.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { NotImplementedError } from "../domain/errors.ts";

const missing = (feature: string) => async (): Promise<never> => {
  throw new NotImplementedError(feature);
};

/** ApiKeyService: every method Unimplemented for now. */
export function createApiKeyService(): ServiceImpl<typeof ApiKeyService> {
  return {
    createApiKey: missing("CreateApiKey (API keys)"),
    listApiKeys: missing("ListApiKeys (API keys)"),
    revokeApiKey: missing("RevokeApiKey (API keys)"),
  };
}

/** AuditService: every method Unimplemented for now. */
export function createAuditService(): ServiceImpl<typeof AuditService> {
  return { listAuditEvents: missing("ListAuditEvents (audit log)") };
}
