/**
 * Describes the machine a benchmark ran on, for results.json: figures are only comparable between
 * runs on like machines, and ratios against a same-run baseline are what carry across.
 */
import { spawnSync } from "node:child_process";
import os from "node:os";

/** The machine and toolchain of a run. */
export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  os: string;
  tools: Record<string, string>;
}

/** Reads the machine description (tool versions as the tools print them, or "missing"). */
export function describeMachine(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    memoryGiB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} ${os.arch()}${osName()}`,
    tools: { h2load: toolVersion("h2load", ["--version"]), wrk: toolVersion("wrk", ["-v"]) },
  };
}

function toolVersion(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error) return "missing";
  return `${result.stdout}${result.stderr}`.split("\n")[0]?.trim() ?? "unknown";
}

function osName(): string {
  const result = spawnSync("sh", ["-c", '. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME"'], { encoding: "utf8" });
  const name = result.stdout?.trim();
  return name ? ` (${name})` : "";
}
