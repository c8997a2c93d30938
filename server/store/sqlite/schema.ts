/**
 * The SQLite tables: the only declaration of Nexus's SQLite schema, and drizzle-kit's input for
 * migrations. Times are integer epoch milliseconds unless a comment says Unix seconds.
 * Secret material exists only as vault ciphertext (BLOB) beside its key id; OAuth states only as
 * SHA-256 hex, API keys only as secret hashes. Row types stay inside `sqlite/`.
 */
import { sql } from "drizzle-orm";
import { blob, check, index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { CONNECTION_EVENT_TYPES } from "../../domain/connection-events.ts";
import { CONNECTION_STATUSES } from "../../domain/connection-status.ts";
import type { ProxyRule } from "../../domain/proxy-rule.ts";
import type { ConnectionSnapshot, JsonObject } from "../store.ts";

/** Renders a literal list for a CHECK constraint; the values are our own constants, not input. */
function sqlList(values: readonly string[]) {
  return sql.raw(values.map((value) => `'${value}'`).join(", "));
}

/** Tenants (workspaces). Ids are chosen by the operator or the request, not generated. */
export const tenants = sqliteTable("tenants", {
  id: text("id").primaryKey(),
  displayName: text("display_name").notNull().default(""),
  createdAt: integer("created_at").notNull(),
});

/** Provider profiles; `profile` is JSON owned by server/providers/, without the client secret. */
export const providers = sqliteTable(
  "providers",
  {
    name: text("name").primaryKey(),
    profile: text("profile", { mode: "json" }).$type<JsonObject>().notNull(),
    clientSecretCiphertext: blob("client_secret_ciphertext", { mode: "buffer" }),
    clientSecretKeyId: text("client_secret_key_id"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (t) => [
    // A ciphertext without its key id could never be opened again, and a key id alone is meaningless.
    check("providers_client_secret_complete", sql`(${t.clientSecretCiphertext} IS NULL) = (${t.clientSecretKeyId} IS NULL)`),
  ],
);

/** Connections; each belongs to one tenant. Lease columns are for the refresh engine. */
export const connections = sqliteTable(
  "connections",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    userId: text("user_id").notNull(),
    // No foreign key: a provider may be deleted with force while its connections remain.
    providerName: text("provider_name").notNull(),
    status: text("status", { enum: CONNECTION_STATUSES }).notNull(),
    statusReason: text("status_reason"),
    scopes: text("scopes", { mode: "json" }).$type<string[]>().notNull(),
    params: text("params", { mode: "json" }).$type<Record<string, string>>().notNull(),
    returnUrl: text("return_url"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    credentialVersion: integer("credential_version").notNull().default(0),
    /** Unix seconds. */
    credentialExpiresAt: integer("credential_expires_at"),
    nextRefreshAt: integer("next_refresh_at"),
    leaseOwner: text("lease_owner"),
    /** Null, "calling" (the holder is calling the provider) or "interrupted" (taken over from a holder that was). */
    leaseState: text("lease_state"),
    leaseExpiresAt: integer("lease_expires_at"),
    /** The provider account (id, e-mail, display name), once learned; never a secret. */
    accountId: text("account_id"),
    accountEmail: text("account_email"),
    accountDisplayName: text("account_display_name"),
    /** The caller's labels (RequestConnection.labels). */
    labels: text("labels", { mode: "json" }).$type<Record<string, string>>().notNull().default(sql`'{}'`),
    /** Non-secret provider values from consent (profile connection_extras). */
    metadata: text("metadata", { mode: "json" }).$type<Record<string, string>>().notNull().default(sql`'{}'`),
    /** The existing connection a reuse_existing consent ended on. */
    reusedConnectionId: text("reused_connection_id"),
  },
  (t) => [
    index("connections_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("connections_next_refresh_idx").on(t.nextRefreshAt),
    index("connections_provider_idx").on(t.providerName),
    index("connections_status_updated_idx").on(t.status, t.updatedAt),
    index("connections_tenant_account_idx").on(t.tenantId, t.providerName, t.accountId),
    check("connections_status_known", sql`${t.status} IN (${sqlList(CONNECTION_STATUSES)})`),
  ],
);

/** The current credential of a connection: one row per connection, vault ciphertext only. */
export const credentials = sqliteTable("credentials", {
  connectionId: text("connection_id")
    .primaryKey()
    .references(() => connections.id, { onDelete: "cascade" }),
  ciphertext: blob("ciphertext", { mode: "buffer" }).notNull(),
  keyId: text("key_id").notNull(),
  version: integer("version").notNull(),
  /** Unix seconds. */
  expiresAt: integer("expires_at"),
  updatedAt: integer("updated_at").notNull(),
});

/** Pending OAuth consents, keyed by the SHA-256 hex of the state; used at most once. */
export const consentStates = sqliteTable(
  "consent_states",
  {
    stateHash: text("state_hash").primaryKey(),
    connectionId: text("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    secretsCiphertext: blob("secrets_ciphertext", { mode: "buffer" }),
    secretsKeyId: text("secrets_key_id"),
    returnUrl: text("return_url"),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
  },
  (t) => [
    index("consent_states_connection_idx").on(t.connectionId),
    index("consent_states_expires_idx").on(t.expiresAt),
    check("consent_states_secrets_complete", sql`(${t.secretsCiphertext} IS NULL) = (${t.secretsKeyId} IS NULL)`),
  ],
);

/** API keys: the secret's hash, never the secret. Admin keys have no tenant. */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull().unique("api_keys_secret_hash_unique"),
    name: text("name").notNull(),
    role: text("role", { enum: ["admin", "agent"] }).notNull(),
    tenantId: text("tenant_id").references(() => tenants.id),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at"),
    revokedAt: integer("revoked_at"),
    lastUsedAt: integer("last_used_at"),
    // Proxy allow rules, a JSON array of {provider, methods, path} (server/domain/proxy-rule.ts).
    proxyRules: text("proxy_rules", { mode: "json" }).$type<ProxyRule[]>().notNull().default(sql`'[]'`),
    // A proxy-only key never receives a credential.
    proxyOnly: integer("proxy_only", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [
    index("api_keys_created_idx").on(t.createdAt, t.id),
    index("api_keys_tenant_created_idx").on(t.tenantId, t.createdAt),
    check("api_keys_role_known", sql`${t.role} IN ('admin', 'agent')`),
  ],
);

/** The audit log. No foreign keys: events outlive the rows they mention. */
export const auditEvents = sqliteTable(
  "audit_events",
  {
    // AUTOINCREMENT: ids must keep increasing even after pruning deletes the newest rows.
    id: integer("id").primaryKey({ autoIncrement: true }),
    time: integer("time").notNull(),
    action: text("action").notNull(),
    result: text("result").notNull(),
    keyId: text("key_id"),
    tenantId: text("tenant_id"),
    connectionId: text("connection_id"),
    requestId: text("request_id"),
    clientAddress: text("client_address"),
    details: text("details", { mode: "json" }).$type<Record<string, string>>().notNull(),
  },
  (t) => [
    index("audit_events_time_idx").on(t.time),
    index("audit_events_tenant_idx").on(t.tenantId, t.id),
    index("audit_events_connection_idx").on(t.connectionId, t.id),
  ],
);

/**
 * The connection event log: one row per committed connection change, written in the change's
 * transaction. `seq` is the cursor: AUTOINCREMENT never reuses a value, and SQLite's single writer
 * makes commit order seq order. No foreign keys: events outlive nothing but are pruned by age.
 * `connection` is the non-secret snapshot (store.ts ConnectionSnapshot), never a credential.
 */
export const connectionEvents = sqliteTable(
  "connection_events",
  {
    seq: integer("seq").primaryKey({ autoIncrement: true }),
    eventId: text("event_id").notNull().unique("connection_events_event_id_unique"),
    tenantId: text("tenant_id").notNull(),
    connectionId: text("connection_id").notNull(),
    type: text("type", { enum: CONNECTION_EVENT_TYPES }).notNull(),
    occurredAt: integer("occurred_at").notNull(),
    connection: text("connection", { mode: "json" }).$type<ConnectionSnapshot>().notNull(),
  },
  (t) => [
    index("connection_events_tenant_seq_idx").on(t.tenantId, t.seq),
    index("connection_events_connection_seq_idx").on(t.connectionId, t.seq),
    index("connection_events_occurred_idx").on(t.occurredAt),
    check("connection_events_type_known", sql`${t.type} IN (${sqlList(CONNECTION_EVENT_TYPES)})`),
  ],
);

/**
 * Retention bookkeeping of the event log: per tenant, the highest seq retention ever deleted, so a
 * cursor below it is known to be expired (and a cursor of a tenant nothing was deleted of never is).
 */
export const connectionEventRetention = sqliteTable("connection_event_retention", {
  tenantId: text("tenant_id").primaryKey(),
  prunedThroughSeq: integer("pruned_through_seq").notNull(),
});

/**
 * Webhook endpoints of a tenant, with their sealed signing secrets (current, and the previous one
 * during a rotation's overlap) and their delivery state: the cursor (last event delivered or given
 * up), the retry state of the next event, and the lease that lets one replica deliver at a time.
 */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    url: text("url").notNull(),
    eventTypes: text("event_types", { mode: "json" }).$type<string[]>().notNull(),
    description: text("description").notNull().default(""),
    isEnabled: integer("is_enabled", { mode: "boolean" }).notNull().default(true),
    secretCiphertext: blob("secret_ciphertext", { mode: "buffer" }).notNull(),
    secretKeyId: text("secret_key_id").notNull(),
    previousSecretCiphertext: blob("previous_secret_ciphertext", { mode: "buffer" }),
    previousSecretKeyId: text("previous_secret_key_id"),
    previousSecretExpiresAt: integer("previous_secret_expires_at"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    cursorSeq: integer("cursor_seq").notNull().default(0),
    attemptCount: integer("attempt_count").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    firstFailedAt: integer("first_failed_at"),
    lastError: text("last_error"),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: integer("lease_expires_at"),
  },
  (t) => [
    index("webhook_endpoints_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("webhook_endpoints_enabled_idx").on(t.isEnabled, t.nextAttemptAt),
    check("webhook_endpoints_previous_secret_complete", sql`(${t.previousSecretCiphertext} IS NULL) = (${t.previousSecretKeyId} IS NULL)`),
  ],
);

/** The failure list: events given up for an endpoint after the retry window, with the body sent. */
export const webhookDeliveries = sqliteTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    eventSeq: integer("event_seq").notNull(),
    payload: text("payload", { mode: "json" }).$type<JsonObject>().notNull(),
    attemptCount: integer("attempt_count").notNull(),
    lastError: text("last_error"),
    lastStatusCode: integer("last_status_code"),
    createdAt: integer("created_at").notNull(),
    replayedAt: integer("replayed_at"),
  },
  (t) => [index("webhook_deliveries_endpoint_created_idx").on(t.endpointId, t.createdAt)],
);
