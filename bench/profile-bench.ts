/**
 * Profiles the GetToken hot path: a Nexus child started with `--cpu-prof` takes gRPC then Connect
 * load from h2load, exits cleanly (so V8 writes the profile), and the top functions by self time are
 * reported. No figure: it explains the hot-path figures. The profile stays in bench/profiles/.
 */
import { mkdirSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import type { Benchmark } from "./bench-context.ts";
import { formatProfileSummary, summarizeCpuProfile } from "./cpu-profile-summary.ts";
import { load } from "./hot-path-bench.ts";
import { startHotPathRig } from "./hot-path-rig.ts";

/** Where profiles are kept (ignored by git: bench/.gitignore). */
const PROFILE_DIR = join(import.meta.dirname, "profiles");

/** The hot-path profile. */
export const profileBench: Benchmark = {
  name: "profile",
  tools: ["h2load"],
  async run(context) {
    const dir = join(PROFILE_DIR, new Date().toISOString().replaceAll(":", "-"));
    mkdirSync(dir, { recursive: true });
    const rig = await startHotPathRig(context, { withBaseline: false, nexusExecArgv: ["--cpu-prof", `--cpu-prof-dir=${dir}`] });
    try {
      await load(context, rig, "grpc", rig.nexus);
      await load(context, rig, "connect", rig.nexus);
    } finally {
      await rig.stop();
    }
    const file = readdirSync(dir)
      .filter((name) => name.endsWith(".cpuprofile"))
      .map((name) => join(dir, name))
      .sort((a, b) => statSync(b).size - statSync(a).size)[0];
    if (!file) throw new Error(`no .cpuprofile written in ${dir}`);
    const summary = summarizeCpuProfile(file, 15, join(import.meta.dirname, ".."));
    return {
      figures: [],
      extra: {
        profile: {
          file: relative(join(import.meta.dirname, ".."), file),
          note: "Nexus child under gRPC then Connect GetToken load (start-up included)",
          ...summary,
        },
      },
      report: `CPU profile of the GetToken hot path (${file}):\n${formatProfileSummary(summary)}`,
    };
  },
};
