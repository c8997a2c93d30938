/**
 * Writes one audit row per audited RPC (server/audit/audit-actions.ts lists them) when it ends,
 * with its final code: who (key id), tenant and connection (as the tenant scope noted them, else
 * from the messages), request id and client address. Streams are recorded when they end. It runs
 * innermost, so it sees domain errors before the error interceptor maps them, and maps them the
 * same way for the result. Requests refused before it (auth, limits) are audited by auth.
 * A call that hands out a credential is answered only once its row is accepted by the audit buffer
 * (`admit`); when the buffer is full it fails Unavailable instead (fail closed, see audit-writer.ts).
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { AUDITED_METHODS, type AuditFacts } from "../../audit/audit-actions.ts";
import type { AuditWriter } from "../../audit/audit-writer.ts";
import { type AuditTarget, kAuditTarget, kClientAddress, kPrincipal, kRequestId } from "../../request/context.ts";
import { printable } from "../../services/request-fields.ts";
import { toConnectError } from "../errors.ts";
import { codeLabel } from "./metrics-interceptor.ts";
import { observeStreamEnd } from "./stream-end.ts";

const ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** Creates the audit interceptor. */
export function createAuditInterceptor(deps: { audit: Pick<AuditWriter, "record" | "admit"> }): Interceptor {
  return (next) => async (req) => {
    const audited = AUDITED_METHODS[`${req.service.typeName}/${req.method.name}`];
    if (audited === undefined) return next(req);
    const target: AuditTarget = {};
    req.contextValues.set(kAuditTarget, target);
    const requestMessage = req.stream ? undefined : req.message;

    const record = (err: unknown, responseMessage: unknown) => {
      const principal = req.contextValues.get(kPrincipal);
      let facts: AuditFacts = {};
      try {
        facts = audited.facts?.(requestMessage, responseMessage) ?? {};
      } catch {
        // Facts are best effort: a message of an unexpected shape must not lose the row itself.
        facts = {};
      }
      const connectionId = target.connectionId ?? facts.connectionId ?? idFrom(requestMessage, "connectionId");
      const event = {
        action: audited.action,
        result: resultOf(err),
        keyId: principal?.keyId,
        tenantId: target.tenantId ?? validId(facts.tenantId) ?? principal?.tenantId,
        connectionId: validId(connectionId),
        requestId: req.contextValues.get(kRequestId),
        clientAddress: req.contextValues.get(kClientAddress),
        // Facts come from the request before its text is checked (input interceptor, inside this one).
        details: facts.details === undefined ? undefined : printableDetails(facts.details),
      };
      // Only a successful unary answer carries a credential; refusing it here throws before it leaves.
      if (err === undefined && audited.isCredentialDelivery === true && !req.stream) deps.audit.admit(event);
      else deps.audit.record(event);
    };

    let res;
    try {
      res = await next(req);
    } catch (err) {
      record(err, undefined);
      throw err;
    }
    if (!res.stream) {
      record(undefined, res.message);
      return res;
    }
    return { ...res, message: observeStreamEnd(res.message, (err) => record(err, undefined)) };
  };
}

function printableDetails(details: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(details).map(([key, value]) => [printable(key), printable(value)]));
}

/** "ok" or the final code's label, mapping domain errors as the error interceptor will. */
function resultOf(err: unknown): string {
  if (err === undefined) return "ok";
  const mapped = err instanceof ConnectError ? err : toConnectError(err).error;
  // A client that went away mid-stream is an ordinary end for the audit log, not a failure.
  return mapped.code === Code.Canceled ? "canceled" : codeLabel(mapped);
}

function idFrom(message: unknown, key: string): string | undefined {
  if (typeof message !== "object" || message === null) return undefined;
  const value = (message as Record<string, unknown>)[key];
  return typeof value === "string" ? value : undefined;
}

/** Ids come from requests: only well-formed ones are written (no arbitrary text in id columns). */
function validId(value: string | undefined): string | undefined {
  return value !== undefined && ID_PATTERN.test(value) ? value : undefined;
}
