/**
 * Registers every service implementation on a ConnectRouter. Knows nothing about HTTP servers;
 * the same function feeds the Node adapter and the in-process router transport used by REST.
 */
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";

/** The Nexus API services, in the order they are listed by reflection. */
export const NEXUS_SERVICES: readonly DescService[] = [
  ConnectionService,
  TokenService,
  ProviderService,
  ApiKeyService,
  AuditService,
];

/** One implementation per service. */
export interface ServiceImpls {
  connections: ServiceImpl<typeof ConnectionService>;
  tokens: ServiceImpl<typeof TokenService>;
  providers: ServiceImpl<typeof ProviderService>;
  apiKeys: ServiceImpl<typeof ApiKeyService>;
  audit: ServiceImpl<typeof AuditService>;
  health: ServiceImpl<typeof Health>;
  reflection: ServiceImpl<typeof ServerReflection>;
}

/** Returns the routes function for `connectNodeAdapter` / `createRouterTransport`. */
export function createRoutes(impls: ServiceImpls): (router: ConnectRouter) => void {
  return (router) => {
    router.service(ConnectionService, impls.connections);
    router.service(TokenService, impls.tokens);
    router.service(ProviderService, impls.providers);
    router.service(ApiKeyService, impls.apiKeys);
    router.service(AuditService, impls.audit);
    router.service(Health, impls.health);
    router.service(ServerReflection, impls.reflection);
  };
}
