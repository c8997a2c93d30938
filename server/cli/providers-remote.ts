/**
 * The CLI's side of the ProviderService: a typed Connect client over HTTP/1.1 that sends the API
 * key as a bearer token, and the two reads every plan needs — all configured providers (every
 * page) and the catalog presets as REST JSON.
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Provider, ProviderSchema, ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { toRestJson } from "../rest/rest-json.ts";

/** A typed ProviderService client. */
export type ProviderClient = Client<typeof ProviderService>;

/** Creates a client for the server at `baseUrl`; `apiKey` goes in `Authorization: Bearer …`. */
export function createProviderClient(options: { baseUrl: string; apiKey?: string }): ProviderClient {
  const interceptors: Interceptor[] = [];
  const { apiKey } = options;
  if (apiKey !== undefined && apiKey !== "") {
    interceptors.push((next) => (req) => {
      req.header.set("authorization", `Bearer ${apiKey}`);
      return next(req);
    });
  }
  return createClient(ProviderService, createConnectTransport({ baseUrl: options.baseUrl, httpVersion: "1.1", interceptors }));
}

/** Every provider configured on the server, following page tokens. */
export async function listAllProviders(client: ProviderClient): Promise<Provider[]> {
  const all: Provider[] = [];
  let pageToken = "";
  do {
    const page = await client.listProviders({ pageSize: 500, pageToken });
    all.push(...page.providers);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return all;
}

/** The server's catalog presets by name, as REST JSON (the shape a providers file uses). */
export async function catalogPresets(client: ProviderClient): Promise<Map<string, JsonObject>> {
  const { providers } = await client.listCatalogProviders({});
  return new Map(providers.map((p) => [p.name, toRestJson(ProviderSchema, p) as JsonObject]));
}
