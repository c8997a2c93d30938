ALTER TABLE "api_keys" ADD COLUMN "proxy_rules" jsonb DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "proxy_only" boolean DEFAULT false NOT NULL;