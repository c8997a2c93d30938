/**
 * Renders figures as a Markdown table: readable in a terminal and pasted as is into the README's
 * Performance section.
 */
import type { Figure } from "./figure.ts";

/**
 * The figures as a Markdown table (value and baseline with their unit; ratio ours/baseline), plus
 * the floor and ratio ours/floor when any figure has a second, physical-floor baseline.
 */
export function formatFiguresTable(figures: readonly Figure[]): string {
  const hasFloor = figures.some((f) => f.floor !== undefined);
  const rows = figures.map((f) => [
    f.name,
    `${format(f.value)} ${f.unit}`,
    f.baseline === null ? "–" : `${format(f.baseline)} ${f.unit}`,
    f.ratio === null ? "–" : f.ratio.toFixed(2),
    ...(hasFloor
      ? [
          f.floor === undefined ? "–" : `${format(f.floor)} ${f.unit}`,
          f.floorRatio === undefined || f.floorRatio === null ? "–" : f.floorRatio.toFixed(2),
        ]
      : []),
    f.target ?? "–",
    f.holds === null ? "–" : f.holds ? "yes" : "**no**",
  ]);
  const header = [
    "figure",
    "value",
    "baseline (same run)",
    "ratio",
    ...(hasFloor ? ["floor (raw h2, same run)", "ratio to floor"] : []),
    "target",
    "holds",
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`, ...rows.map(line)].join("\n");
}

function format(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 10) return value.toFixed(1);
  return value.toFixed(2);
}
