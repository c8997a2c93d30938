ALTER TABLE `api_keys` ADD `proxy_rules` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `proxy_only` integer DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `account_id` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `account_email` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `account_display_name` text;--> statement-breakpoint
ALTER TABLE `connections` ADD `labels` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `metadata` text DEFAULT '{}' NOT NULL;--> statement-breakpoint
ALTER TABLE `connections` ADD `reused_connection_id` text;--> statement-breakpoint
CREATE INDEX `connections_tenant_account_idx` ON `connections` (`tenant_id`,`provider_name`,`account_id`);