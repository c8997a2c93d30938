/**
 * Keyset pagination shared by every backend: validates page sizes and turns the last row's sort key
 * into an opaque page token and back. Tokens are base64url JSON tagged with the list they belong to,
 * so a token from one list is rejected by another. It builds no queries.
 */
import { InvalidArgumentError } from "../domain/errors.ts";
import type { PageRequest } from "./store.ts";

/** The type of each part of a list's sort key. */
type KeyPart = "string" | "number";

/** The values of a sort key whose parts are typed by `T`. */
export type PageCursor<T extends readonly KeyPart[]> = { -readonly [K in keyof T]: T[K] extends "number" ? number : string };

/** How one list pages: its token tag, sort-key shape and size limits. */
export interface PageSpec<T extends readonly KeyPart[]> {
  /** Tag written into tokens, e.g. "connections". */
  list: string;
  /** Types of the sort-key parts, in order. */
  key: T;
  /** Page size when none is asked for. */
  defaultSize: number;
  /** Largest page size; larger requests are lowered to it (AIP-158). */
  maxSize: number;
}

/** A validated page request: how many rows to return and the sort key to start after. */
export interface ParsedPageRequest<T extends readonly KeyPart[]> {
  size: number;
  after: PageCursor<T> | null;
}

/** How each list of the Store pages; every backend uses these so tokens and limits agree. */
export const PAGE_SPECS = {
  /** By name. */
  providers: { list: "providers", key: ["string"], defaultSize: 50, maxSize: 500 },
  /** Newest first: createdAtMs, then id to break ties. */
  connections: { list: "connections", key: ["number", "string"], defaultSize: 50, maxSize: 500 },
  /** Newest first: createdAtMs, then id to break ties. */
  apiKeys: { list: "api_keys", key: ["number", "string"], defaultSize: 50, maxSize: 500 },
  /** Newest first by id, which increases with insertion. */
  auditEvents: { list: "audit_events", key: ["number"], defaultSize: 100, maxSize: 1000 },
  /** Newest first: createdAtMs, then id to break ties. */
  webhookEndpoints: { list: "webhook_endpoints", key: ["number", "string"], defaultSize: 50, maxSize: 500 },
  /** Newest first: createdAtMs, then id to break ties. */
  webhookDeliveries: { list: "webhook_deliveries", key: ["number", "string"], defaultSize: 50, maxSize: 500 },
} as const satisfies Record<string, PageSpec<readonly KeyPart[]>>;

/** Longest token accepted; real tokens are far shorter, so anything longer is not ours. */
const MAX_TOKEN_LENGTH = 2048;

/** Validates `page` for the list described by `spec`; InvalidArgumentError on a bad size or token. */
export function parsePageRequest<T extends readonly KeyPart[]>(page: PageRequest, spec: PageSpec<T>): ParsedPageRequest<T> {
  const requested = page.pageSize ?? 0;
  if (!Number.isInteger(requested) || requested < 0) {
    throw new InvalidArgumentError("page_size", "must be a non-negative integer");
  }
  const size = requested === 0 ? spec.defaultSize : Math.min(requested, spec.maxSize);
  const token = page.pageToken ?? "";
  return { size, after: token === "" ? null : decodePageToken(token, spec) };
}

/** Makes the token that continues `spec`'s list after the row whose sort key is `cursor`. */
export function createPageToken<T extends readonly KeyPart[]>(spec: PageSpec<T>, cursor: PageCursor<T>): string {
  return Buffer.from(JSON.stringify([spec.list, ...cursor]), "utf8").toString("base64url");
}

/**
 * Cuts a query result fetched with `size + 1` rows into a page: the extra row only proves there is
 * a next page, so the last page never carries a token that leads to an empty page.
 */
export function toPage<R, I, T extends readonly KeyPart[]>(
  rows: readonly R[],
  size: number,
  spec: PageSpec<T>,
  toItem: (row: R) => I,
  cursorOf: (item: I) => PageCursor<T>,
): { items: I[]; nextPageToken: string } {
  const items = rows.slice(0, size).map(toItem);
  const last = items.at(-1);
  const hasMore = rows.length > size && last !== undefined;
  return { items, nextPageToken: hasMore ? createPageToken(spec, cursorOf(last)) : "" };
}

function decodePageToken<T extends readonly KeyPart[]>(token: string, spec: PageSpec<T>): PageCursor<T> {
  const invalid = () => new InvalidArgumentError("page_token", "is not a page token of this list");
  if (token.length > MAX_TOKEN_LENGTH || !/^[A-Za-z0-9_-]+$/.test(token)) throw invalid();
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch (cause) {
    throw new InvalidArgumentError("page_token", "is not a page token of this list", { cause });
  }
  if (!Array.isArray(decoded) || decoded.length !== spec.key.length + 1 || decoded[0] !== spec.list) throw invalid();
  const parts: unknown[] = decoded.slice(1);
  const matches = spec.key.every((kind, i) => (kind === "number" ? Number.isSafeInteger(parts[i]) : typeof parts[i] === "string"));
  if (!matches) throw invalid();
  return parts as PageCursor<T>;
}
