/**
 * Reads a V8 `.cpuprofile` (written by `node --cpu-prof`) and ranks functions by self time: the
 * time samples landed in the function itself, summed over every call site. Usable from the bench
 * and on its own: `node bench/cpu-profile-summary.ts FILE.cpuprofile [TOP]`.
 */
import { readFileSync } from "node:fs";
import { relative } from "node:path";

/** One function's share of the profile. */
export interface ProfileEntry {
  /** Function name ("(anonymous)", "(garbage collector)", "(program)" …). */
  functionName: string;
  /** Where it is defined, relative to the repository (node: built-ins as V8 names them). */
  location: string;
  selfMs: number;
  /** Self time as a share of all sampled time, percent. */
  selfPercent: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** The top `count` functions by self time (idle time excluded from the ranking, not from the total). */
export function summarizeCpuProfile(
  file: string,
  count = 15,
  root = process.cwd(),
): { totalMs: number; idleMs: number; top: ProfileEntry[] } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfMicros = new Map<string, { entry: Omit<ProfileEntry, "selfMs" | "selfPercent">; micros: number }>();
  let totalMicros = 0;
  let idleMicros = 0;
  profile.samples.forEach((nodeId, i) => {
    // timeDeltas[i] is the time since the previous sample; it is attributed to this sample's node.
    const micros = Math.max(0, profile.timeDeltas[i] ?? 0);
    totalMicros += micros;
    const frame = byId.get(nodeId)?.callFrame;
    if (!frame) return;
    if (frame.functionName === "(idle)") {
      idleMicros += micros;
      return;
    }
    const location = frame.url === "" ? "" : `${shortUrl(frame.url, root)}:${frame.lineNumber + 1}`;
    const key = `${frame.functionName}@${location}`;
    const slot = selfMicros.get(key) ?? { entry: { functionName: frame.functionName || "(anonymous)", location }, micros: 0 };
    slot.micros += micros;
    selfMicros.set(key, slot);
  });
  const top = [...selfMicros.values()]
    .sort((a, b) => b.micros - a.micros)
    .slice(0, count)
    .map(({ entry, micros }) => ({
      ...entry,
      selfMs: Math.round(micros / 100) / 10,
      selfPercent: totalMicros === 0 ? 0 : Math.round((micros / totalMicros) * 1000) / 10,
    }));
  return { totalMs: Math.round(totalMicros / 1000), idleMs: Math.round(idleMicros / 1000), top };
}

/** Renders the summary as a fixed-width table. */
export function formatProfileSummary(summary: ReturnType<typeof summarizeCpuProfile>): string {
  const lines = [
    `sampled ${summary.totalMs} ms, idle ${summary.idleMs} ms; top ${summary.top.length} by self time:`,
    `${"self ms".padStart(9)} ${"self %".padStart(7)}  function  (location)`,
  ];
  for (const entry of summary.top) {
    lines.push(
      `${entry.selfMs.toFixed(1).padStart(9)} ${entry.selfPercent.toFixed(1).padStart(7)}  ${entry.functionName}  ${entry.location ? `(${entry.location})` : ""}`,
    );
  }
  return lines.join("\n");
}

function shortUrl(url: string, root: string): string {
  if (!url.startsWith("file://")) return url;
  const path = relative(root, new URL(url).pathname);
  return path.startsWith("node_modules/") ? path.replace(/^node_modules\//, "") : path;
}

if (import.meta.main) {
  const [file, count] = process.argv.slice(2);
  if (!file) {
    process.stderr.write("usage: node bench/cpu-profile-summary.ts FILE.cpuprofile [TOP]\n");
    process.exit(2);
  }
  process.stdout.write(`${formatProfileSummary(summarizeCpuProfile(file, count ? Number(count) : 15))}\n`);
}
