/**
 * The admin services: ApiKeyService (create, list, revoke API keys) and AuditService (read the
 * audit log). Proto ⇄ domain translation only; who may call them is the permission table's
 * business (admin only), and the secret of a new key appears in CreateApiKey's response once.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { type ApiKeySchema, type ApiKeyService, Role } from "../../gen/nexus/v1/api_keys_pb.ts";
import type { AuditEventSchema, AuditService } from "../../gen/nexus/v1/audit_pb.ts";
import type { ApiKeyManager } from "../auth/api-key-manager.ts";
import { InvalidArgumentError } from "../domain/errors.ts";
import type { ApiKeyRecord, ApiKeyRole, AuditEventRecord, Store } from "../store/store.ts";
import { requireId } from "./request-fields.ts";

/** Creates the ApiKeyService implementation. */
export function createApiKeyService(deps: {
  keys: ApiKeyManager;
  /**
   * Told before the store records a revocation, so this process refuses the key (and ends its
   * streams) before revoked_at exists: nothing here can be delivered or audited after it.
   */
  willRevoke: (keyId: string) => void;
  /**
   * Told when the store write after `willRevoke` failed: decides whether this process keeps
   * refusing the key (the outcome is unknown) or forgets it (the key certainly was not revoked).
   */
  revokeFailed: (keyId: string, err: unknown) => void;
  /** Told once a revocation is stored (the verifier's cache, other replicas); awaited before RevokeApiKey answers. */
  onRevoked: (keyId: string) => Promise<void>;
}): ServiceImpl<typeof ApiKeyService> {
  const { keys } = deps;
  return {
    async createApiKey(req) {
      const created = await keys.create({
        name: req.name,
        role: roleFromProto(req.role),
        tenantId: req.tenantId,
        expiresAtMs: req.expireTime === undefined ? null : timestampToMs("expire_time", req.expireTime),
        proxyRules: req.proxyRules.map((rule) => ({ provider: rule.provider, methods: rule.methods, path: rule.path })),
        proxyOnly: req.proxyOnly,
      });
      return { apiKey: apiKeyToProto(created.record), secret: created.secret };
    },
    async listApiKeys(req) {
      const tenantId = req.tenantId === "" ? undefined : requireId("tenant_id", req.tenantId);
      const page = await keys.list({ tenantId }, { pageSize: req.pageSize, pageToken: req.pageToken });
      return { apiKeys: page.items.map(apiKeyToProto), nextPageToken: page.nextPageToken };
    },
    async revokeApiKey(req) {
      const keyId = requireId("key_id", req.keyId);
      // Refused before the write, so nothing is delivered or audited under the key after revoked_at.
      deps.willRevoke(keyId);
      let record: ApiKeyRecord;
      try {
        record = await keys.revoke(keyId);
      } catch (err) {
        deps.revokeFailed(keyId, err);
        throw err;
      }
      await deps.onRevoked(record.id);
      return { apiKey: apiKeyToProto(record) };
    },
  };
}

/** Creates the AuditService implementation. */
export function createAuditService(deps: { store: Pick<Store, "listAuditEvents"> }): ServiceImpl<typeof AuditService> {
  return {
    async listAuditEvents(req) {
      const page = await deps.store.listAuditEvents(
        {
          tenantId: req.tenantId === "" ? undefined : requireId("tenant_id", req.tenantId),
          connectionId: req.connectionId === "" ? undefined : requireId("connection_id", req.connectionId),
          action: req.action === "" ? undefined : checkAction(req.action),
          keyId: req.keyId === "" ? undefined : requireId("key_id", req.keyId),
          startTimeMs: req.startTime === undefined ? undefined : timestampToMs("start_time", req.startTime),
          endTimeMs: req.endTime === undefined ? undefined : timestampToMs("end_time", req.endTime),
        },
        { pageSize: req.pageSize, pageToken: req.pageToken },
      );
      return { events: page.items.map(auditEventToProto), nextPageToken: page.nextPageToken };
    },
  };
}

/** The proto view of a key: metadata, never the hash. */
export function apiKeyToProto(record: ApiKeyRecord): MessageInitShape<typeof ApiKeySchema> {
  return {
    keyId: record.id,
    prefix: record.prefix,
    name: record.name,
    role: record.role === "admin" ? Role.ADMIN : Role.AGENT,
    tenantId: record.tenantId ?? "",
    createTime: timestampFromMs(record.createdAtMs),
    expireTime: record.expiresAtMs === null ? undefined : timestampFromMs(record.expiresAtMs),
    revokeTime: record.revokedAtMs === null ? undefined : timestampFromMs(record.revokedAtMs),
    lastUsedTime: record.lastUsedAtMs === null ? undefined : timestampFromMs(record.lastUsedAtMs),
    proxyRules: record.proxyRules.map((rule) => ({ provider: rule.provider, methods: [...rule.methods], path: rule.path })),
    proxyOnly: record.proxyOnly,
  };
}

function auditEventToProto(record: AuditEventRecord): MessageInitShape<typeof AuditEventSchema> {
  return {
    eventId: String(record.id),
    time: timestampFromMs(record.timeMs),
    action: record.action,
    result: record.result,
    keyId: record.keyId ?? "",
    tenantId: record.tenantId ?? "",
    connectionId: record.connectionId ?? "",
    requestId: record.requestId ?? "",
    clientAddress: record.clientAddress ?? "",
    details: record.details,
  };
}

function roleFromProto(role: Role): ApiKeyRole {
  switch (role) {
    case Role.ADMIN:
      return "admin";
    case Role.AGENT:
      return "agent";
    default:
      throw new InvalidArgumentError("role", "must be ROLE_ADMIN or ROLE_AGENT");
  }
}

/** Latest instant accepted: 9999-12-31T23:59:59Z (RFC 3339's range, as protobuf's Timestamp). */
const MAX_TIMESTAMP_SECONDS = 253_402_300_799n;

/** A request Timestamp in epoch ms; InvalidArgumentError outside 1970…9999 or with bad nanos. */
function timestampToMs(field: string, timestamp: Timestamp): number {
  if (timestamp.seconds < 0n || timestamp.seconds > MAX_TIMESTAMP_SECONDS || timestamp.nanos < 0 || timestamp.nanos > 999_999_999) {
    throw new InvalidArgumentError(field, "must be a valid time between 1970 and 9999");
  }
  return timestampMs(timestamp);
}

function checkAction(action: string): string {
  if (!/^[a-z_.]{1,64}$/.test(action)) throw new InvalidArgumentError("action", "must be an audit action such as token.read");
  return action;
}
