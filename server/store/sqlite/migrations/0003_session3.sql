CREATE TABLE `connection_event_retention` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`pruned_through_seq` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `connection_events` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`event_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`connection_id` text NOT NULL,
	`type` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`connection` text NOT NULL,
	CONSTRAINT "connection_events_type_known" CHECK("connection_events"."type" IN ('created', 'pending', 'active', 'attention_required', 'failed', 'revoked', 'expired', 'updated'))
);
--> statement-breakpoint
CREATE UNIQUE INDEX `connection_events_event_id_unique` ON `connection_events` (`event_id`);--> statement-breakpoint
CREATE INDEX `connection_events_tenant_seq_idx` ON `connection_events` (`tenant_id`,`seq`);--> statement-breakpoint
CREATE INDEX `connection_events_connection_seq_idx` ON `connection_events` (`connection_id`,`seq`);--> statement-breakpoint
CREATE INDEX `connection_events_occurred_idx` ON `connection_events` (`occurred_at`);--> statement-breakpoint
ALTER TABLE `api_keys` ADD `proxy_rules` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `proxy_only` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `account_id` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `account_email` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `account_display_name` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `labels` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `metadata` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `reused_connection_id` text;--> statement-breakpoint
CREATE INDEX `connections_tenant_account_idx` ON `connections` (`tenant_id`,`provider_name`,`account_id`);