/** Reads a prom-client metric from a registry: the sum of the series matching `labels`. */
import type { Registry } from "prom-client";

/**
 * Sum of the values of `name` whose labels include `labels` (for histograms: the `_count` series).
 *
 * @example
 * assert.equal(await metricValue(registry, "bridge_connections_total", { agent_id: "a" }), 2);
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  let sum = 0;
  for (const value of values) {
    const metricName = (value as { metricName?: string }).metricName;
    if (metricName !== undefined && metricName !== name && metricName !== `${name}_count`) continue;
    if (Object.entries(labels).every(([k, v]) => String(value.labels[k]) === v)) sum += value.value;
  }
  return sum;
}
