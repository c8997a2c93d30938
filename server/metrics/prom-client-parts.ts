/**
 * The prom-client classes the server needs before it listens, each required from its own file.
 * prom-client's index loads every part, including its default process metrics and, through them,
 * the OpenTelemetry API (~80 modules, ~30 ms of CPU at start-up); `collectProcessMetrics` loads
 * the rest later. Same files, so the very classes `import { Counter } from "prom-client"` gives.
 */
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";

const requireCjs = createRequire(import.meta.url);

export const Registry = requireCjs("prom-client/lib/registry") as typeof PromClient.Registry;
export type Registry = PromClient.Registry;
export const Counter = requireCjs("prom-client/lib/counter") as typeof PromClient.Counter;
export type Counter<T extends string = string> = PromClient.Counter<T>;
export const Gauge = requireCjs("prom-client/lib/gauge") as typeof PromClient.Gauge;
export type Gauge<T extends string = string> = PromClient.Gauge<T>;
export const Histogram = requireCjs("prom-client/lib/histogram") as typeof PromClient.Histogram;
export type Histogram<T extends string = string> = PromClient.Histogram<T>;

/** Registers Node's default process metrics (prom-client's `collectDefaultMetrics`) on `registry`. */
export async function collectProcessMetrics(registry: Registry): Promise<void> {
  const { collectDefaultMetrics } = await import("prom-client");
  collectDefaultMetrics({ register: registry });
}
