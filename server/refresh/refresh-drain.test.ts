/**
 * The shutdown drain's budget: it must outlast the longest a flight can still run (lease wait,
 * provider call, then saving through a store outage or waiting for a previous holder).
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { DEFAULT_REFRESH_LEASE_MS as DEFAULT_LEASE_MS } from "../config/defaults.ts";
import { DEFAULT_PROVIDER_TIMEOUT_MS } from "../oauth/request-options.ts";
import { DEFAULT_SAVE_RETRY_MS, refreshDrainBudgetMs } from "./refresh-engine.ts";

it("the drain budget covers a worst-case flight with the defaults and follows the settings", () => {
  assert.ok(refreshDrainBudgetMs({ leaseMs: DEFAULT_LEASE_MS }) >= DEFAULT_LEASE_MS + DEFAULT_PROVIDER_TIMEOUT_MS + DEFAULT_SAVE_RETRY_MS);
  assert.ok(refreshDrainBudgetMs({ leaseMs: 20_000 }) >= 20_000 + DEFAULT_PROVIDER_TIMEOUT_MS + DEFAULT_SAVE_RETRY_MS);
  assert.ok(
    refreshDrainBudgetMs({ leaseMs: DEFAULT_LEASE_MS, saveRetryMs: 1_000, takeoverWaitMs: 40_000 }) >=
      DEFAULT_LEASE_MS + DEFAULT_PROVIDER_TIMEOUT_MS + 40_000,
  );
  assert.ok(
    refreshDrainBudgetMs({ leaseMs: DEFAULT_LEASE_MS, saveRetryMs: 90_000 }) >= DEFAULT_LEASE_MS + DEFAULT_PROVIDER_TIMEOUT_MS + 90_000,
  );
});
