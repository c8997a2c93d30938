/**
 * The admin services whose behaviour is not built yet: providers (connect-flow work) and API keys
 * and audit (access-control work). Every method answers Unimplemented naming what is missing.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { NotImplementedError } from "../domain/errors.ts";

const missing = (feature: string) => async (): Promise<never> => {
  throw new NotImplementedError(feature);
};

/** ProviderService: every method Unimplemented for now. */
export function createProviderService(): ServiceImpl<typeof ProviderService> {
  return {
    createProvider: missing("CreateProvider (provider profiles)"),
    getProvider: missing("GetProvider (provider profiles)"),
    listProviders: missing("ListProviders (provider profiles)"),
    updateProvider: missing("UpdateProvider (provider profiles)"),
    deleteProvider: missing("DeleteProvider (provider profiles)"),
    listCatalogProviders: missing("ListCatalogProviders (shipped provider catalog)"),
  };
}

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
