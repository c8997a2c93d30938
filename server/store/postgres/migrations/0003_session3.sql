CREATE TABLE "connection_event_retention" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"pruned_through_seq" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "connection_events" (
	"seq" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "connection_events_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"event_id" text NOT NULL,
	"tenant_id" text NOT NULL,
	"connection_id" text NOT NULL,
	"type" text NOT NULL,
	"occurred_at" bigint NOT NULL,
	"connection" jsonb NOT NULL,
	CONSTRAINT "connection_events_event_id_unique" UNIQUE("event_id"),
	CONSTRAINT "connection_events_type_known" CHECK ("connection_events"."type" IN ('created', 'pending', 'active', 'attention_required', 'failed', 'revoked', 'expired', 'updated'))
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "proxy_rules" jsonb DEFAULT '[]' NOT NULL;--> statement-breakpoint
ALTER TABLE "api_keys" ADD COLUMN "proxy_only" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_id" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_email" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "account_display_name" text;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "labels" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "metadata" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "connections" ADD COLUMN "reused_connection_id" text;--> statement-breakpoint
CREATE INDEX "connection_events_tenant_seq_idx" ON "connection_events" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE INDEX "connection_events_connection_seq_idx" ON "connection_events" USING btree ("connection_id","seq");--> statement-breakpoint
CREATE INDEX "connection_events_occurred_idx" ON "connection_events" USING btree ("occurred_at");--> statement-breakpoint
CREATE INDEX "connections_tenant_account_idx" ON "connections" USING btree ("tenant_id","provider_name","account_id");