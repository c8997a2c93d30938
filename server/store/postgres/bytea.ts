/**
 * The `bytea` column type for vault ciphertext (drizzle's pg-core has none built in).
 * It only converts bytes to the Buffer node-postgres binds and reads; it never looks inside them
 * or renders them into SQL text.
 */
import { customType } from "drizzle-orm/pg-core";
import { toBuffer } from "../rows/bind-bytes.ts";

/**
 * A `bytea` column holding raw bytes; reads come back as Buffers (which are Uint8Arrays).
 * @example ciphertext: bytea("ciphertext").notNull()
 */
export const bytea = customType<{ data: Uint8Array; driverData: Buffer }>({
  dataType: () => "bytea",
  toDriver: toBuffer,
  // node-postgres already parses bytea into a Buffer.
  fromDriver: (value) => value,
});
