/**
 * ProviderService: translates proto requests to provider-directory and catalog calls and stored
 * providers back to proto. The client secret is taken from `oauth.client_secret` on input and
 * handed to the directory; it is never put in a response, an error or a log line.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import { presentPaths, profileToProto, providerFromProto, storedProviderToProto } from "../proto-mapping/proto-profile.ts";
import type { ProviderCatalog } from "../providers/catalog.ts";
import type { ProviderDirectory } from "../providers/provider-directory.ts";

/** Creates the ProviderService implementation. */
export function createProviderService(deps: {
  directory: ProviderDirectory;
  catalog: ProviderCatalog;
}): ServiceImpl<typeof ProviderService> {
  const { directory, catalog } = deps;
  return {
    async createProvider(req) {
      if (req.provider === undefined) throw new InvalidArgumentError("provider", "is required");
      const input = providerFromProto(req.provider);
      const stored = await directory.create(input, req.provider.oauth?.clientSecret || undefined);
      return { provider: storedProviderToProto(stored) };
    },
    async getProvider(req) {
      return { provider: storedProviderToProto(await directory.get(requireName("name", req.name))) };
    },
    async listProviders(req) {
      const page = await directory.list({ pageSize: req.pageSize, pageToken: req.pageToken });
      return { providers: page.items.map(storedProviderToProto), nextPageToken: page.nextPageToken };
    },
    async updateProvider(req) {
      if (req.provider === undefined) throw new InvalidArgumentError("provider", "is required");
      const name = requireName("provider.name", req.provider.name);
      const maskPaths = req.updateMask?.paths ?? [];
      const stored = await directory.update(name, {
        patch: providerFromProto(req.provider),
        paths: maskPaths.length > 0 ? maskPaths : presentPaths(req.provider),
        clientSecret: req.provider.oauth?.clientSecret,
      });
      return { provider: storedProviderToProto(stored) };
    },
    async deleteProvider(req) {
      await directory.delete(requireName("name", req.name), req.force);
      return {};
    },
    async listCatalogProviders(req) {
      return { providers: catalog.list(req.category).map((preset) => profileToProto(preset)) };
    },
  };
}

function requireName(field: string, name: string): string {
  if (name === "") throw new InvalidArgumentError(field, "is required");
  if (name.length > 64) throw new InvalidArgumentError(field, "must be at most 64 characters");
  return name;
}
