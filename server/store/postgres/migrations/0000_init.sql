CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"prefix" text NOT NULL,
	"secret_hash" text NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"tenant_id" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint,
	"revoked_at" bigint,
	"last_used_at" bigint,
	CONSTRAINT "api_keys_secret_hash_unique" UNIQUE("secret_hash"),
	CONSTRAINT "api_keys_role_known" CHECK ("api_keys"."role" IN ('admin', 'agent'))
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "audit_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"time" bigint NOT NULL,
	"action" text NOT NULL,
	"result" text NOT NULL,
	"key_id" text,
	"tenant_id" text,
	"connection_id" text,
	"request_id" text,
	"client_address" text,
	"details" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "connections" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"user_id" text NOT NULL,
	"provider_name" text NOT NULL,
	"status" text NOT NULL,
	"status_reason" text,
	"scopes" jsonb NOT NULL,
	"params" jsonb NOT NULL,
	"return_url" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"credential_version" integer DEFAULT 0 NOT NULL,
	"credential_expires_at" bigint,
	"next_refresh_at" bigint,
	"lease_owner" text,
	"lease_expires_at" bigint,
	CONSTRAINT "connections_status_known" CHECK ("connections"."status" IN ('pending', 'active', 'attention_required', 'revoked', 'expired', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "consent_states" (
	"state_hash" text PRIMARY KEY NOT NULL,
	"connection_id" text NOT NULL,
	"secrets_ciphertext" "bytea",
	"secrets_key_id" text,
	"return_url" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint,
	CONSTRAINT "consent_states_secrets_complete" CHECK (("consent_states"."secrets_ciphertext" IS NULL) = ("consent_states"."secrets_key_id" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "credentials" (
	"connection_id" text PRIMARY KEY NOT NULL,
	"ciphertext" "bytea" NOT NULL,
	"key_id" text NOT NULL,
	"version" integer NOT NULL,
	"expires_at" bigint,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "providers" (
	"name" text PRIMARY KEY NOT NULL,
	"profile" jsonb NOT NULL,
	"client_secret_ciphertext" "bytea",
	"client_secret_key_id" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "providers_client_secret_complete" CHECK (("providers"."client_secret_ciphertext" IS NULL) = ("providers"."client_secret_key_id" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" text PRIMARY KEY NOT NULL,
	"display_name" text DEFAULT '' NOT NULL,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_states" ADD CONSTRAINT "consent_states_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "credentials" ADD CONSTRAINT "credentials_connection_id_connections_id_fk" FOREIGN KEY ("connection_id") REFERENCES "public"."connections"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_created_idx" ON "api_keys" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "api_keys_tenant_created_idx" ON "api_keys" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "audit_events_time_idx" ON "audit_events" USING btree ("time");--> statement-breakpoint
CREATE INDEX "audit_events_tenant_idx" ON "audit_events" USING btree ("tenant_id","id");--> statement-breakpoint
CREATE INDEX "audit_events_connection_idx" ON "audit_events" USING btree ("connection_id","id");--> statement-breakpoint
CREATE INDEX "connections_tenant_created_idx" ON "connections" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "connections_next_refresh_idx" ON "connections" USING btree ("next_refresh_at");--> statement-breakpoint
CREATE INDEX "connections_provider_idx" ON "connections" USING btree ("provider_name");--> statement-breakpoint
CREATE INDEX "consent_states_connection_idx" ON "consent_states" USING btree ("connection_id");--> statement-breakpoint
CREATE INDEX "consent_states_expires_idx" ON "consent_states" USING btree ("expires_at");