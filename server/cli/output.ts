/**
 * Output helpers shared by the CLI commands: aligned tables for people, one JSON object per line
 * for scripts (the REST JSON of the API's own messages, so `--json` reads like `curl` of the REST
 * paths), and compact times.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";
import { toRestJson } from "../rest/rest-json.ts";

/** Writes `rows` (the first is the header) as left-aligned columns. */
export function writeTable(out: { write(text: string): unknown }, rows: readonly (readonly string[])[]): void {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const row of rows)
    out.write(
      `${row
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd()}\n`,
    );
}

/** Writes a message as one line of REST JSON. */
export function writeJsonLine<Desc extends DescMessage>(
  out: { write(text: string): unknown },
  schema: Desc,
  message: MessageShape<Desc>,
): void {
  out.write(`${JSON.stringify(toRestJson(schema, message))}\n`);
}

/** ISO 8601 to the second (e.g. 2026-12-04T21:30:17Z), or "" for no time. */
export function isoSeconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "" : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A Timestamp as {@link isoSeconds}. */
export function isoTimestamp(timestamp: Timestamp | undefined): string {
  return timestamp === undefined ? "" : isoSeconds(timestampMs(timestamp));
}

/** Unix seconds (0 = none) as {@link isoSeconds}. */
export function isoUnixSeconds(seconds: bigint): string {
  return seconds === 0n ? "" : isoSeconds(Number(seconds) * 1000);
}
