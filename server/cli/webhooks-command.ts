/**
 * `nexus webhooks create|list|rotate|delete|deliveries|replay`: webhook endpoints through the API
 * (WebhookService, admin keys). `create` and `rotate` print the signing secret once; nothing else
 * prints it. Exit codes: 0 done, 1 refused or unreachable, 2 usage.
 */
import {
  CreateWebhookEndpointResponseSchema,
  RotateWebhookSecretResponseSchema,
  WebhookDeliverySchema,
  WebhookEndpointSchema,
} from "../../gen/nexus/v1/webhooks_pb.ts";
import { createApiClients, describeFailure, SERVER_OPTIONS, serverTarget } from "./api-client.ts";
import { parseCommandArgs, usageError } from "./command-args.ts";
import { isoTimestamp, writeJsonLine, writeTable } from "./output.ts";
import type { CommandIo } from "./providers-plan.ts";

/** Usage text of `webhooks`. */
export const WEBHOOKS_USAGE = `usage: nexus webhooks <command> --tenant T [options]   (needs an admin key)

  create --target URL [--events connection.active,…] [--description D]
                           register an endpoint; prints its signing secret once
  list                     the tenant's endpoints and their delivery state
  rotate ENDPOINT_ID [--overlap-seconds N]
                           new signing secret (printed once); the old one keeps signing for N s
                           (default: the server's NEXUS_WEBHOOK_SECRET_OVERLAP_MS)
  delete ENDPOINT_ID       remove an endpoint and its failure list
  deliveries ENDPOINT_ID   the endpoint's failure list (events given up after the retry window)
  replay ENDPOINT_ID DELIVERY_ID
                           send a failed delivery again now (same webhook-id)

options: --json (one JSON object per line), --url URL (default $NEXUS_URL or http://127.0.0.1:8080),
         --api-key KEY (default $NEXUS_API_KEY)
`;

const COMMANDS = ["create", "list", "rotate", "delete", "deliveries", "replay"] as const;

/** Runs `nexus webhooks …` with `argv` after the word "webhooks"; returns the exit code. */
export async function runWebhooksCommand(argv: string[], io: CommandIo): Promise<number> {
  const parsed = parseCommandArgs(
    argv,
    {
      ...SERVER_OPTIONS,
      tenant: { type: "string" },
      // The endpoint URL; --url is the server's.
      target: { type: "string" },
      events: { type: "string" },
      description: { type: "string" },
      "overlap-seconds": { type: "string" },
      json: { type: "boolean" },
    },
    WEBHOOKS_USAGE,
    io,
    { allowPositionals: true },
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [command, first, second] = positionals;
  if (command === undefined || !(COMMANDS as readonly string[]).includes(command)) {
    return usageError(io, WEBHOOKS_USAGE, `unknown webhooks command "${command ?? ""}"`);
  }
  if (values.tenant === undefined) return usageError(io, WEBHOOKS_USAGE, "--tenant is required");
  const needs = { create: 0, list: 0, rotate: 1, delete: 1, deliveries: 1, replay: 2 }[command as (typeof COMMANDS)[number]];
  const given = [first, second].filter((p) => p !== undefined).length;
  if (given !== needs || positionals.length > needs + 1) return usageError(io, WEBHOOKS_USAGE, `webhooks ${command} takes ${needs} id(s)`);
  if (command === "create" && values.target === undefined) return usageError(io, WEBHOOKS_USAGE, "webhooks create needs --target URL");
  const overlap = values["overlap-seconds"] === undefined ? undefined : Number(values["overlap-seconds"]);
  if (overlap !== undefined && (!Number.isInteger(overlap) || overlap < 0)) {
    return usageError(io, WEBHOOKS_USAGE, "--overlap-seconds must be a whole number of seconds");
  }
  const target = serverTarget(values, io.env);
  if (typeof target === "string") return usageError(io, WEBHOOKS_USAGE, target);
  const { webhooks } = createApiClients(target);
  const tenantId = values.tenant;
  try {
    switch (command) {
      case "create": {
        const res = await webhooks.createWebhookEndpoint({
          tenantId,
          url: values.target!,
          eventTypes: values.events === undefined ? [] : values.events.split(",").map((e) => e.trim()),
          description: values.description ?? "",
        });
        if (values.json) writeJsonLine(io.stdout, CreateWebhookEndpointResponseSchema, res);
        else io.stdout.write(`endpoint ${res.endpoint?.endpointId}\nsecret   ${res.secret}   (shown once: give it to the receiver now)\n`);
        return 0;
      }
      case "rotate": {
        const res = await webhooks.rotateWebhookSecret({ tenantId, endpointId: first!, overlapSeconds: overlap });
        if (values.json) writeJsonLine(io.stdout, RotateWebhookSecretResponseSchema, res);
        else {
          const until = isoTimestamp(res.endpoint?.previousSecretExpireTime);
          io.stdout.write(
            `secret   ${res.secret}   (shown once)\n${until === "" ? "the old secret stopped signing" : `the old secret signs too until ${until}`}\n`,
          );
        }
        return 0;
      }
      case "list": {
        const endpoints = [];
        let pageToken = "";
        do {
          const page = await webhooks.listWebhookEndpoints({ tenantId, pageToken });
          endpoints.push(...page.endpoints);
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
        if (values.json) for (const e of endpoints) writeJsonLine(io.stdout, WebhookEndpointSchema, e);
        else
          writeTable(io.stdout, [
            ["ENDPOINT", "ENABLED", "URL", "EVENTS", "DELIVERED", "ATTEMPTS", "LAST ERROR"],
            ...endpoints.map((e) => [
              e.endpointId,
              String(e.enabled),
              e.url,
              e.eventTypes.join(",") || "*",
              String(e.deliveredSeq),
              String(e.attemptCount),
              e.lastError,
            ]),
          ]);
        return 0;
      }
      case "delete":
        await webhooks.deleteWebhookEndpoint({ tenantId, endpointId: first! });
        if (!values.json) io.stdout.write(`deleted ${first}\n`);
        return 0;
      case "deliveries": {
        const page = await webhooks.listWebhookDeliveries({ tenantId, endpointId: first! });
        if (values.json) for (const d of page.deliveries) writeJsonLine(io.stdout, WebhookDeliverySchema, d);
        else
          writeTable(io.stdout, [
            ["DELIVERY", "EVENT", "TYPE", "ATTEMPTS", "LAST ERROR", "FAILED AT", "REPLAYED AT"],
            ...page.deliveries.map((d) => [
              d.deliveryId,
              d.eventId,
              d.eventType,
              String(d.attemptCount),
              d.lastError,
              isoTimestamp(d.createTime),
              isoTimestamp(d.replayTime),
            ]),
          ]);
        return 0;
      }
      case "replay": {
        const res = await webhooks.replayWebhookDelivery({ tenantId, endpointId: first!, deliveryId: second! });
        const d = res.delivery!;
        if (values.json) writeJsonLine(io.stdout, WebhookDeliverySchema, d);
        else io.stdout.write(d.replayTime ? `delivered ${d.eventId}\n` : `failed again: ${d.lastError}\n`);
        return d.replayTime ? 0 : 1;
      }
    }
    return 2;
  } catch (err) {
    io.stderr.write(`nexus: ${describeFailure(err, target)}\n`);
    return 1;
  }
}
