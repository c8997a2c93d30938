/**
 * Tells a database outage from every other failure: a refused or reset connection, a server that is
 * shutting down or restarting (57P01–57P03), a connection-class error (08xxx), a pool that waited
 * too long for a connection, a database that did not answer a query in time (pg's query_timeout, or
 * the server's statement_timeout: 57014). These become StoreUnavailableError (Unavailable, 503) instead of a
 * fault: the request was fine, the database was not there. Messages here carry no query values.
 */

import { DrizzleQueryError } from "drizzle-orm/errors";
import { DatabaseError } from "pg";

/** Socket error codes that mean "the database cannot be reached right now". */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ECONNABORTED",
]);

/** SQLSTATEs of a server going away: admin/crash shutdown, cannot connect now, too many connections. */
const SERVER_GONE_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** SQLSTATE query_canceled: statement_timeout (store-pool.ts) ran out; the database is too slow now. */
const CANCELED_CODE = "57014";

/**
 * node-postgres and pg-pool failures that carry no code, matched by their fixed texts
 * (pg/lib/client.js, pg-pool/index.js).
 */
const CONNECTION_MESSAGES = [
  "Connection terminated",
  "timeout exceeded when trying to connect",
  "Client has encountered a connection error and is not queryable",
  "Client was closed and is not queryable",
];

/**
 * The short reason when `error` (or the error it wraps) is a database outage, else undefined.
 * @example outageReason(new Error("Connection terminated unexpectedly")) // "connection lost"
 */
export function outageReason(error: unknown): string | undefined {
  const cause = error instanceof DrizzleQueryError ? error.cause : error;
  if (!(cause instanceof Error)) return undefined;
  if (cause instanceof DatabaseError) {
    const code = cause.code ?? "";
    if (SERVER_GONE_CODES.has(code) || code.startsWith("08")) return `database answered ${code}`;
    if (code === CANCELED_CODE) return "database too slow (statement timeout)";
    // ALTER DATABASE … ALLOW_CONNECTIONS false: the database is closed to new sessions for now.
    if (code === "55000" && cause.message.includes("not currently accepting connections")) return "database not accepting connections";
    return undefined;
  }
  const code = (cause as { code?: unknown }).code;
  if (typeof code === "string" && NETWORK_CODES.has(code)) return `database unreachable (${code})`;
  // pg's query_timeout (store-pool.ts): the database, or the network to it, went silent.
  if (cause.message === "Query read timeout") return "database did not answer in time";
  if (CONNECTION_MESSAGES.some((m) => cause.message.startsWith(m))) return "connection lost";
  // An AggregateError (several addresses tried) is an outage when every attempt was one.
  if (cause instanceof AggregateError && cause.errors.length > 0 && cause.errors.every((e) => outageReason(e) !== undefined)) {
    return outageReason(cause.errors[0]);
  }
  return undefined;
}
