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
CREATE INDEX "connection_events_tenant_seq_idx" ON "connection_events" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE INDEX "connection_events_connection_seq_idx" ON "connection_events" USING btree ("connection_id","seq");--> statement-breakpoint
CREATE INDEX "connection_events_occurred_idx" ON "connection_events" USING btree ("occurred_at");