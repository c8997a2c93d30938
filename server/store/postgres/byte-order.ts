/**
 * Byte-order text comparison for sort keys. SQLite compares text bytewise (BINARY), but a
 * PostgreSQL database usually collates by locale (en_US: "a" < "B"), which would make page order and
 * keyset comparisons disagree with SQLite and with JavaScript's string order. It builds no queries.
 */
import { type SQL, sql } from "drizzle-orm";
import type { PgColumn } from "drizzle-orm/pg-core";

/** `column COLLATE "C"`: for ORDER BY and for comparisons against a page cursor. */
export function byteOrder(column: PgColumn): SQL {
  return sql`${column} collate "C"`;
}
