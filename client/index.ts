/**
 * The Nexus client: the only public entry point (the `@nexus/client` package; `nexus/client`
 * inside this repository). Everything not exported here is private. User-facing symbols come
 * first; the section marked "advanced" is for callers that assemble their own pieces (custom
 * caches, strategies, transports).
 */

// The API itself, generated from proto/nexus/v1: enums by name (ConnectionStatus.ACTIVE,
// StrategyType.OAUTH2, ErrorReason…), message types with their schemas (Credential and
// CredentialSchema…), and the service descriptors (TokenService…) for createClient.
export * from "../gen/nexus/v1/api_keys_pb.ts";
export * from "../gen/nexus/v1/audit_pb.ts";
export * from "../gen/nexus/v1/connections_pb.ts";
export * from "../gen/nexus/v1/credential_pb.ts";
export * from "../gen/nexus/v1/errors_pb.ts";
export * from "../gen/nexus/v1/events_pb.ts";
export * from "../gen/nexus/v1/providers_pb.ts";
export * from "../gen/nexus/v1/rest_pb.ts";
export * from "../gen/nexus/v1/status_pb.ts";
export * from "../gen/nexus/v1/tokens_pb.ts";
export type { ApplyOptions, AuthenticatedHandshake, HandshakeTarget, MetadataContext } from "./apply-credential.ts";
export { applyCredential } from "./apply-credential.ts";
export type { Backoff, BackoffOptions } from "./backoff.ts";
export { abortableSleep, createBackoff } from "./backoff.ts";
export type { Bridge, BridgeOptions } from "./bridge/bridge.ts";
// The bridge: long-lived WebSocket and gRPC links, and its metrics.
export { createBridge } from "./bridge/bridge.ts";
export type { GrpcRunContext, MaintainGrpcOptions } from "./bridge/grpc.ts";
// ---------------------------------------------------------------------------------------------
// Advanced: building blocks for callers that assemble their own pieces. Stable, but lower level.
// ---------------------------------------------------------------------------------------------
export { createCredentialInterceptor } from "./bridge/grpc.ts";
export type { MaintainHandle } from "./bridge/link-supervisor.ts";
export type {
  DisconnectCause,
  DisconnectEvent,
  MaintainWebSocketOptions,
  WebSocketData,
  WebSocketHandler,
} from "./bridge/websocket.ts";
export { DEFAULT_PERMANENT_CLOSE_CODES } from "./bridge/websocket.ts";
// Pluggable dependencies.
export type { Clock } from "./clock.ts";
export { systemClock } from "./clock.ts";
export type {
  CredentialCache,
  CredentialCacheOptions,
  GetCredentialOptions,
  RefreshCredentialOptions,
} from "./credential-cache.ts";
export { createCredentialCache } from "./credential-cache.ts";
// Errors and the helpers that read Nexus's ErrorInfo detail.
export {
  AttentionRequiredError,
  ConnectionRevokedError,
  errorInfo,
  isAttentionRequired,
  isNotFound,
  isRevoked,
  isTransient,
  NexusUnavailableError,
  PermanentCloseError,
  StrategyError,
  toClientError,
} from "./errors.ts";
export { createFetchHttpClient } from "./fetch-http-client.ts";
export type { Logger } from "./logger.ts";
export { silentLogger } from "./logger.ts";
export type { BridgeMetrics, BridgeMetricsOptions, BridgeMetricTarget, BridgeTransport, MetricsRegistry } from "./metrics.ts";
export { createBridgeMetrics, metricsHandler } from "./metrics.ts";
export type { NexusClient, NexusClientOptions, NexusProtocol } from "./nexus-client.ts";
// The client and its typed services.
export { createNexusClient } from "./nexus-client.ts";
export type { NexusFetchOptions } from "./nexus-fetch.ts";
export { nexusFetch } from "./nexus-fetch.ts";
export type { NexusProxy, NexusProxyOptions } from "./nexus-proxy.ts";
// The credential proxy: calls reach the provider through Nexus, the token never reaches the agent.
export { nexusProxy } from "./nexus-proxy.ts";
export type { SeedCredential, SeedStrategy, SeedStrategyType } from "./seed-credential.ts";
export { toSeedCredential } from "./seed-credential.ts";
export type { AppliedParts, ApplyEnvironment, RequestParts, StrategyApplier } from "./strategies/applier.ts";
export type { KnownStrategyType } from "./strategies/strategy-appliers.ts";
export { strategyAppliers } from "./strategies/strategy-appliers.ts";
export type { TokenClient, WatchCredentialsOptions } from "./watch.ts";
// Credentials: watch, cache, apply, fetch.
export { watchCredentials } from "./watch.ts";
export type { ConnectionEventClient, WatchConnectionsOptions } from "./watch-connections.ts";
// Connection events: a backend learns of consent, breakage and revocation without polling.
export { watchConnections } from "./watch-connections.ts";
