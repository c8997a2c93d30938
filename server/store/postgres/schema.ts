/**
 * The PostgreSQL tables: the only declaration of Nexus's PostgreSQL schema, and drizzle-kit's input
 * for migrations. Table, column, index and constraint names match `sqlite/schema.ts`. Times are
 * bigint epoch milliseconds unless a comment says Unix seconds. Secret material exists only as
 * vault ciphertext (bytea) beside its key id; OAuth states only as SHA-256 hex, API keys only as
 * secret hashes. Row types stay inside `postgres/`.
 */
import { sql } from "drizzle-orm";
import { bigint, boolean, check, index, integer, jsonb, pgTable, text } from "drizzle-orm/pg-core";
import { CONNECTION_EVENT_TYPES } from "../../domain/connection-events.ts";
import { CONNECTION_STATUSES } from "../../domain/connection-status.ts";
import type { ProxyRule } from "../../domain/proxy-rule.ts";
import type { ConnectionSnapshot, JsonObject } from "../store.ts";
import { bytea } from "./bytea.ts";

/** Renders a literal list for a CHECK constraint; the values are our own constants, not input. */
function sqlList(values: readonly string[]) {
  return sql.raw(values.map((value) => `'${value}'`).join(", "));
}

/** An epoch-milliseconds (or Unix-seconds) column: bigint, read as a JS number (exact below 2^53). */
function epoch(name: string) {
  return bigint(name, { mode: "number" });
}

/** Tenants (workspaces). Ids are chosen by the operator or the request, not generated. */
export const tenants = pgTable("tenants", {
  id: text("id").primaryKey(),
  displayName: text("display_name").notNull().default(""),
  createdAt: epoch("created_at").notNull(),
});

/** Provider profiles; `profile` is JSON owned by server/providers/, without the client secret. */
export const providers = pgTable(
  "providers",
  {
    name: text("name").primaryKey(),
    profile: jsonb("profile").$type<JsonObject>().notNull(),
    clientSecretCiphertext: bytea("client_secret_ciphertext"),
    clientSecretKeyId: text("client_secret_key_id"),
    createdAt: epoch("created_at").notNull(),
    updatedAt: epoch("updated_at").notNull(),
  },
  (t) => [
    // A ciphertext without its key id could never be opened again, and a key id alone is meaningless.
    check("providers_client_secret_complete", sql`(${t.clientSecretCiphertext} IS NULL) = (${t.clientSecretKeyId} IS NULL)`),
  ],
);

/** Connections; each belongs to one tenant. Lease columns are for the refresh engine. */
export const connections = pgTable(
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
    scopes: jsonb("scopes").$type<string[]>().notNull(),
    params: jsonb("params").$type<Record<string, string>>().notNull(),
    returnUrl: text("return_url"),
    createdAt: epoch("created_at").notNull(),
    updatedAt: epoch("updated_at").notNull(),
    credentialVersion: integer("credential_version").notNull().default(0),
    /** Unix seconds. */
    credentialExpiresAt: epoch("credential_expires_at"),
    nextRefreshAt: epoch("next_refresh_at"),
    leaseOwner: text("lease_owner"),
    /** Null, "calling" (the holder is calling the provider) or "interrupted" (taken over from a holder that was). */
    leaseState: text("lease_state"),
    leaseExpiresAt: epoch("lease_expires_at"),
    /** The provider account (id, e-mail, display name), once learned; never a secret. */
    accountId: text("account_id"),
    accountEmail: text("account_email"),
    accountDisplayName: text("account_display_name"),
    /** The caller's labels (RequestConnection.labels). */
    labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
    /** Non-secret provider values from consent (profile connection_extras). */
    metadata: jsonb("metadata").$type<Record<string, string>>().notNull().default({}),
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
export const credentials = pgTable("credentials", {
  connectionId: text("connection_id")
    .primaryKey()
    .references(() => connections.id, { onDelete: "cascade" }),
  ciphertext: bytea("ciphertext").notNull(),
  keyId: text("key_id").notNull(),
  version: integer("version").notNull(),
  /** Unix seconds. */
  expiresAt: epoch("expires_at"),
  updatedAt: epoch("updated_at").notNull(),
});

/** Pending OAuth consents, keyed by the SHA-256 hex of the state; used at most once. */
export const consentStates = pgTable(
  "consent_states",
  {
    stateHash: text("state_hash").primaryKey(),
    connectionId: text("connection_id")
      .notNull()
      .references(() => connections.id, { onDelete: "cascade" }),
    secretsCiphertext: bytea("secrets_ciphertext"),
    secretsKeyId: text("secrets_key_id"),
    returnUrl: text("return_url"),
    createdAt: epoch("created_at").notNull(),
    expiresAt: epoch("expires_at").notNull(),
    usedAt: epoch("used_at"),
  },
  (t) => [
    index("consent_states_connection_idx").on(t.connectionId),
    index("consent_states_expires_idx").on(t.expiresAt),
    check("consent_states_secrets_complete", sql`(${t.secretsCiphertext} IS NULL) = (${t.secretsKeyId} IS NULL)`),
  ],
);

/** API keys: the secret's hash, never the secret. Admin keys have no tenant. */
export const apiKeys = pgTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull().unique("api_keys_secret_hash_unique"),
    name: text("name").notNull(),
    role: text("role", { enum: ["admin", "agent"] }).notNull(),
    tenantId: text("tenant_id").references(() => tenants.id),
    createdAt: epoch("created_at").notNull(),
    expiresAt: epoch("expires_at"),
    revokedAt: epoch("revoked_at"),
    lastUsedAt: epoch("last_used_at"),
    // Proxy allow rules, a JSON array of {provider, methods, path} (server/domain/proxy-rule.ts).
    proxyRules: jsonb("proxy_rules").$type<ProxyRule[]>().notNull().default(sql`'[]'`),
    // A proxy-only key never receives a credential.
    proxyOnly: boolean("proxy_only").notNull().default(false),
  },
  (t) => [
    index("api_keys_created_idx").on(t.createdAt, t.id),
    index("api_keys_tenant_created_idx").on(t.tenantId, t.createdAt),
    check("api_keys_role_known", sql`${t.role} IN ('admin', 'agent')`),
  ],
);

