/**
 * The Store conformance suite: one set of node:test cases that every backend must pass, run by each
 * backend's own `store.test.ts` (drizzle's shared-suite pattern). It only uses the `Store`
 * interface, never a backend's internals; a backend that must skip a case lists it by name with
 * the reason, and an unknown name in that list fails a case of its own.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { describeApiKeyCases } from "./conformance/api-key-cases.ts";
import { describeAuditCases } from "./conformance/audit-cases.ts";
import { describeConnectionCases } from "./conformance/connection-cases.ts";
import { describeConnectionEventCases } from "./conformance/connection-event-cases.ts";
import { describeConnectionStatusCases } from "./conformance/connection-status-cases.ts";
import { describeCredentialCases } from "./conformance/credential-cases.ts";
import { START_TIME_MS, type StoreHarness } from "./conformance/harness.ts";
import { describeLeaseCases } from "./conformance/lease-cases.ts";
import { describeProviderCases } from "./conformance/provider-cases.ts";
import { describeRefreshScheduleCases } from "./conformance/refresh-schedule-cases.ts";
import { describeSealedCases } from "./conformance/sealed-cases.ts";
import { describeStalePendingCases } from "./conformance/stale-pending-cases.ts";
import { describeTenantCases } from "./conformance/tenant-cases.ts";
import { describeWebhookCases } from "./conformance/webhook-cases.ts";
import type { Store } from "./store.ts";

/** What the suite passes to a backend's factory: the clock the store must read its times from. */
export interface StoreFactoryOptions {
  /** Epoch milliseconds; tests move it forward to get distinct, predictable timestamps. */
  now: () => number;
}

/** A fresh, empty store for one test, and how to dispose of it (close + delete its data). */
export interface StoreUnderTest {
  store: Store;
  cleanup(): Promise<void>;
}

/** Options of `describeStoreConformance`. */
export interface ConformanceOptions {
  /** Test name → reason, for cases this backend cannot pass. */
  skip?: Readonly<Record<string, string>>;
}

/**
 * Declares the conformance suite for one backend. `makeStore` is called before every test and
 * must return an empty store whose clock is `options.now`; `cleanup` runs after every test (it must
 * tolerate a store the test already closed).
 * @example describeStoreConformance("sqlite", async ({ now }) => { … return { store, cleanup }; });
 */
export function describeStoreConformance(
  name: string,
  makeStore: (options: StoreFactoryOptions) => Promise<StoreUnderTest>,
  options: ConformanceOptions = {},
): void {
  describe(`Store conformance: ${name}`, () => {
    let current: StoreUnderTest | undefined;
    let nowMs = START_TIME_MS;
    const declared = new Set<string>();

    beforeEach(async () => {
      nowMs = START_TIME_MS;
      current = await makeStore({ now: () => nowMs });
    });
    afterEach(async () => {
      const finished = current;
      current = undefined;
      await finished?.cleanup();
    });

    const harness: StoreHarness = {
      store() {
        if (!current) throw new Error("the store is only available inside a test");
        return current.store;
      },
      clock: {
        now: () => nowMs,
        advance(ms: number) {
          nowMs += ms;
          return nowMs;
        },
      },
      test(testName, fn) {
        if (declared.has(testName)) throw new Error(`duplicate conformance case name: ${testName}`);
        declared.add(testName);
        const reason = options.skip?.[testName];
        it(testName, reason === undefined ? {} : { skip: reason }, fn);
      },
    };

    describe("tenants", () => describeTenantCases(harness));
    describe("sealed values", () => describeSealedCases(harness));
    describe("abandoned consents", () => describeStalePendingCases(harness));
    describe("providers", () => describeProviderCases(harness));
    describe("connections", () => {
      describeConnectionCases(harness);
      describeConnectionStatusCases(harness);
    });
    describe("connection events", () => describeConnectionEventCases(harness));
    describe("credentials and consent states", () => describeCredentialCases(harness));
    describe("refresh leases and schedule", () => {
      describeLeaseCases(harness);
      describeRefreshScheduleCases(harness);
    });
    describe("webhook endpoints", () => describeWebhookCases(harness));
    describe("api keys", () => describeApiKeyCases(harness));
    describe("audit events", () => describeAuditCases(harness));
    describe("lifecycle", () => {
      harness.test("ping resolves on an open store", async () => {
        await harness.store().ping();
      });
      harness.test("close can be called twice", async () => {
        await harness.store().close();
        await harness.store().close();
      });
    });

    it("the skip list names only existing cases", () => {
      const unknown = Object.keys(options.skip ?? {}).filter((skipped) => !declared.has(skipped));
      assert.deepEqual(unknown, [], "skip list names unknown conformance cases");
    });
  });
}
