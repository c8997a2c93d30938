/**
 * What the conformance case files share: the per-test store handle, a controllable clock, and small
 * assertions for domain errors and sealed bytes. Test support only; never imported by server code.
 */
import assert from "node:assert/strict";
import type { ConnectionInput, ConnectionRecord, EncryptedBlob, Store } from "../store.ts";

/** Epoch milliseconds at which every test's clock starts (2023-11-14). */
export const START_TIME_MS = 1_700_000_000_000;

/** The running test's store and clock, and the way cases are declared. */
export interface StoreHarness {
  /** The store of the running test. */
  store(): Store;
  /** The clock the store reads. */
  clock: { now(): number; advance(ms: number): number };
  /** Declares a case; skipped with its reason when the backend lists it. */
  test(name: string, fn: () => Promise<void>): void;
}

/** Asserts that `promise` rejects with an instance of `errorClass`, then runs `check` on it. */
export async function assertRejectsWith<E extends Error>(
  promise: Promise<unknown>,
  errorClass: abstract new (...args: never[]) => E,
  check: (error: E) => void = () => {},
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof errorClass, `expected ${errorClass.name}, got ${String(error)}`);
    check(error);
    return true;
  });
}

/** A sealed value with recognisable bytes; the store must return exactly these. */
export function sealed(text: string, keyId = "key-1"): EncryptedBlob {
  return { ciphertext: new Uint8Array(Buffer.from(`sealed:${text}`)), keyId };
}

/** The bytes of a sealed value as hex, for equality checks across Buffer and Uint8Array. */
export function hexOf(blob: EncryptedBlob | null | undefined): string | null {
  return blob ? Buffer.from(blob.ciphertext).toString("hex") : null;
}

/** Creates the tenant if needed, then a connection in it. */
export async function seedConnection(
  store: Store,
  tenantId: string,
  input: Partial<Omit<ConnectionInput, "tenantId">> = {},
): Promise<ConnectionRecord> {
  await store.ensureTenant({ id: tenantId });
  return store.createConnection({ userId: "user-1", providerName: "google", ...input, tenantId });
}

/** Reads every page of a list, asserting each page is at most `pageSize` long. */
export async function collectPages<T>(
  pageSize: number,
  list: (pageToken: string) => Promise<{ items: T[]; nextPageToken: string }>,
): Promise<{ items: T[]; pages: number }> {
  const items: T[] = [];
  let token = "";
  let pages = 0;
  do {
    const page = await list(token);
    assert.ok(page.items.length <= pageSize, `page of ${page.items.length} exceeds ${pageSize}`);
    items.push(...page.items);
    token = page.nextPageToken;
    pages += 1;
    assert.ok(pages < 1000, "paging does not end");
  } while (token !== "");
  return { items, pages };
}
