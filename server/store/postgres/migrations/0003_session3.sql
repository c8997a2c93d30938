ALTER TABLE "api_keys" ADD COLUMN "proxy_rules" jsonb DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "proxy_only" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_id" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_email" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_display_name" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "labels" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "reused_connection_id" text;--> statement-breakpoint
CREATE INDEX "connections_tenant_account_idx" ON "connections" USING btree ("tenant_id","provider_name","account_id");