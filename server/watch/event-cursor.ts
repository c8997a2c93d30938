/**
 * The WatchConnections cursor: an opaque string for a position in the connection event log (a
 * seq). Opaque so the encoding can change; versioned so an old one is recognised. It is a position,
 * not a secret: it reveals only how many events the log has had.
 */
import { InvalidArgumentError } from "../domain/errors.ts";

const PREFIX = "cev1:";
/** Longest cursor text accepted before decoding (a cursor is ~16 characters). */
const MAX_CURSOR_LENGTH = 64;

/** The cursor of log position `seq`. */
export function encodeEventCursor(seq: number): string {
  return Buffer.from(`${PREFIX}${seq}`).toString("base64url");
}

/**
 * The log position of `cursor`. InvalidArgumentError(`field`) when it is not one of ours
 * (whatever else, never echoing more than the field name: a pasted secret stays out of errors).
 */
export function decodeEventCursor(cursor: string, field = "after_cursor"): number {
  const invalid = () => new InvalidArgumentError(field, "is not a cursor of this server (pass the `cursor` of a message you received)");
  if (cursor.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  if (!text.startsWith(PREFIX)) throw invalid();
  const digits = text.slice(PREFIX.length);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(digits)) throw invalid();
  const seq = Number(digits);
  if (!Number.isSafeInteger(seq)) throw invalid();
  // The canonical encoding only: two texts never name one position.
  if (encodeEventCursor(seq) !== cursor) throw invalid();
  return seq;
}
