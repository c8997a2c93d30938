/**
 * Webhook endpoints and the failure list in SQLite. Every lease claim and cursor move is one
 * `UPDATE … WHERE … RETURNING`, atomic across processes sharing the file; a cursor move and its
 * failure row are one transaction. It decides nothing about delivery; server/webhooks/ does.
 */
import { and, asc, desc, eq, gt, isNull, lt, lte, min, or, type SQL } from "drizzle-orm";
import { NotFoundError } from "../../domain/errors.ts";
import { PAGE_SPECS, parsePageRequest, toPage } from "../page-request.ts";
import {
  newWebhookDeliveryRow,
  newWebhookEndpointRow,
  toWebhookDelivery,
  toWebhookEndpoint,
  webhookAdvanceUpdate,
  webhookEndpointUpdate,
  webhookReplayUpdate,
  webhookRetryUpdate,
  webhookRotateUpdate,
} from "../rows/webhook-rows.ts";
import type { WebhookStore } from "../store.ts";
import { runQuery } from "./run-query.ts";
import { webhookDeliveries, webhookEndpoints } from "./schema.ts";
import type { SqliteStoreContext } from "./store-context.ts";

/** Creates the webhook methods of the SQLite store. */
export function createSqliteWebhookStore({ db, now, ids }: SqliteStoreContext): WebhookStore {
  const ofTenant = (tenantId: string, id: string) => and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId));
  const held = (id: string, owner: string) => and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.leaseOwner, owner));
  const requireEndpoint = (tenantId: string, id: string) => {
    const row = db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(ofTenant(tenantId, id)).get();
    if (!row) throw new NotFoundError("webhook_endpoint", id);
  };
  const freeOrMine = (owner: string, nowMs: number) =>
    or(isNull(webhookEndpoints.leaseExpiresAt), lte(webhookEndpoints.leaseExpiresAt, nowMs), eq(webhookEndpoints.leaseOwner, owner));
  const due = (nowMs: number) => or(isNull(webhookEndpoints.nextAttemptAt), lte(webhookEndpoints.nextAttemptAt, nowMs));

  return {
    createWebhookEndpoint: (input) => {
      const id = input.id ?? ids.newId("whe");
      return runQuery(
        () =>
          toWebhookEndpoint(
            db
              .insert(webhookEndpoints)
              .values(newWebhookEndpointRow(id, input, now()))
              .returning()
              .get(),
          ),
        {
          foreignKey: () => new NotFoundError("tenant", input.tenantId),
        },
      );
    },

    getWebhookEndpoint: (tenantId, id) =>
      runQuery(() => {
        const row = db.select().from(webhookEndpoints).where(ofTenant(tenantId, id)).get();
        if (!row) throw new NotFoundError("webhook_endpoint", id);
        return toWebhookEndpoint(row);
      }),

    listWebhookEndpoints: (tenantId, page) =>
      runQuery(() => {
        const spec = PAGE_SPECS.webhookEndpoints;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [eq(webhookEndpoints.tenantId, tenantId)];
        if (after) {
          const [createdAt, id] = after;
          conditions.push(
            or(lt(webhookEndpoints.createdAt, createdAt), and(eq(webhookEndpoints.createdAt, createdAt), lt(webhookEndpoints.id, id))),
          );
        }
        const rows = db
          .select()
          .from(webhookEndpoints)
          .where(and(...conditions))
          .orderBy(desc(webhookEndpoints.createdAt), desc(webhookEndpoints.id))
          .limit(size + 1)
          .all();
        return toPage(rows, size, spec, toWebhookEndpoint, (e) => [e.createdAtMs, e.id]);
      }),

    updateWebhookEndpoint: (tenantId, id, changes) =>
      runQuery(() => {
        const row = db.update(webhookEndpoints).set(webhookEndpointUpdate(changes, now())).where(ofTenant(tenantId, id)).returning().get();
        if (!row) throw new NotFoundError("webhook_endpoint", id);
        return toWebhookEndpoint(row);
      }),

    rotateWebhookSecret: (tenantId, id, next, previousExpiresAtMs) =>
      runQuery(() =>
        db.transaction((tx) => {
          const current = tx.select().from(webhookEndpoints).where(ofTenant(tenantId, id)).get();
          if (!current) throw new NotFoundError("webhook_endpoint", id);
          const secret = { ciphertext: current.secretCiphertext, keyId: current.secretKeyId };
          const row = tx
            .update(webhookEndpoints)
            .set(webhookRotateUpdate(secret, next, previousExpiresAtMs, now()))
            .where(ofTenant(tenantId, id))
            .returning()
            .get();
          return toWebhookEndpoint(row!);
        }),
      ),

    deleteWebhookEndpoint: (tenantId, id) =>
      runQuery(() => {
        const row = db.delete(webhookEndpoints).where(ofTenant(tenantId, id)).returning({ id: webhookEndpoints.id }).get();
        if (!row) throw new NotFoundError("webhook_endpoint", id);
      }),

    listDueWebhookEndpoints: (nowMs, limit, after) =>
      runQuery(() =>
        db
          .select()
          .from(webhookEndpoints)
          .where(
            and(
              eq(webhookEndpoints.isEnabled, true),
              due(nowMs),
              or(isNull(webhookEndpoints.leaseExpiresAt), lte(webhookEndpoints.leaseExpiresAt, nowMs)),
              after === undefined
                ? undefined
                : or(
                    gt(webhookEndpoints.createdAt, after.createdAtMs),
                    and(eq(webhookEndpoints.createdAt, after.createdAtMs), gt(webhookEndpoints.id, after.id)),
                  ),
            ),
          )
          .orderBy(asc(webhookEndpoints.createdAt), asc(webhookEndpoints.id))
          .limit(limit)
          .all()
          .map(toWebhookEndpoint),
      ),

    claimWebhookLease: (endpointId, owner, leaseMs, nowMs) =>
      runQuery(() => {
        const row = db
          .update(webhookEndpoints)
          .set({ leaseOwner: owner, leaseExpiresAt: nowMs + leaseMs })
          .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.isEnabled, true), due(nowMs), freeOrMine(owner, nowMs)))
          .returning()
          .get();
        return row ? toWebhookEndpoint(row) : null;
      }),

    releaseWebhookLease: (endpointId, owner) =>
      runQuery(() => {
        db.update(webhookEndpoints).set({ leaseOwner: null, leaseExpiresAt: null }).where(held(endpointId, owner)).run();
      }),

    advanceWebhookCursor: (endpointId, owner, seq, failure) =>
      runQuery(() =>
        db.transaction((tx) => {
          const row = tx
            .update(webhookEndpoints)
            .set(webhookAdvanceUpdate(seq))
            .where(and(held(endpointId, owner), lt(webhookEndpoints.cursorSeq, seq)))
            .returning({ tenantId: webhookEndpoints.tenantId })
            .get();
          if (!row) return false;
          if (failure)
            tx.insert(webhookDeliveries)
              .values(newWebhookDeliveryRow(ids.newId("whd"), endpointId, row.tenantId, failure, now()))
              .run();
          return true;
        }),
      ),

    recordWebhookRetry: (endpointId, owner, retry) =>
      runQuery(() => {
        const row = db
          .update(webhookEndpoints)
          .set(webhookRetryUpdate(retry))
          .where(held(endpointId, owner))
          .returning({ id: webhookEndpoints.id })
          .get();
        return row !== undefined;
      }),

    listWebhookDeliveries: (tenantId, endpointId, page) =>
      runQuery(() => {
        requireEndpoint(tenantId, endpointId);
        const spec = PAGE_SPECS.webhookDeliveries;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [eq(webhookDeliveries.endpointId, endpointId)];
        if (after) {
          const [createdAt, id] = after;
          conditions.push(
            or(lt(webhookDeliveries.createdAt, createdAt), and(eq(webhookDeliveries.createdAt, createdAt), lt(webhookDeliveries.id, id))),
          );
        }
        const rows = db
          .select()
          .from(webhookDeliveries)
          .where(and(...conditions))
          .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
          .limit(size + 1)
          .all();
        return toPage(rows, size, spec, toWebhookDelivery, (d) => [d.createdAtMs, d.id]);
      }),

    getWebhookDelivery: (tenantId, endpointId, id) =>
      runQuery(() => {
        requireEndpoint(tenantId, endpointId);
        const row = db
          .select()
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)))
          .get();
        if (!row) throw new NotFoundError("webhook_delivery", id);
        return toWebhookDelivery(row);
      }),

    oldestWebhookCursorSeq: () =>
      runQuery(() => {
        const row = db
          .select({ seq: min(webhookEndpoints.cursorSeq) })
          .from(webhookEndpoints)
          .where(eq(webhookEndpoints.isEnabled, true))
          .get();
        return row?.seq ?? null;
      }),

    recordWebhookReplay: (tenantId, endpointId, id, outcome) =>
      runQuery(() => {
        requireEndpoint(tenantId, endpointId);
        const row = db
          .update(webhookDeliveries)
          .set(webhookReplayUpdate(webhookDeliveries.attemptCount, outcome, now()))
          .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)))
          .returning()
          .get();
        if (!row) throw new NotFoundError("webhook_delivery", id);
        return toWebhookDelivery(row);
      }),
  };
}
