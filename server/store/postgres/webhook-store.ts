/**
 * Webhook endpoints and the failure list in PostgreSQL. Every lease claim and cursor move is one
 * `UPDATE … WHERE … RETURNING`: under READ COMMITTED a concurrent claimer of the same row waits for
 * the first, then re-checks the WHERE against the committed row and finds the lease taken. A cursor
 * move and its failure row are one transaction. It decides nothing about delivery.
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
import { byteOrder } from "./byte-order.ts";
import { runQuery } from "./run-query.ts";
import { webhookDeliveries, webhookEndpoints } from "./schema.ts";
import type { PostgresStoreContext } from "./store-context.ts";

/** Creates the webhook methods of the PostgreSQL store. */
export function createPostgresWebhookStore({ db, now, ids }: PostgresStoreContext): WebhookStore {
  const ofTenant = (tenantId: string, id: string) => and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.tenantId, tenantId));
  const held = (id: string, owner: string) => and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.leaseOwner, owner));
  const requireEndpoint = async (tenantId: string, id: string) => {
    const [row] = await db.select({ id: webhookEndpoints.id }).from(webhookEndpoints).where(ofTenant(tenantId, id));
    if (!row) throw new NotFoundError("webhook_endpoint", id);
  };
  const freeOrMine = (owner: string, nowMs: number) =>
    or(isNull(webhookEndpoints.leaseExpiresAt), lte(webhookEndpoints.leaseExpiresAt, nowMs), eq(webhookEndpoints.leaseOwner, owner));
  const due = (nowMs: number) => or(isNull(webhookEndpoints.nextAttemptAt), lte(webhookEndpoints.nextAttemptAt, nowMs));

  return {
    createWebhookEndpoint: (input) => {
      const id = input.id ?? ids.newId("whe");
      return runQuery(
        async () => {
          const [row] = await db
            .insert(webhookEndpoints)
            .values(newWebhookEndpointRow(id, input, now()))
            .returning();
          return toWebhookEndpoint(row!);
        },
        { foreignKey: () => new NotFoundError("tenant", input.tenantId) },
      );
    },

    getWebhookEndpoint: (tenantId, id) =>
      runQuery(async () => {
        const [row] = await db.select().from(webhookEndpoints).where(ofTenant(tenantId, id));
        if (!row) throw new NotFoundError("webhook_endpoint", id);
        return toWebhookEndpoint(row);
      }),

    listWebhookEndpoints: (tenantId, page) =>
      runQuery(async () => {
        const spec = PAGE_SPECS.webhookEndpoints;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [eq(webhookEndpoints.tenantId, tenantId)];
        if (after) {
          const [createdAt, id] = after;
          conditions.push(
            or(
              lt(webhookEndpoints.createdAt, createdAt),
              and(eq(webhookEndpoints.createdAt, createdAt), lt(byteOrder(webhookEndpoints.id), id)),
            ),
          );
        }
        const rows = await db
          .select()
          .from(webhookEndpoints)
          .where(and(...conditions))
          .orderBy(desc(webhookEndpoints.createdAt), desc(byteOrder(webhookEndpoints.id)))
          .limit(size + 1);
        return toPage(rows, size, spec, toWebhookEndpoint, (e) => [e.createdAtMs, e.id]);
      }),

    updateWebhookEndpoint: (tenantId, id, changes) =>
      runQuery(async () => {
        const [row] = await db
          .update(webhookEndpoints)
          .set(webhookEndpointUpdate(changes, now()))
          .where(ofTenant(tenantId, id))
          .returning();
        if (!row) throw new NotFoundError("webhook_endpoint", id);
        return toWebhookEndpoint(row);
      }),

    rotateWebhookSecret: (tenantId, id, next, previousExpiresAtMs) =>
      runQuery(() =>
        db.transaction(async (tx) => {
          const [current] = await tx.select().from(webhookEndpoints).where(ofTenant(tenantId, id)).for("update");
          if (!current) throw new NotFoundError("webhook_endpoint", id);
          const secret = { ciphertext: current.secretCiphertext, keyId: current.secretKeyId };
          const [row] = await tx
            .update(webhookEndpoints)
            .set(webhookRotateUpdate(secret, next, previousExpiresAtMs, now()))
            .where(ofTenant(tenantId, id))
            .returning();
          return toWebhookEndpoint(row!);
        }),
      ),

    deleteWebhookEndpoint: (tenantId, id) =>
      runQuery(async () => {
        const [row] = await db.delete(webhookEndpoints).where(ofTenant(tenantId, id)).returning({ id: webhookEndpoints.id });
        if (!row) throw new NotFoundError("webhook_endpoint", id);
      }),

    listDueWebhookEndpoints: (nowMs, limit, after) =>
      runQuery(async () => {
        const rows = await db
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
                    and(eq(webhookEndpoints.createdAt, after.createdAtMs), gt(byteOrder(webhookEndpoints.id), after.id)),
                  ),
            ),
          )
          .orderBy(asc(webhookEndpoints.createdAt), asc(byteOrder(webhookEndpoints.id)))
          .limit(limit);
        return rows.map(toWebhookEndpoint);
      }),

    claimWebhookLease: (endpointId, owner, leaseMs, nowMs) =>
      runQuery(async () => {
        const [row] = await db
          .update(webhookEndpoints)
          .set({ leaseOwner: owner, leaseExpiresAt: nowMs + leaseMs })
          .where(and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.isEnabled, true), due(nowMs), freeOrMine(owner, nowMs)))
          .returning();
        return row ? toWebhookEndpoint(row) : null;
      }),

    releaseWebhookLease: (endpointId, owner) =>
      runQuery(async () => {
        await db.update(webhookEndpoints).set({ leaseOwner: null, leaseExpiresAt: null }).where(held(endpointId, owner));
      }),

    advanceWebhookCursor: (endpointId, owner, seq, failure) =>
      runQuery(() =>
        db.transaction(async (tx) => {
          const [row] = await tx
            .update(webhookEndpoints)
            .set(webhookAdvanceUpdate(seq))
            .where(and(held(endpointId, owner), lt(webhookEndpoints.cursorSeq, seq)))
            .returning({ tenantId: webhookEndpoints.tenantId });
          if (!row) return false;
          if (failure) {
            await tx.insert(webhookDeliveries).values(newWebhookDeliveryRow(ids.newId("whd"), endpointId, row.tenantId, failure, now()));
          }
          return true;
        }),
      ),

    recordWebhookRetry: (endpointId, owner, retry) =>
      runQuery(async () => {
        const rows = await db
          .update(webhookEndpoints)
          .set(webhookRetryUpdate(retry))
          .where(held(endpointId, owner))
          .returning({ id: webhookEndpoints.id });
        return rows.length > 0;
      }),

    listWebhookDeliveries: (tenantId, endpointId, page) =>
      runQuery(async () => {
        await requireEndpoint(tenantId, endpointId);
        const spec = PAGE_SPECS.webhookDeliveries;
        const { size, after } = parsePageRequest(page, spec);
        const conditions: (SQL | undefined)[] = [eq(webhookDeliveries.endpointId, endpointId)];
        if (after) {
          const [createdAt, id] = after;
          conditions.push(
            or(
              lt(webhookDeliveries.createdAt, createdAt),
              and(eq(webhookDeliveries.createdAt, createdAt), lt(byteOrder(webhookDeliveries.id), id)),
            ),
          );
        }
        const rows = await db
          .select()
          .from(webhookDeliveries)
          .where(and(...conditions))
          .orderBy(desc(webhookDeliveries.createdAt), desc(byteOrder(webhookDeliveries.id)))
          .limit(size + 1);
        return toPage(rows, size, spec, toWebhookDelivery, (d) => [d.createdAtMs, d.id]);
      }),

    getWebhookDelivery: (tenantId, endpointId, id) =>
      runQuery(async () => {
        await requireEndpoint(tenantId, endpointId);
        const [row] = await db
          .select()
          .from(webhookDeliveries)
          .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)));
        if (!row) throw new NotFoundError("webhook_delivery", id);
        return toWebhookDelivery(row);
      }),

    oldestWebhookCursorSeq: () =>
      runQuery(async () => {
        const [row] = await db
          .select({ seq: min(webhookEndpoints.cursorSeq) })
          .from(webhookEndpoints)
          .where(eq(webhookEndpoints.isEnabled, true));
        return row?.seq === null || row?.seq === undefined ? null : Number(row.seq);
      }),

    recordWebhookReplay: (tenantId, endpointId, id, outcome) =>
      runQuery(async () => {
        await requireEndpoint(tenantId, endpointId);
        const [row] = await db
          .update(webhookDeliveries)
          .set(webhookReplayUpdate(webhookDeliveries.attemptCount, outcome, now()))
          .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.endpointId, endpointId)))
          .returning();
        if (!row) throw new NotFoundError("webhook_delivery", id);
        return toWebhookDelivery(row);
      }),
  };
}
