CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`prefix` text NOT NULL,
	`secret_hash` text NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`tenant_id` text,
	`created_at` integer NOT NULL,
	`expires_at` integer,
	`revoked_at` integer,
	`last_used_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "api_keys_role_known" CHECK("api_keys"."role" IN ('admin', 'agent'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_secret_hash_unique` ON `api_keys` (`secret_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_created_idx` ON `api_keys` (`created_at`,`id`);--> statement-breakpoint
CREATE INDEX `api_keys_tenant_created_idx` ON `api_keys` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE TABLE `audit_events` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`time` integer NOT NULL,
	`action` text NOT NULL,
	`result` text NOT NULL,
	`key_id` text,
	`tenant_id` text,
	`connection_id` text,
	`request_id` text,
	`client_address` text,
	`details` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `audit_events_time_idx` ON `audit_events` (`time`);--> statement-breakpoint
CREATE INDEX `audit_events_tenant_idx` ON `audit_events` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `audit_events_connection_idx` ON `audit_events` (`connection_id`,`id`);--> statement-breakpoint
CREATE TABLE `connections` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`user_id` text NOT NULL,
	`provider_name` text NOT NULL,
	`status` text NOT NULL,
	`status_reason` text,
	`scopes` text NOT NULL,
	`params` text NOT NULL,
	`return_url` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`credential_version` integer DEFAULT 0 NOT NULL,
	`credential_expires_at` integer,
	`next_refresh_at` integer,
	`lease_owner` text,
	`lease_expires_at` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "connections_status_known" CHECK("connections"."status" IN ('pending', 'active', 'attention_required', 'revoked', 'expired', 'failed'))
);
--> statement-breakpoint
CREATE INDEX `connections_tenant_created_idx` ON `connections` (`tenant_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `connections_next_refresh_idx` ON `connections` (`next_refresh_at`);--> statement-breakpoint
CREATE INDEX `connections_provider_idx` ON `connections` (`provider_name`);--> statement-breakpoint
CREATE TABLE `consent_states` (
	`state_hash` text PRIMARY KEY NOT NULL,
	`connection_id` text NOT NULL,
	`secrets_ciphertext` blob,
	`secrets_key_id` text,
	`return_url` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	FOREIGN KEY (`connection_id`) REFERENCES `connections`(`id`) ON UPDATE no action ON DELETE cascade,
	CONSTRAINT "consent_states_secrets_complete" CHECK(("consent_states"."secrets_ciphertext" IS NULL) = ("consent_states"."secrets_key_id" IS NULL))
);
--> statement-breakpoint
CREATE INDEX `consent_states_connection_idx` ON `consent_states` (`connection_id`);--> statement-breakpoint
CREATE INDEX `consent_states_expires_idx` ON `consent_states` (`expires_at`);--> statement-breakpoint
CREATE TABLE `credentials` (
	`connection_id` text PRIMARY KEY NOT NULL,
	`ciphertext` blob NOT NULL,
	`key_id` text NOT NULL,
	`version` integer NOT NULL,
	`expires_at` integer,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`connection_id`) REFERENCES `connections`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `providers` (
	`name` text PRIMARY KEY NOT NULL,
	`profile` text NOT NULL,
	`client_secret_ciphertext` blob,
	`client_secret_key_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	CONSTRAINT "providers_client_secret_complete" CHECK(("providers"."client_secret_ciphertext" IS NULL) = ("providers"."client_secret_key_id" IS NULL))
);
--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`display_name` text DEFAULT '' NOT NULL,
	`created_at` integer NOT NULL
);