/** The audit log. No foreign keys: events outlive the rows they mention. */
export const auditEvents = pgTable(
  "audit_events",
  {
    // An identity never hands out a value twice, so ids keep increasing even after pruning deletes
    // the newest rows (as SQLite's AUTOINCREMENT).
    id: bigint("id", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    time: epoch("time").notNull(),
    action: text("action").notNull(),
    result: text("result").notNull(),
    keyId: text("key_id"),
    tenantId: text("tenant_id"),
    connectionId: text("connection_id"),
    requestId: text("request_id"),
    clientAddress: text("client_address"),
    details: jsonb("details").$type<Record<string, string>>().notNull(),
  },
  (t) => [
    index("audit_events_time_idx").on(t.time),
    index("audit_events_tenant_idx").on(t.tenantId, t.id),
    index("audit_events_connection_idx").on(t.connectionId, t.id),
  ],
);

/**
 * The connection event log: one row per committed connection change, written in the change's
 * transaction. `seq` is the cursor; writers take a transaction-scoped advisory lock before the
 * identity hands out their seq (postgres/connection-events.ts), so commit order is seq order and a
 * reader never sees seq n+1 while n may still commit. No foreign keys; pruned by age.
 * `connection` is the non-secret snapshot (store.ts ConnectionSnapshot), never a credential.
 */
export const connectionEvents = pgTable(
  "connection_events",
  {
    seq: bigint("seq", { mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    eventId: text("event_id").notNull().unique("connection_events_event_id_unique"),
    tenantId: text("tenant_id").notNull(),
    connectionId: text("connection_id").notNull(),
    type: text("type", { enum: CONNECTION_EVENT_TYPES }).notNull(),
    occurredAt: epoch("occurred_at").notNull(),
    connection: jsonb("connection").$type<ConnectionSnapshot>().notNull(),
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
export const connectionEventRetention = pgTable("connection_event_retention", {
  tenantId: text("tenant_id").primaryKey(),
  prunedThroughSeq: bigint("pruned_through_seq", { mode: "number" }).notNull(),
});

/**
 * Webhook endpoints of a tenant, with their sealed signing secrets (current, and the previous one
 * during a rotation's overlap) and their delivery state: the cursor (last event delivered or given
 * up), the retry state of the next event, and the lease that lets one replica deliver at a time.
 */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    url: text("url").notNull(),
    eventTypes: jsonb("event_types").$type<string[]>().notNull(),
    description: text("description").notNull().default(""),
    isEnabled: boolean("is_enabled").notNull().default(true),
    secretCiphertext: bytea("secret_ciphertext").notNull(),
    secretKeyId: text("secret_key_id").notNull(),
    previousSecretCiphertext: bytea("previous_secret_ciphertext"),
    previousSecretKeyId: text("previous_secret_key_id"),
    previousSecretExpiresAt: epoch("previous_secret_expires_at"),
    createdAt: epoch("created_at").notNull(),
    updatedAt: epoch("updated_at").notNull(),
    cursorSeq: epoch("cursor_seq").notNull().default(0),
    attemptCount: integer("attempt_count").notNull().default(0),
    nextAttemptAt: epoch("next_attempt_at"),
    firstFailedAt: epoch("first_failed_at"),
    lastError: text("last_error"),
    leaseOwner: text("lease_owner"),
    leaseExpiresAt: epoch("lease_expires_at"),
  },
  (t) => [
    index("webhook_endpoints_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("webhook_endpoints_enabled_idx").on(t.isEnabled, t.nextAttemptAt),
    check("webhook_endpoints_previous_secret_complete", sql`(${t.previousSecretCiphertext} IS NULL) = (${t.previousSecretKeyId} IS NULL)`),
  ],
);

/** The failure list: events given up for an endpoint after the retry window, with the body sent. */
export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: text("id").primaryKey(),
    endpointId: text("endpoint_id")
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    tenantId: text("tenant_id").notNull(),
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    eventSeq: epoch("event_seq").notNull(),
    payload: jsonb("payload").$type<JsonObject>().notNull(),
    attemptCount: integer("attempt_count").notNull(),
    lastError: text("last_error"),
    lastStatusCode: integer("last_status_code"),
    createdAt: epoch("created_at").notNull(),
    replayedAt: epoch("replayed_at"),
  },
  (t) => [index("webhook_deliveries_endpoint_created_idx").on(t.endpointId, t.createdAt)],
);
