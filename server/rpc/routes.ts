/**
 * Registers every service implementation on a ConnectRouter. Knows nothing about HTTP servers;
 * the same function feeds the Node adapter and the in-process router transport used by REST.
 */

import type { DescFile, DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, ServiceImpl } from "@connectrpc/connect";
import { file_google_rpc_error_details } from "../../gen/google/rpc/error_details_pb.ts";
import { Health } from "../../gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.ts";
import { ApiKeyService } from "../../gen/nexus/v1/api_keys_pb.ts";
import { AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import { ConnectionService } from "../../gen/nexus/v1/connections_pb.ts";
import { file_nexus_v1_errors } from "../../gen/nexus/v1/errors_pb.ts";
import { ConnectionEventService } from "../../gen/nexus/v1/events_pb.ts";
import { ProviderService } from "../../gen/nexus/v1/providers_pb.ts";
import { TokenService } from "../../gen/nexus/v1/tokens_pb.ts";
import { WebhookService } from "../../gen/nexus/v1/webhooks_pb.ts";

/** The Nexus API services, in the order they are listed by reflection. */
export const NEXUS_SERVICES: readonly DescService[] = [
  ConnectionService,
  TokenService,
  ProviderService,
  ApiKeyService,
  AuditService,
  ConnectionEventService,
  WebhookService,
];

/**
 * Files defining the messages errors carry as details (nexus.v1.ErrorInfo; google.rpc.RetryInfo on
 * rate limits). No service imports them, so reflection is told about them explicitly.
 */
export const ERROR_DETAIL_FILES: readonly DescFile[] = [file_nexus_v1_errors, file_google_rpc_error_details];

/** One implementation per service. */
export interface ServiceImpls {
  connections: ServiceImpl<typeof ConnectionService>;
  tokens: ServiceImpl<typeof TokenService>;
  providers: ServiceImpl<typeof ProviderService>;
  apiKeys: ServiceImpl<typeof ApiKeyService>;
  audit: ServiceImpl<typeof AuditService>;
  connectionEvents: ServiceImpl<typeof ConnectionEventService>;
  webhooks: ServiceImpl<typeof WebhookService>;
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
    router.service(ConnectionEventService, impls.connectionEvents);
    router.service(WebhookService, impls.webhooks);
    router.service(Health, impls.health);
    router.service(ServerReflection, impls.reflection);
  };
}
