ALTER TABLE `api_keys` ADD `proxy_rules` text DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE `api_keys` ADD `proxy_only` integer DEFAULT false NOT NULL;